package io.sluice.model.tokenizer;

import io.sluice.Fixtures;
import io.sluice.gguf.GGUFFile;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;

/** Reads the llama.cpp vocabulary fixtures (ggml-vocab-NAME.gguf with its .inp/.out test strings). */
final class VocabFixtures {
    private VocabFixtures() {
    }

    private static final byte[] SEPARATOR = "\n__ggml_vocab_test__\n".getBytes(StandardCharsets.UTF_8);
    private static final Map<String, Tokenizer> CACHE = new ConcurrentHashMap<>();

    /** One test string and the ids llama.cpp produced for it. */
    record Case(int index, String text, int[] expected) {
    }

    /** Names (the NAME in ggml-vocab-NAME.gguf) of every vocabulary fixture that has .inp and .out files; skips when absent. */
    static List<String> names() {
        Path dir = Fixtures.dir().resolve("vocab");
        try (Stream<Path> files = Files.list(dir)) {
            return files.map(p -> p.getFileName().toString())
                    .filter(n -> n.startsWith("ggml-vocab-") && n.endsWith(".gguf"))
                    .filter(n -> Files.exists(dir.resolve(n + ".inp")) && Files.exists(dir.resolve(n + ".out")))
                    .map(n -> n.substring("ggml-vocab-".length(), n.length() - ".gguf".length()))
                    .sorted()
                    .toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static Path gguf(String name) {
        return Fixtures.vocab("ggml-vocab-" + name + ".gguf");
    }

    /** The tokenizer of a fixture, loaded once per test run. */
    static Tokenizer tokenizer(String name) {
        Path p = gguf(name);
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.exists(p), "vocab fixture missing: " + p);
        return CACHE.computeIfAbsent(name, n -> {
            try (GGUFFile f = GGUFFile.open(p)) {
                return Tokenizer.fromGGUF(f);
            }
        });
    }

    static List<Case> cases(String name) {
        try {
            byte[] inp = Files.readAllBytes(Fixtures.vocab("ggml-vocab-" + name + ".gguf.inp"));
            List<String> out = Files.readAllLines(Fixtures.vocab("ggml-vocab-" + name + ".gguf.out"), StandardCharsets.UTF_8);
            List<String> texts = splitInputs(inp);
            if (texts.size() != out.size()) {
                throw new IllegalStateException(name + ": " + texts.size() + " test strings but " + out.size() + " expected lines");
            }
            List<Case> cases = new ArrayList<>();
            for (int i = 0; i < texts.size(); i++) {
                String line = out.get(i).strip();
                int[] ids = line.isEmpty() ? new int[0] : Arrays.stream(line.split("\\s+")).mapToInt(Integer::parseInt).toArray();
                cases.add(new Case(i, texts.get(i), ids));
            }
            return cases;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Splits the raw bytes at the separator line; a trailing separator ends the last string. */
    static List<String> splitInputs(byte[] b) {
        List<String> parts = new ArrayList<>();
        int start = 0;
        for (int i = 0; i + SEPARATOR.length <= b.length; ) {
            if (Arrays.equals(b, i, i + SEPARATOR.length, SEPARATOR, 0, SEPARATOR.length)) {
                parts.add(new String(b, start, i - start, StandardCharsets.UTF_8));
                i += SEPARATOR.length;
                start = i;
            } else {
                i++;
            }
        }
        if (start < b.length) parts.add(new String(b, start, b.length - start, StandardCharsets.UTF_8));
        return parts;
    }

    static String show(String s) {
        StringBuilder sb = new StringBuilder("\"");
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '\n' -> sb.append("\\n");
                case '\t' -> sb.append("\\t");
                case '\r' -> sb.append("\\r");
                default -> sb.append(c);
            }
        }
        return sb.append('"').toString();
    }
}
