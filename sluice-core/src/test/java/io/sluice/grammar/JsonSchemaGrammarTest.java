package io.sluice.grammar;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * JSON Schema to grammar, judged by an independent validator (networknt json-schema-validator,
 * draft 2020-12, format assertions on): hundreds of random schemas, each sampled several times by
 * a random walk over the allowed tokens, and every document must parse and validate.
 */
class JsonSchemaGrammarTest {

    /** One random walk over allowed tokens until the grammar ends (or a step limit). */
    static String sample(TokenGrammar tg, List<byte[]> toks, int eos, SplittableRandom rng) {
        GrammarMatcher m = tg.newMatcher();
        long[] mask = new long[tg.maskWords()];
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int step = 0; step < 5000; step++) {
            if (m.isTerminated()) break;
            m.fillMask(mask);
            List<Integer> allowed = new ArrayList<>();
            for (int t = 0; t < toks.size(); t++) if ((mask[t >>> 6] & (1L << t)) != 0) allowed.add(t);
            if (allowed.isEmpty()) fail("no token allowed after '" + out.toString(StandardCharsets.UTF_8) + "'");
            // End as soon as allowed half the time, so documents stay short.
            int pick = allowed.contains(eos) && rng.nextBoolean() ? eos : allowed.get(rng.nextInt(allowed.size()));
            assertTrue(m.accept(pick));
            if (pick == eos) break;
            out.writeBytes(toks.get(pick));
        }
        assertTrue(m.canEnd() || m.isTerminated(), "the walk ended in a complete document: " + out.toString(StandardCharsets.UTF_8));
        return out.toString(StandardCharsets.UTF_8);
    }

    @Test
    void hundredsOfRandomSchemasOnlyProduceValidDocuments() {
        List<byte[]> toks = new ArrayList<>();
        TokenVocabulary v = GrammarMaskTest.testVocab(toks);
        int eos = toks.size() - 1;
        SplittableRandom rng = new SplittableRandom(2024);
        int documents = 0;
        for (int i = 0; i < 300; i++) {
            JsonNode schema = new RandomSchemas(rng.split()).schema();
            TokenGrammar tg;
            try {
                tg = TokenGrammar.compile(JsonSchemaGrammar.fromSchema(schema), v);
            } catch (GrammarException e) {
                throw new AssertionError("schema " + schema + " was refused: " + e.getMessage(), e);
            }
            for (int k = 0; k < 4; k++) {
                String doc = sample(tg, toks, eos, rng);
                List<String> errors = JsonValidator.errors(schema, doc);
                if (!errors.isEmpty()) fail("schema " + schema + "\ndocument " + doc + "\nerrors " + errors);
                documents++;
            }
        }
        assertEquals(1200, documents);
    }

    @Test
    void masksOfSchemaGrammarsAgreeWithTheEarleyRecognizer() {
        List<byte[]> toks = new ArrayList<>();
        TokenVocabulary v = GrammarMaskTest.testVocab(toks);
        SplittableRandom rng = new SplittableRandom(99);
        for (String s : List.of(
                "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"maxLength\":3},\"b\":{\"type\":\"integer\",\"minimum\":-5,\"maximum\":120}},\"required\":[\"a\"]}",
                "{\"type\":\"object\",\"properties\":{\"x\":{\"enum\":[\"ab\",\"b\\\"\",1]}},\"additionalProperties\":{\"type\":\"boolean\"}}",
                "{\"$defs\":{\"n\":{\"type\":\"object\",\"properties\":{\"k\":{\"anyOf\":[{\"$ref\":\"#/$defs/n\"},{\"type\":\"null\"}]}},\"required\":[\"k\"]}},\"$ref\":\"#/$defs/n\"}")) {
            Grammar g = JsonSchemaGrammar.fromSchema(s);
            TokenGrammar tg = TokenGrammar.compile(g, v);
            EarleyOracle oracle = new EarleyOracle(g);
            for (int run = 0; run < 3; run++) GrammarMaskTest.checkRandomWalk(tg, oracle, toks, toks.size() - 1, rng, 30, s);
        }
    }

    @Test
    void unsupportedKeywordsAreNamedWithTheirPath() {
        for (String[] c : new String[][]{
                {"{\"not\":{\"type\":\"string\"}}", "'not' at #"},
                {"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"array\",\"uniqueItems\":true}}}", "'uniqueItems' at #/properties/a"},
                {"{\"type\":\"object\",\"patternProperties\":{\"^x\":{}}}", "'patternProperties' at #"},
                {"{\"type\":\"number\",\"multipleOf\":2}", "'multipleOf' at #"},
                {"{\"if\":{},\"then\":{}}", "'if' at #"},
                {"{\"type\":\"string\",\"format\":\"hostname\"}", "format 'hostname' at #/format"},
                {"{\"$ref\":\"https://example.com/s.json\"}", "only local $ref"},
                {"{\"$ref\":\"#/$defs/missing\"}", "points to nothing"},
                {"{\"type\":\"string\",\"pattern\":\"(?=a)b\"}", "lookahead"},
                {"{\"type\":\"string\",\"pattern\":\"(a)\\\\1\"}", "back-references"},
                {"{\"type\":\"integer\",\"minimum\":5,\"maximum\":2}", "holds no integer"},
                {"{\"type\":\"object\",\"properties\":{\"a\":{}},\"required\":[\"b\"]}", "'b' is required but not in properties"},
                {"{\"type\":\"wat\"}", "unknown type 'wat'"},
                {"false", "is false"},
                {"{\"type\":", "not valid JSON"}}) {
            GrammarException e = assertThrows(GrammarException.class, () -> JsonSchemaGrammar.fromSchema(c[0]), c[0]);
            assertTrue(e.getMessage().contains(c[1]), c[0] + " -> " + e.getMessage());
        }
    }

    @Test
    void annotationsAndEmptySchemasAreAccepted() {
        for (String s : List.of("{}", "true", "{\"title\":\"x\",\"description\":\"d\",\"$schema\":\"https://json-schema.org/draft/2020-12/schema\"}",
                "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"description\":\"the a\",\"default\":\"x\",\"examples\":[\"y\"]}},\"x-extension\":1}")) {
            JsonSchemaGrammar.fromSchema(s);
        }
    }
}
