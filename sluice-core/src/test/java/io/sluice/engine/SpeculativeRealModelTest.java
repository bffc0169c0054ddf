package io.sluice.engine;

import io.sluice.Fixtures;
import io.sluice.gguf.GGMLType;
import io.sluice.grammar.Grammar;
import io.sluice.grammar.JsonSchemaGrammar;
import io.sluice.grammar.TokenGrammar;
import io.sluice.grammar.TokenVocabulary;
import io.sluice.model.Model;
import io.sluice.model.Synth;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Greedy identity on real models: stories260K with prompt lookup, with stories260K-f16 as its draft,
 * and with both chosen per sequence (auto), and a self-made model the same ways, print token for
 * token what decoding without speculation prints, also under grammars; and a draft of another
 * vocabulary is refused by name.
 */
class SpeculativeRealModelTest {
    private static final String[] PROMPTS = {"Once upon a time", "Lily and Tom went to the park. Lily and Tom", "The cat sat on the mat. The cat",
            "One day, a little girl named Lily found a needle in her room."};

    private static EngineConfig config() {
        return new EngineConfig(0, 0, 16, GGMLType.F32, 256, 8, 64, 512);
    }

    /** Every prompt's greedy ids (120 tokens, or to EOS), all submitted at once (batched), through an engine with these settings. */
    private static List<List<Integer>> run(Model m, Speculation spec, Function<int[], GenerationRequest> request, boolean forceGuesses) throws Exception {
        return run(m, spec, request, forceGuesses, metrics -> { });
    }

    private static List<List<Integer>> run(Model m, Speculation spec, Function<int[], GenerationRequest> request, boolean forceGuesses,
                                           java.util.function.Consumer<EngineMetrics> atEnd) throws Exception {
        try (LlmEngine e = new LlmEngine(m, config(), spec)) {
            if (forceGuesses && e.draftPolicy() != null) e.draftPolicy().stepTimes.assume(1, 0);
            List<Collector> cs = new ArrayList<>();
            for (String p : PROMPTS) {
                Collector c = new Collector();
                e.submit(request.apply(m.tokenizer().encode(p, true, false)), c);
                cs.add(c);
            }
            List<List<Integer>> out = new ArrayList<>();
            for (Collector c : cs) {
                assertNotEquals(FinishReason.ERROR, c.await().reason(), c.finished.message());
                out.add(c.ids);
            }
            if (forceGuesses) assertTrue(e.metrics().draftedTokens() > 0, "guesses were verified: " + e.metrics());
            atEnd.accept(e.metrics());
            return out;
        }
    }

    private static void identical(Model m, Model draft, Function<int[], GenerationRequest> request) throws Exception {
        List<List<Integer>> plain = run(m, Speculation.OFF, request, false);
        assertEquals(plain, run(m, Speculation.ngram(6), request, true), "prompt lookup");
        if (draft != null) {
            assertEquals(plain, run(m, Speculation.draft(draft, 5), request, true), "draft model");
            assertEquals(plain, run(m, new Speculation(Speculation.Mode.AUTO, 5, 0, draft), request, true), "both, chosen per sequence");
        }
        // The adaptive policy on measured times decides differently, never the text.
        assertEquals(plain, run(m, Speculation.ngram(8), request, false), "prompt lookup, measured costs");
    }

    @Test
    void stories260KIsTheSameWithPromptLookupAndWithItsF16Draft() throws Exception {
        try (Model m = Model.load(Fixtures.model("stories260K.gguf")); Model draft = Model.load(Fixtures.model("stories260K-f16.gguf"))) {
            identical(m, draft, p -> GenerationRequest.greedy(p, 120));
            TokenVocabulary vocab = TokenVocabulary.of(m.tokenizer());
            TokenGrammar letters = TokenGrammar.compile(Grammar.parseGbnf("root ::= [a-z ]{1,80} \".\"\n"), vocab);
            identical(m, draft, p -> GenerationRequest.greedy(p, 120).withGrammar(letters));
            TokenGrammar json = TokenGrammar.compile(JsonSchemaGrammar.fromSchema(BatchedBench.TEN_PROPERTY_SCHEMA), vocab);
            identical(m, draft, p -> GenerationRequest.greedy(p, 200).withGrammar(json));
        }
    }

    @Test
    void autoOnStories260KGuessesFromBothSourcesAndPrintsTheSameText() throws Exception {
        try (Model m = Model.load(Fixtures.model("stories260K.gguf")); Model draft = Model.load(Fixtures.model("stories260K-f16.gguf"))) {
            Function<int[], GenerationRequest> request = p -> GenerationRequest.greedy(p, 120);
            List<EngineMetrics> seen = new ArrayList<>();
            assertEquals(run(m, Speculation.OFF, request, false), run(m, new Speculation(Speculation.Mode.AUTO, 6, 0, draft), request, true, seen::add));
            EngineMetrics e = seen.getFirst();
            // The stories repeat names and phrases (prompt lookup) and the f16 copy agrees with its target (the draft model).
            assertTrue(e.ngramDraftedTokens() > 0, "prompt lookup guessed: " + e);
            assertTrue(e.draftModelDraftedTokens() > 0 && e.draftModelAcceptedTokens() > 0.8 * e.draftModelDraftedTokens(), "the draft model too: " + e);
        }
    }

    @Test
    void aSelfMadeModelIsTheSameWithPromptLookupAndWithADraft(@TempDir Path dir) throws Exception {
        Path target = dir.resolve("tiny-f32.gguf"), draft = dir.resolve("tiny-q4.gguf");
        Synth.write(Synth.shape("tiny"), Synth.TypeSpec.parse("f32"), 5, target);
        // The same weights in another format: a draft that mostly agrees.
        Synth.write(Synth.shape("tiny"), Synth.TypeSpec.parse("q4_0"), 5, draft);
        try (Model m = Model.load(target); Model d = Model.load(draft)) {
            identical(m, d, p -> new GenerationRequest(p, SamplingParams.GREEDY, 100, List.of(), true, -1));
        }
    }

    @Test
    void aDraftOfAnotherVocabularyIsRefusedNamingTheFile(@TempDir Path dir) throws Exception {
        Path other = dir.resolve("tiny.gguf");
        Synth.write(Synth.shape("tiny"), Synth.TypeSpec.parse("q8_0"), 1, other);
        try (Model m = Model.load(Fixtures.model("stories260K.gguf")); Model d = Model.load(other)) {
            EngineException e = assertThrows(EngineException.class, () -> new LlmEngine(m, config(), Speculation.draft(d, 4)).close());
            assertTrue(e.getMessage().contains("tiny.gguf") && e.getMessage().contains("vocabulary"), e.getMessage());
        }
    }
}
