package io.sluice.model.tokenizer;

import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Every vocabulary fixture: each test string must tokenize to exactly llama.cpp's ids (no BOS/EOS,
 * special-token text as plain text, as llama.cpp's test-tokenizer-0 does).
 */
class TokenizerConformanceTest {

    /** The vocabularies the fixtures README promises; the listing below must not silently shrink. */
    private static final List<String> REQUIRED = List.of("llama-spm", "phi-3", "gpt-2", "falcon", "deepseek-llm", "starcoder", "bert-bge");

    @Test
    void requiredVocabulariesArePresent() {
        List<String> names = VocabFixtures.names();
        for (String n : REQUIRED) assertTrue(names.contains(n), "vocab fixture " + n + " missing from " + names);
    }

    @TestFactory
    Stream<DynamicTest> everyVocabularyMatchesLlamaCpp() {
        return VocabFixtures.names().stream().map(name -> DynamicTest.dynamicTest(name, () -> {
            Tokenizer tok = VocabFixtures.tokenizer(name);
            List<VocabFixtures.Case> cases = VocabFixtures.cases(name);
            assertTrue(cases.size() > 10, name + ": suspiciously few test strings: " + cases.size());
            List<String> mismatches = new ArrayList<>();
            for (VocabFixtures.Case c : cases) {
                int[] got = tok.encode(c.text(), false, false);
                if (!Arrays.equals(got, c.expected())) {
                    mismatches.add("#" + c.index() + " " + VocabFixtures.show(c.text())
                            + "\n    expected " + Arrays.toString(c.expected()) + "\n    got      " + Arrays.toString(got));
                }
            }
            if (!mismatches.isEmpty()) {
                fail(name + ": " + mismatches.size() + " of " + cases.size() + " strings differ from llama.cpp:\n" + String.join("\n", mismatches));
            }
        }));
    }

    /** A long input must cost milliseconds: merges use a priority queue, nothing is quadratic. */
    @TestFactory
    Stream<DynamicTest> longInputsAreFast() {
        return Stream.of("llama-spm", "gpt-2", "deepseek-llm", "bert-bge").map(name -> DynamicTest.dynamicTest(name, () -> {
            Tokenizer tok = VocabFixtures.tokenizer(name);
            StringBuilder sb = new StringBuilder();
            for (VocabFixtures.Case c : VocabFixtures.cases(name)) sb.append(c.text()).append(' ');
            String unit = sb.toString();
            String big = unit.repeat(Math.max(1, 64 * 1024 / unit.length())); // ~64 KB of mixed scripts, emoji, whitespace
            int[] warm = tok.encode(big, true, false);
            long t0 = System.nanoTime();
            int[] ids = tok.encode(big, true, false);
            double ms = (System.nanoTime() - t0) / 1e6;
            assertTrue(ids.length > big.length() / 16, name + ": implausibly few tokens " + ids.length);
            assertTrue(ms < 3000, name + ": encoding " + big.length() + " chars took " + ms + " ms");
            assertTrue(Arrays.equals(warm, ids), name + ": two encodings of the same text differ");
        }));
    }
}
