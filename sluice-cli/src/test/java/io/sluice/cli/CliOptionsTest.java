package io.sluice.cli;

import io.sluice.Fixtures;
import io.sluice.gguf.GGMLType;
import io.sluice.gguf.GGUFFile;
import io.sluice.gguf.GGUFValue;
import io.sluice.gguf.GGUFValueType;
import io.sluice.gguf.GGUFWriter;
import io.sluice.gguf.TensorInfo;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Help on every subcommand, strict UTF-8 input files, durations, and error messages that name what is wrong. */
@Timeout(120)
class CliOptionsTest {
    private static String stories() {
        return Fixtures.model("stories260K.gguf").toString();
    }

    private static String fails(String fragment, String... args) {
        CliTest.Result r = CliTest.run(args);
        String err = r.err().strip();
        assertTrue(r.code() != 0, () -> String.join(" ", args) + " should fail: " + r.err());
        assertEquals(1, err.lines().count(), r.err());
        assertTrue(err.contains(fragment), () -> "'" + fragment + "' missing from: " + err);
        return err;
    }

    @Test
    void everySubcommandAnswersHelpAndDashH() {
        List<String> names = new ArrayList<>(new CommandLine(new Main()).getSubcommands().keySet());
        assertTrue(names.containsAll(List.of("serve", "run", "info", "tokenize", "logits", "bench", "synth")), names.toString());
        names.remove("help");
        for (String name : names) {
            for (String flag : new String[]{"--help", "-h"}) {
                CliTest.Result r = CliTest.run(name, flag);
                assertEquals(0, r.code(), () -> name + " " + flag + ": " + r.err());
                assertTrue(r.out().startsWith("Usage: sluice " + name), () -> name + " " + flag + ": " + r.out());
                assertTrue(r.err().isEmpty(), r.err());
            }
        }
        // serve has a required option: help must not be refused for lacking it.
        CliTest.Result serve = CliTest.run("serve", "--help");
        assertTrue(serve.out().contains("--drain-timeout") && serve.out().contains("--max-connections-per-client")
                && serve.out().contains("--metrics-public"), serve.out());
        assertEquals(0, CliTest.run("serve", "-V").code());
    }

    @Test
    void inputFilesMustBeStrictUtf8(@TempDir Path dir) throws Exception {
        int[][] bad = {{0xC0, 0xAF}, {0xED, 0xA0, 0x80}, {0xF4, 0x90, 0x80, 0x80}, {0xFF}, {0xE2, 0x82}};
        for (int[] seq : bad) {
            byte[] content = new byte[3 + seq.length];
            content[0] = 'a';
            content[1] = 'b';
            content[2] = 'c';
            for (int i = 0; i < seq.length; i++) content[3 + i] = (byte) seq[i];
            Path f = dir.resolve("bad.txt");
            Files.write(f, content);
            String line = fails("bad.txt", "tokenize", "-m", stories(), "-f", f.toString());
            assertTrue(line.contains("not valid UTF-8 at byte offset 3"), line);
        }
        Path good = dir.resolve("good.txt");
        Files.writeString(good, "caf\u00e9 \uD83D\uDE00 \uDBFF\uDFFF");
        CliTest.Result r = CliTest.run("tokenize", "-m", stories(), "-f", good.toString());
        assertEquals(0, r.code(), r.err());
        Path template = dir.resolve("t.jinja");
        Files.write(template, new byte[]{'{', '{', (byte) 0xC0, (byte) 0x80, '}', '}'});
        fails("t.jinja", "serve", "-m", stories(), "--chat-template-file", template.toString(), "--port", "0");
    }

    @Test
    void durationsParseAndNameTheirFlag() {
        assertEquals(Duration.ofMillis(500), Options.duration("--x", "500ms"));
        assertEquals(Duration.ofSeconds(30), Options.duration("--x", "30s"));
        assertEquals(Duration.ofSeconds(30), Options.duration("--x", "30"));
        assertEquals(Duration.ofMinutes(2), Options.duration("--x", "2m"));
        assertEquals(Duration.ofMillis(1500), Options.duration("--x", "1.5s"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Options.duration("--drain-timeout", "soon"));
        assertTrue(e.getMessage().contains("--drain-timeout") && e.getMessage().contains("soon"), e.getMessage());
        fails("--drain-timeout", "serve", "-m", stories(), "--drain-timeout", "-1s", "--port", "0");
        fails("--idle-timeout must be positive", "serve", "-m", stories(), "--idle-timeout", "0", "--port", "0");
        fails("--max-connections-per-client", "serve", "-m", stories(), "--max-connections-per-client", "0", "--port", "0");
        fails("--kv-memory", "run", "-m", stories(), "-p", "x", "--kv-memory", "lots");
    }

    @Test
    void smallSizesAreNotRoundedToZero() {
        String line = fails("no room for the KV cache", "run", "-m", stories(), "-p", "x", "-n", "1", "--kv-memory", "1K");
        assertTrue(line.contains("--kv-memory gives 1.0 KiB") && line.contains("takes 10.0 KiB"), line);
        assertFalse(line.contains(" 0.0 "), line);
        line = fails("--kv-memory", "run", "-m", stories(), "-p", "x", "-n", "1", "--kv-memory", "100");
        assertTrue(line.contains("100 bytes"), line);
    }

    /** A copy of stories260K with one metadata value or tensor replaced. */
    private static Path variant(Path dir, String name, String key, GGUFValue value, String tensor, GGMLType type) throws Exception {
        Path out = dir.resolve(name);
        try (GGUFFile f = GGUFFile.open(Path.of(stories()))) {
            GGUFWriter w = new GGUFWriter();
            f.metadata().forEach((k, v) -> {
                if (!k.equals("general.alignment")) w.put(k, k.equals(key) ? value : v);
            });
            List<TensorInfo> ts = new ArrayList<>(f.tensors().values());
            ts.sort(Comparator.comparingLong(TensorInfo::offset));
            for (TensorInfo t : ts) {
                if (t.name().equals(tensor)) w.addTensor(t.name(), type, t.dims(), new byte[(int) type.byteSize(t.elementCount())]);
                else w.addTensor(t.name(), t.type(), t.dims(), f.data(t));
            }
            w.write(out);
        }
        return out;
    }

    @Test
    void brokenModelsNameTheFileAndTheKeyOrTensor(@TempDir Path dir) throws Exception {
        Path scalar = variant(dir, "scalar-tokens.gguf", "tokenizer.ggml.tokens", GGUFValue.of(GGUFValueType.UINT32, 7), null, null);
        String line = fails("scalar-tokens.gguf", "run", "-m", scalar.toString(), "-p", "x");
        assertTrue(line.contains("tokenizer.ggml.tokens"), line);
        assertFalse(line.contains("Argument is not an array"), line);
        Path i8 = variant(dir, "i8-norm.gguf", null, null, "blk.0.attn_norm.weight", GGMLType.I8);
        line = fails("i8-norm.gguf", "run", "-m", i8.toString(), "-p", "x");
        assertTrue(line.contains("blk.0.attn_norm.weight") && line.contains("I8"), line);
    }

    @Test
    void theBudgetCoversTheJavaRuntime() {
        // This test JVM's heap limit alone is larger than a 1 GiB budget: refused, naming the heap and the launcher.
        String line = fails("memory budget of 1.0 GiB", "run", "-m", stories(), "-p", "x", "--memory-budget", "1G");
        assertTrue(line.contains("heap limit") && line.contains("JVM overhead") && line.contains("-Xmx"), line);
        assertTrue(CliTest.run("run", "--help").out().replaceAll("\\s+", " ").contains("budget for the whole process"));
    }
}
