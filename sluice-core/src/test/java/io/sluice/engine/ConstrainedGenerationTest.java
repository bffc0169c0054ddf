package io.sluice.engine;

import com.fasterxml.jackson.databind.JsonNode;
import io.sluice.Fixtures;
import io.sluice.gguf.GGMLType;
import io.sluice.grammar.Grammar;
import io.sluice.grammar.JsonSchemaGrammar;
import io.sluice.grammar.JsonValidator;
import io.sluice.grammar.RandomSchemas;
import io.sluice.grammar.TokenGrammar;
import io.sluice.grammar.TokenVocabulary;
import io.sluice.model.Model;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Constrained decoding through the engine on a real model (stories260K, which has never seen
 * JSON): sampled at temperature 1 with several seeds, many sequences in one continuous batch, each
 * with its own schema and grammar state; every answer must be valid by an independent validator.
 */
class ConstrainedGenerationTest {
    static Model model;
    static LlmEngine engine;
    static TokenVocabulary vocab;
    static int[] prompt;

    @BeforeAll
    static void start() {
        model = Model.load(Fixtures.model("stories260K.gguf"));
        engine = new LlmEngine(model, new EngineConfig(0, 0, 16, GGMLType.F32, 256, 16, 256, 512));
        vocab = TokenVocabulary.of(model.tokenizer());
        prompt = model.tokenizer().encode("Once upon a time", true, false);
    }

    @AfterAll
    static void stop() {
        if (engine != null) engine.close();
        if (model != null) model.close();
    }

    static SamplingParams temperature1(long seed) {
        return new SamplingParams(1f, 0, 1f, 0f, 1f, 0f, 0f, 64, seed, Map.of());
    }

    @Test
    void randomSchemasSampledAtTemperatureOneAlwaysValidate() throws Exception {
        SplittableRandom rng = new SplittableRandom(11);
        List<JsonNode> schemas = new ArrayList<>();
        List<Collector> results = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            JsonNode schema = new RandomSchemas(rng.split()).schema();
            TokenGrammar g = TokenGrammar.compile(JsonSchemaGrammar.fromSchema(schema), vocab);
            for (long seed = 1; seed <= 2; seed++) {
                // Top-k 40 makes the mask come first; plain temperature draws first and checks.
                SamplingParams sp = seed == 1 ? temperature1(i) : new SamplingParams(1f, 40, 0.95f, 0f, 1f, 0f, 0f, 64, i, Map.of());
                Collector c = new Collector();
                engine.submit(new GenerationRequest(prompt, sp, 480, List.of(), false, -1, g), c);
                schemas.add(schema);
                results.add(c);
            }
        }
        for (int i = 0; i < results.size(); i++) {
            Collector c = results.get(i);
            GenerationEvent.Finished f = c.await();
            int at = i;
            assertEquals(FinishReason.STOP, f.reason(), () -> "finished by the grammar or EOS: " + f + " schema " + schemas.get(at) + " text " + c.text);
            List<String> errors = JsonValidator.errors(schemas.get(i), c.text.toString());
            if (!errors.isEmpty()) fail("schema " + schemas.get(i) + "\nanswer " + c.text + "\nerrors " + errors);
        }
    }

    @Test
    void aCompleteGrammarEndsTheSequenceWithoutWaitingForEos() throws Exception {
        TokenGrammar g = TokenGrammar.compile(Grammar.parseGbnf("root ::= \" yes\" | \" no\" | \" maybe so\"\n"), vocab);
        for (long seed = 0; seed < 6; seed++) {
            Collector c = new Collector();
            // ignore_eos: only the grammar can end it, and must.
            engine.submit(new GenerationRequest(prompt, temperature1(seed), 100, List.of(), true, -1, g), c);
            assertEquals(FinishReason.STOP, c.await().reason());
            assertTrue(List.of(" yes", " no", " maybe so").contains(c.text.toString()), c.text.toString());
        }
    }

    @Test
    void greedyUnderAGrammarThatAllowsTheTextIsUnchanged() throws Exception {
        Collector free = new Collector(), constrained = new Collector();
        engine.submit(GenerationRequest.greedy(prompt, 40), free);
        free.await();
        TokenGrammar any = TokenGrammar.compile(Grammar.parseGbnf("root ::= [^\\x00]*\n"), vocab);
        engine.submit(GenerationRequest.greedy(prompt, 40).withGrammar(any), constrained);
        constrained.await();
        assertEquals(free.ids, constrained.ids);
    }

    @Test
    void greedyUnderARestrictiveGrammarFollowsTheMaskedArgmax() throws Exception {
        // Only lower-case letters and spaces, ending in a full stop: greedy must pick the best allowed token each step.
        TokenGrammar g = TokenGrammar.compile(Grammar.parseGbnf("root ::= [a-z ]{1,60} \".\"\n"), vocab);
        Collector c = new Collector();
        engine.submit(new GenerationRequest(prompt, SamplingParams.GREEDY, 100, List.of(), false, -1, g), c);
        assertEquals(FinishReason.STOP, c.await().reason());
        assertTrue(c.text.toString().matches("[a-z ]{1,60}\\.?"), c.text.toString());
    }

    @Test
    void aGrammarForAnotherVocabularyIsRefused() {
        TokenVocabulary other = TokenVocabulary.of(new byte[][]{{'a'}, {}}, new java.util.BitSet());
        TokenGrammar g = TokenGrammar.compile(Grammar.parseGbnf("root ::= \"a\"\n"), other);
        EngineException e = assertThrows(EngineException.class, () -> engine.submit(GenerationRequest.greedy(prompt, 4).withGrammar(g), new Collector()));
        assertEquals(EngineException.Kind.INVALID_REQUEST, e.kind());
    }
}
