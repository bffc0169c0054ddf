package io.sluice.grammar;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SpecificationVersion;
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
    static final ObjectMapper JSON = new ObjectMapper();
    static final SchemaRegistry REGISTRY = SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_2020_12);

    /** The validator's verdict: empty when valid, else its messages. */
    static List<String> validate(JsonNode schema, String document) {
        JsonNode doc;
        try {
            doc = JSON.readTree(document);
        } catch (Exception e) {
            return List.of("not JSON: " + e.getMessage());
        }
        Schema s = REGISTRY.getSchema(schema.toString());
        return s.validate(doc, ctx -> ctx.executionConfig(c -> c.formatAssertionsEnabled(true))).stream().map(Object::toString).toList();
    }

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
            JsonNode schema = new SchemaGen(rng.split()).schema(0);
            TokenGrammar tg;
            try {
                tg = TokenGrammar.compile(JsonSchemaGrammar.fromSchema(schema), v);
            } catch (GrammarException e) {
                throw new AssertionError("schema " + schema + " was refused: " + e.getMessage(), e);
            }
            for (int k = 0; k < 4; k++) {
                String doc = sample(tg, toks, eos, rng);
                List<String> errors = validate(schema, doc);
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

    /** Random bounded schemas: every path through them ends, so every random walk finishes a document. */
    static final class SchemaGen {
        final SplittableRandom rng;
        final ObjectNode defs = JSON.createObjectNode();

        SchemaGen(SplittableRandom rng) {
            this.rng = rng;
        }

        JsonNode schema(int depth) {
            ObjectNode s = any(depth);
            if (defs.size() > 0) s.set("$defs", defs);
            return s;
        }

        ObjectNode any(int depth) {
            int kinds = depth >= 3 ? 6 : 11;
            return switch (rng.nextInt(kinds)) {
                case 0 -> string();
                case 1 -> integer();
                case 2 -> number();
                case 3 -> obj("type", "boolean");
                case 4 -> enumeration();
                case 5 -> typeList();
                case 6, 7 -> object(depth);
                case 8 -> array(depth);
                case 9 -> anyOf(depth);
                default -> ref(depth);
            };
        }

        ObjectNode obj(String k, String v) {
            ObjectNode o = JSON.createObjectNode();
            o.put(k, v);
            return o;
        }

        ObjectNode string() {
            ObjectNode s = obj("type", "string");
            switch (rng.nextInt(4)) {
                case 0 -> {
                    String[] patterns = {"^[a-z]{1,4}$", "^\\d{3}-\\d{2}$", "^(yes|no|maybe)$", "[A-Z][a-z]{0,3}", "^\\w{2}\\.\\w?$", "^[^a-c\"]{0,3}$", "^(ab)+$"};
                    String p = patterns[rng.nextInt(patterns.length)];
                    if (p.equals("^(ab)+$")) p = "^(ab){1,3}$";
                    s.put("pattern", p);
                }
                case 1 -> {
                    String[] formats = {"date", "time", "date-time", "uuid", "email", "ipv4"};
                    s.put("format", formats[rng.nextInt(formats.length)]);
                }
                default -> {
                    int min = rng.nextInt(3);
                    if (rng.nextBoolean()) s.put("minLength", min);
                    s.put("maxLength", min + rng.nextInt(5));
                }
            }
            return s;
        }

        ObjectNode integer() {
            ObjectNode s = obj("type", "integer");
            long lo = rng.nextInt(-1000, 1000);
            long hi = lo + rng.nextInt(0, 3000);
            if (rng.nextBoolean()) s.put(rng.nextBoolean() ? "minimum" : "exclusiveMinimum", lo);
            if (rng.nextBoolean()) s.put(rng.nextBoolean() ? "maximum" : "exclusiveMaximum", hi + 2);
            return s;
        }

        ObjectNode number() {
            ObjectNode s = obj("type", "number");
            if (rng.nextBoolean()) {
                double lo = rng.nextInt(-50, 50) + (rng.nextBoolean() ? 0.5 : 0);
                s.put(rng.nextBoolean() ? "minimum" : "exclusiveMinimum", lo);
                if (rng.nextBoolean()) s.put(rng.nextBoolean() ? "maximum" : "exclusiveMaximum", lo + 2 + rng.nextInt(100));
            }
            return s;
        }

        ObjectNode enumeration() {
            ObjectNode s = JSON.createObjectNode();
            ArrayNode e = s.putArray("enum");
            e.add("red").add("gr\"een").add(7).add(JSON.nullNode()).add(2.5).add("日本");
            if (rng.nextBoolean()) e.add(JSON.createObjectNode().put("k", 1));
            if (rng.nextBoolean()) s.put("type", "string");
            return s;
        }

        ObjectNode typeList() {
            ObjectNode s = JSON.createObjectNode();
            s.putArray("type").add("integer").add("null");
            s.put("maximum", 99);
            return s;
        }

        ObjectNode object(int depth) {
            ObjectNode s = obj("type", "object");
            ObjectNode props = s.putObject("properties");
            ArrayNode req = JSON.createArrayNode();
            String[] names = {"a", "name", "with space", "q\"uote", "ünï", "x_1", "back\\slash", "n"};
            int n = 1 + rng.nextInt(4);
            for (int i = 0; i < n; i++) {
                String name = names[rng.nextInt(names.length)];
                if (props.has(name)) continue;
                props.set(name, any(depth + 1));
                if (rng.nextBoolean()) req.add(name);
            }
            if (!req.isEmpty()) s.set("required", req);
            int extra = rng.nextInt(6);
            if (extra == 0) s.put("additionalProperties", false);
            else if (extra == 1 && depth >= 2) s.set("additionalProperties", obj("type", "boolean"));
            if (rng.nextInt(8) == 0) s.putArray("type").add("object").add("null");
            return s;
        }

        ObjectNode array(int depth) {
            ObjectNode s = obj("type", "array");
            if (rng.nextInt(5) == 0) {
                ArrayNode prefix = s.putArray("prefixItems");
                prefix.add(any(depth + 1)).add(obj("type", "boolean"));
                s.put("items", false);
                return s;
            }
            s.set("items", any(depth + 1));
            int min = rng.nextInt(3);
            s.put("minItems", min);
            s.put("maxItems", min + rng.nextInt(3));
            return s;
        }

        ObjectNode anyOf(int depth) {
            ObjectNode s = JSON.createObjectNode();
            ArrayNode alts = s.putArray(rng.nextBoolean() ? "anyOf" : "oneOf");
            // Alternatives of different types, so oneOf's "exactly one" holds too.
            alts.add(string());
            alts.add(rng.nextBoolean() ? object(depth + 1) : obj("type", "null"));
            return s;
        }

        ObjectNode ref(int depth) {
            String name = "d" + defs.size();
            defs.set(name, object(depth + 1));
            return obj("$ref", "#/$defs/" + name);
        }
    }
}
