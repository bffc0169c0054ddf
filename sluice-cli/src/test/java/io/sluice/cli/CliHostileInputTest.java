package io.sluice.cli;

import io.sluice.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Absurd arguments and broken files: every failure is exit code 1 (2 for usage errors) and exactly one
 * stderr line "sluice: ..." naming the problem, with no stack trace, OutOfMemoryError or hang.
 */
@Timeout(120)
class CliHostileInputTest {
    /** Looked up per test, so a missing fixture skips that test loudly instead of failing the class. */
    private static String stories() {
        return Fixtures.model("stories260K.gguf").toString();
    }

    /** Runs the command and asserts the one-line failure contract; returns that line. */
    private static String fails(int code, String fragment, String... args) {
        CliTest.Result r = CliTest.run(args);
        String err = r.err().strip();
        assertEquals(code, r.code(), () -> String.join(" ", args) + " -> " + r.err());
        assertEquals(1, err.lines().count(), () -> "one line for " + String.join(" ", args) + ", got: " + r.err());
        assertTrue(err.startsWith("sluice: "), err);
        assertTrue(err.contains(fragment), () -> "'" + fragment + "' missing from: " + err);
        assertFalse(err.contains("\tat ") || err.contains("Exception:"), err);
        return err;
    }

    private static String[] run(String... extra) {
        String[] base = {"run", "-m", stories(), "-p", "Once", "-n", "2"};
        String[] all = Arrays.copyOf(base, base.length + extra.length);
        System.arraycopy(extra, 0, all, base.length, extra.length);
        return all;
    }

    @Test
    void usageErrorsAreOneLineWithExitCode2() {
        fails(2, "--temp", run("--temp", "inf"));
        fails(2, "--seed", run("--seed", "99999999999999999999999"));
        fails(2, "--bogus", run("--bogus"));
        fails(2, "--model", "run", "-p", "Once"); // without -p it is a chat (ChatCliTest)
        fails(2, "not both", "run", "-m", stories(), "-hf", "a/b", "-p", "x");
        fails(2, "'--tokens'", "logits", "-m", stories(), "--tokens", "1,,2", "--out", "x");
        fails(2, "bogus", "bogus");
    }

    @Test
    void absurdSamplingValuesNameTheParameter() {
        fails(1, "temperature", run("--temp", "NaN"));
        fails(1, "temperature", run("--temp", "-1"));
        fails(1, "top_p", run("--top-p", "2"));
        fails(1, "top_k", run("--top-k", "-5"));
        fails(1, "repeat_last_n", run("--repeat-last-n", "-7"));
        fails(1, "-t/--threads", run("-t", "0"));
        fails(1, "-t/--threads", run("-t", "100000"));
        fails(1, "-n must be", "run", "-m", stories(), "-p", "Once", "-n", "-5");
    }

    @Test
    void absurdEngineSizesAreRefusedBeforeAllocating() {
        fails(1, "not a size", run("--kv-memory", "1P"));
        fails(1, "not a size", run("--kv-memory", "garbage"));
        fails(1, "machine's memory", run("--kv-memory", "900T"));
        fails(1, "no room for the KV cache", run("--kv-memory", "1"));
        fails(1, "does not fit the memory budget", run("--memory-budget", "1K"));
        fails(1, "--kv-block-size", run("--kv-block-size", "0"));
        fails(1, "--kv-block-size", run("--kv-block-size", "100000"));
        fails(1, "--max-seqs", run("--max-seqs", "0"));
        fails(1, "--max-seqs", run("--max-seqs", "100000000"));
        fails(1, "--max-batched-tokens", run("--max-batched-tokens", "2000000000"));
        fails(1, "exceeds the model's context of 2048", run("-c", "100000"));
        fails(1, "the context holds 1", run("-c", "1"));
        fails(1, "q8_0", run("--kv-type", "q8_0"));
    }

    @Test
    void oddPromptsStillRun() {
        // A lone surrogate, NUL and emoji are just text; a window beyond the context means the whole context.
        for (String p : new String[]{"\uD800 x", "a\u0000b \uD83E\uDD80", ""}) {
            CliTest.Result r = CliTest.run("run", "-m", stories(), "-p", p, "-n", "2", "--temp", "0");
            assertEquals(0, r.code(), r.err());
        }
        CliTest.Result big = CliTest.run(run("--repeat-last-n", "2147483647", "--repeat-penalty", "1.3"));
        assertEquals(0, big.code(), big.err());
        fails(1, "context holds", "run", "-m", stories(), "-p", "Once upon a time ".repeat(200), "-n", "2", "-c", "64");
    }

    @Test
    void brokenFilesGiveOneReadableLine(@TempDir Path dir) throws Exception {
        fails(1, "is a directory", "run", "-m", dir.toString(), "-p", "x");
        fails(1, "file not found", "info", dir.resolve("nope.gguf").toString());
        Path empty = Files.createFile(dir.resolve("empty.gguf"));
        fails(1, "too short", "info", empty.toString());
        byte[] ok = Files.readAllBytes(Path.of(stories()));
        Path truncated = dir.resolve("truncated.gguf");
        Files.write(truncated, Arrays.copyOf(ok, ok.length / 2));
        fails(1, "truncated", "run", "-m", truncated.toString(), "-p", "x");
        // A corrupt length turns megabytes of binary into a "name": the line stays short and printable.
        byte[] bad = ok.clone();
        int at = indexOf(bad, "blk.1.ffn_norm.weight".getBytes()) - 8;
        bad[at + 2] = 0x01; // name length 21 -> 65557, reaching into the following tensor records
        Path corrupt = dir.resolve("corrupt.gguf");
        Files.write(corrupt, bad);
        String line = fails(1, "corrupt.gguf", "run", "-m", corrupt.toString(), "-p", "x");
        assertTrue(line.length() < Main.MAX_MESSAGE_CHARS + 40, "cut: " + line.length());
        assertTrue(line.chars().noneMatch(c -> c < 0x20), "no control characters: " + line);
    }

    private static int indexOf(byte[] hay, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= hay.length; i++) {
            for (int j = 0; j < needle.length; j++) if (hay[i + j] != needle[j]) continue outer;
            return i;
        }
        throw new IllegalStateException("not found");
    }

    @Test
    void otherCommandsCheckTheirArgumentsUpFront(@TempDir Path dir) throws Exception {
        fails(1, "outside the vocabulary", "logits", "-m", stories(), "--tokens", "-1", "--out", dir.resolve("o").toString());
        fails(1, "does not exist", "logits", "-m", stories(), "--tokens", "1", "--out", dir.resolve("no/such/o").toString());
        fails(1, "is a directory", "logits", "-m", stories(), "--tokens", "1", "--out", dir.toString());
        fails(1, "is a directory", "tokenize", "-m", stories(), "-f", dir.toString());
        fails(1, "exceeds the model's context", "bench", "-m", stories(), "--batched", "-npp", "100000", "-ntg", "1", "-npl", "1");
        fails(1, "must be positive", "bench", "-m", stories(), "--batched", "-npp", "8", "-ntg", "1", "-npl", "0");
        fails(1, "--max-seqs", "bench", "-m", stories(), "--batched", "-npp", "8", "-ntg", "1", "-npl", "100000");
        fails(1, "or --dummy SHAPE:TYPE", "bench");
        long before = tempDummies();
        fails(1, "unknown shape", "bench", "--dummy", "nope:q4_0");
        assertEquals(before, tempDummies(), "a bad --dummy leaves no temp file behind");
        fails(1, "does not exist", "synth", "--shape", "tiny", "--type", "f32", "-o", dir.resolve("no/such.gguf").toString());
        fails(1, "--port", "serve", "-m", stories(), "--port", "99999");
        fails(1, "--host", "serve", "-m", stories(), "--host", "256.1.1.1", "--port", "18199");
    }

    private static long tempDummies() throws Exception {
        try (var s = Files.list(Path.of(System.getProperty("java.io.tmpdir")))) {
            return s.filter(p -> p.getFileName().toString().startsWith("sluice-dummy-")).count();
        }
    }

    @Test
    void oneLineEscapesAndCuts() {
        assertEquals("a b\\x00c\\x07", Main.oneLine("a\nb\u0000c\u0007"));
        assertEquals("\\ud800x \uD83D\uDE00", Main.oneLine("\uD800x \uD83D\uDE00"));
        String cut = Main.oneLine("y".repeat(10_000));
        assertTrue(cut.endsWith("... (cut)") && cut.length() < Main.MAX_MESSAGE_CHARS + 20, cut);
    }
}
