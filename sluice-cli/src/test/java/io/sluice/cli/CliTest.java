package io.sluice.cli;

import io.sluice.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The commands end to end, in-process, on the fixture files. */
class CliTest {
    record Result(int code, String out, String err) {
    }

    static synchronized Result run(String... args) {
        PrintStream oldOut = System.out, oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int code = Main.execute(args);
            return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    @Test
    void tokenizeMatchesLlamaCppIdsForEachFile(@TempDir Path dir) throws Exception {
        Path vocab = Fixtures.vocab("ggml-vocab-llama-spm.gguf");
        Path a = dir.resolve("a.txt"), b = dir.resolve("b.txt"), c = dir.resolve("c.txt");
        Files.writeString(a, "Hello world");
        Files.writeString(b, "");
        Files.writeString(c, " <s> is plain text");
        Result r = run("tokenize", "-m", vocab.toString(), "--no-bos", "-f", a.toString(), b.toString(), c.toString());
        assertEquals(0, r.code(), r.err());
        String[] lines = r.out().split("\n", -1);
        assertEquals(4, lines.length, "three lines and a final newline: " + r.out());
        // "Hello world" with llama-spm: the fixtures' expected ids for the same string.
        assertEquals(expectedIds(vocab, "Hello world"), lines[0]);
        assertEquals("", lines[1]);
        assertTrue(!lines[2].contains(" 1 ") && !lines[2].startsWith("1 "), "<s> must not become BOS without --parse-special: " + lines[2]);
        Result special = run("tokenize", "-m", vocab.toString(), "--no-bos", "--parse-special", "-p", "<s>");
        assertEquals("1", special.out().trim());
        Result bos = run("tokenize", "-m", vocab.toString(), "-p", "Hello world");
        assertEquals("1 " + lines[0], bos.out().trim());
    }

    @Test
    void templatePrintsThePromptOfAConversation(@TempDir Path dir) throws Exception {
        Path tmpl = dir.resolve("t.jinja"), conv = dir.resolve("c.json"), arr = dir.resolve("a.json");
        Files.writeString(tmpl, "{% for m in messages %}[{{ m.role }}:{{ m.content }}{% for c in m.tool_calls or [] %} {{ c.function.arguments|tojson }}{% endfor %}]"
                + "{% endfor %}{{ tools|length if tools else 0 }}{% if enable_thinking is defined %}T{{ enable_thinking }}{% endif %}{% if add_generation_prompt %}>{% endif %}");
        Files.writeString(conv, "{\"messages\":[{\"role\":\"user\",\"content\":\"{{ 7*7 }}\"},{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"1\","
                + "\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\\\": 1}\"}}]}],"
                + "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}]}");
        Result r = run("template", "--chat-template-file", tmpl.toString(), "--messages", conv.toString(), "--kwargs", "{\"enable_thinking\": false}");
        assertEquals(0, r.code(), r.err());
        assertEquals("[user:{{ 7*7 }}][assistant: {\"a\": 1}]1TFalse>", r.out());
        Files.writeString(arr, "[{\"role\":\"user\",\"content\":\"hi\"}]");
        Result noGen = run("template", "--chat-template-file", tmpl.toString(), "--messages", arr.toString(), "--no-generation-prompt");
        assertEquals("[user:hi]0", noGen.out());
        Result chatml = run("template", "-m", Fixtures.model("stories260K.gguf").toString(), "--messages", arr.toString());
        assertEquals(0, chatml.code(), chatml.err());
        assertEquals("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n", chatml.out());
        Files.writeString(arr, "[{\"role\":\"wizard\",\"content\":\"hi\"}]");
        Result bad = run("template", "--chat-template-file", tmpl.toString(), "--messages", arr.toString());
        assertEquals(1, bad.code());
        assertTrue(bad.err().startsWith("sluice: ") && bad.err().contains("messages[0].role"), bad.err());
        Files.writeString(tmpl, "{% for %}");
        Result broken = run("template", "--chat-template-file", tmpl.toString(), "--messages", conv.toString());
        assertTrue(broken.code() == 1 && broken.err().startsWith("sluice: chat template: "), broken.err());
    }

    /** The fixture's expected ids for one of its test strings. */
    static String expectedIds(Path vocab, String text) throws Exception {
        byte[] raw = Files.readAllBytes(Path.of(vocab + ".inp"));
        String[] inputs = new String(raw, StandardCharsets.UTF_8).split("\n__ggml_vocab_test__\n", -1);
        String[] outs = Files.readString(Path.of(vocab + ".out")).split("\n");
        for (int i = 0; i < inputs.length; i++) if (inputs[i].equals(text)) return outs[i].strip();
        throw new IllegalStateException("no fixture string " + text);
    }

    @Test
    void logitsCommandWritesFixtureLayout(@TempDir Path dir) throws Exception {
        Path model = Fixtures.model("tiny-llama-f32.gguf");
        String tokens = Files.readString(Fixtures.model("prompt-tokens.txt")).trim();
        Path out = dir.resolve("l.f32");
        Result r = run("logits", "-m", model.toString(), "--tokens", tokens, "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        float[] got = floats(out), want = floats(Fixtures.model("tiny-llama-f32.logits.f32"));
        assertEquals(want.length, got.length);
        double max = 0;
        for (int i = 0; i < got.length; i++) max = Math.max(max, Math.abs(got[i] - want[i]));
        assertTrue(max < 1e-3, "max diff " + max);
    }

    static float[] floats(Path p) throws Exception {
        ByteBuffer bb = ByteBuffer.wrap(Files.readAllBytes(p)).order(ByteOrder.LITTLE_ENDIAN);
        float[] f = new float[bb.remaining() / 4];
        bb.asFloatBuffer().get(f);
        return f;
    }

    /** bench --dummy needs no file, prints llama-bench's JSON fields, and leaves nothing behind. */
    @Test
    void benchDummyPrintsLlamaBenchJson() throws Exception {
        java.util.Set<String> before = dummies();
        Result r = run("bench", "--dummy", "tiny:q8_0", "-p", "16", "-n", "4", "-r", "2", "-o", "json", "-t", "1");
        assertEquals(0, r.code(), r.err());
        com.fasterxml.jackson.databind.JsonNode rows = new com.fasterxml.jackson.databind.ObjectMapper().readTree(r.out());
        assertEquals(2, rows.size(), r.out());
        assertEquals(16, rows.get(0).get("n_prompt").asInt());
        assertEquals(0, rows.get(0).get("n_gen").asInt());
        assertEquals(4, rows.get(1).get("n_gen").asInt());
        for (com.fasterxml.jackson.databind.JsonNode row : rows) {
            assertEquals(1, row.get("n_threads").asInt());
            assertTrue(row.get("avg_ts").asDouble() > 0 && row.get("stddev_ts").asDouble() >= 0, row.toString());
        }
        assertEquals(before, dummies(), "the dummy model file is deleted");
    }

    /** -d runs each test after that many tokens of context, -gp PP,TG is tg TG at depth PP; both reported as llama-bench's n_depth. */
    @Test
    void benchAtDepthReportsNDepth() throws Exception {
        Result r = run("bench", "--dummy", "tiny:q8_0", "-p", "16", "-n", "4", "-d", "0,40", "-gp", "24,3", "-r", "2", "-o", "json", "-t", "1");
        assertEquals(0, r.code(), r.err());
        com.fasterxml.jackson.databind.JsonNode rows = new com.fasterxml.jackson.databind.ObjectMapper().readTree(r.out());
        assertEquals(5, rows.size(), r.out());
        int[][] want = {{16, 0, 0}, {0, 4, 0}, {16, 0, 40}, {0, 4, 40}, {0, 3, 24}};
        for (int i = 0; i < want.length; i++) {
            com.fasterxml.jackson.databind.JsonNode row = rows.get(i);
            assertEquals(want[i][0], row.get("n_prompt").asInt(), row.toString());
            assertEquals(want[i][1], row.get("n_gen").asInt(), row.toString());
            assertEquals(want[i][2], row.get("n_depth").asInt(), row.toString());
            assertEquals(2, row.get("samples_ns").size(), row.toString());
            assertTrue(row.get("avg_ns").asLong() > 0 && row.get("test_time").asText().endsWith("Z"), row.toString());
        }
        // One cache for all tests, by increasing depth: the context is extended to 24, then to 40, once each.
        assertEquals(java.util.List.of("depth 24 filled", "depth 40 filled"), r.err().lines().filter(l -> l.contains(" filled in "))
                .map(l -> l.replaceAll(".*(depth \\d+ filled).*", "$1")).toList(), r.err());
        Result md = run("bench", "--dummy", "tiny:q8_0", "-p", "0", "-n", "2", "-d", "8", "-r", "1", "-t", "1");
        assertEquals(0, md.code(), md.err());
        assertTrue(md.out().contains("tg2 @ d8"), md.out());
        for (String[] bad : new String[][]{{"-gp", "8"}, {"-gp", "8,x"}, {"-gp", "-1,4"}, {"-d", "-3"}}) {
            String[] args = {"bench", "--dummy", "tiny:q8_0", bad[0], bad[1], "-r", "1"};
            Result e = run(args);
            assertEquals(1, e.code(), String.join(" ", bad));
            assertTrue(e.err().contains(bad[0]), e.err());
        }
    }

    static java.util.Set<String> dummies() throws Exception {
        java.util.Set<String> names = new java.util.TreeSet<>();
        for (Path dir : new Path[]{Path.of("/dev/shm"), Path.of(System.getProperty("java.io.tmpdir"))}) {
            if (!Files.isDirectory(dir)) continue;
            try (var s = Files.list(dir)) {
                s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("sluice-dummy-")).forEach(names::add);
            }
        }
        return names;
    }

    @Test
    void runWithBothDraftSourcesPrintsTheSameTextAndEachSourcesCounts() {
        String model = Fixtures.model("stories260K.gguf").toString(), draft = Fixtures.model("stories260K-f16.gguf").toString();
        Result plain = run("run", "-m", model, "-p", "Once upon a time", "-n", "64", "--temp", "0");
        Result auto = run("run", "-m", model, "-p", "Once upon a time", "-n", "64", "--temp", "0", "--speculate", "auto", "-md", draft);
        assertEquals(0, auto.code(), auto.err());
        assertEquals(plain.out(), auto.out(), "greedy text is the same");
        assertTrue(auto.err().matches("(?s).*speculation \\(auto\\): drafted \\d+ \\| accepted \\d+ \\| acceptance rate .*"
                + " \\| ngram: drafted \\d+, accepted \\d+ \\(.*\\) \\| draft model: drafted \\d+, accepted \\d+ \\(.*"), auto.err());
    }

    @Test
    void infoPrintsMetadataAndTensors() {
        Result r = run("info", Fixtures.model("stories260K.gguf").toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("general.architecture") && r.out().contains("blk.0.attn_q.weight"), r.out());
    }

    @Test
    void corruptFileGivesOneClearLine(@TempDir Path dir) throws Exception {
        Path bad = dir.resolve("bad.gguf");
        Files.write(bad, new byte[]{'G', 'G', 'U', 'F', 3, 0, 0, 0, 1});
        for (String[] args : new String[][]{{"info", bad.toString()}, {"tokenize", "-m", bad.toString(), "-p", "x"},
                {"logits", "-m", bad.toString(), "--tokens", "1", "--out", dir.resolve("o").toString()}}) {
            Result r = run(args);
            assertEquals(1, r.code(), args[0]);
            assertTrue(r.err().startsWith("sluice: ") && r.err().contains("bad.gguf"), r.err());
            assertTrue(!r.err().contains("\tat "), "no stack trace: " + r.err());
        }
        Result missing = run("info", dir.resolve("nope.gguf").toString());
        assertEquals(1, missing.code());
        assertTrue(missing.err().contains("nope.gguf"), missing.err());
    }

    @Test
    void badArgumentsAreRejectedClearly() {
        Result r = run("logits", "-m", Fixtures.model("tiny-llama-f32.gguf").toString(), "--tokens", "1,99999", "--out", "/dev/null");
        assertEquals(1, r.code());
        assertTrue(r.err().contains("99999"), r.err());
    }
}
