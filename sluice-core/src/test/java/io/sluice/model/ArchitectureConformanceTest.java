package io.sluice.model;

import io.sluice.Fixtures;
import io.sluice.gguf.GGMLType;
import io.sluice.gguf.GGUFFile;
import io.sluice.gguf.TensorInfo;
import io.sluice.tensor.Formats;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The new architectures' tiny fixtures (fixtures README, "models/ — new architectures"), each
 * evaluated as one causal batch of the fixture prompt: logits within the README's tolerance of
 * llama.cpp's. Files holding a tensor type Sluice cannot compute yet are skipped, naming the type,
 * and run as soon as {@link Formats#supports} says yes.
 */
class ArchitectureConformanceTest {
    static final String[] ARCHS = {"qwen3", "gemma3", "gemma2", "phi3", "llama3", "mistral3", "olmo2", "granite", "smollm3"};
    static final String[] TYPES = {"f32", "q8_0", "q4_k_m"};
    static final String[] QWEN3_MORE = {"q5_k_m", "q6_k", "iq4_nl", "iq4_xs", "tq2_0", "mxfp4"};
    /** Mixtures of experts: the same types, and gpt-oss as it is published (MXFP4 experts, Q8_0 elsewhere). */
    static final String[] MOE = {"qwen3moe", "gpt-oss"};

    static List<String> models() {
        List<String> names = new ArrayList<>();
        for (String arch : ARCHS) for (String t : TYPES) names.add("tiny-" + arch + "-" + t);
        for (String t : QWEN3_MORE) names.add("tiny-qwen3-" + t);
        for (String arch : MOE) for (String t : TYPES) names.add("tiny-" + arch + "-" + t);
        names.add("tiny-gpt-oss-mxfp4_moe");
        return names;
    }

    /** Skips (loudly) a file with tensor types Sluice does not compute yet. */
    static void assumeComputable(String name) {
        TreeSet<String> missing = new TreeSet<>();
        try (GGUFFile f = GGUFFile.open(Fixtures.model(name + ".gguf"))) {
            for (TensorInfo t : f.tensors().values()) if (!Formats.supports(t.type())) missing.add(t.type().name());
        }
        if (!missing.isEmpty()) {
            String msg = "SKIPPED: " + name + " holds tensor types " + missing + " that io.sluice.tensor does not compute yet";
            System.err.println(msg);
            Assumptions.abort(msg);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void logitsMatchLlamaCpp(String name) throws IOException {
        assumeComputable(name);
        int[] tokens = LogitsConformanceTest.promptTokens();
        float[] expected = LogitsConformanceTest.readF32(Fixtures.model(name + ".logits.f32"));
        try (Model m = Model.load(Fixtures.model(name + ".gguf"))) {
            float[] got = LogitsConformanceTest.evaluate(m, tokens, GGMLType.F32);
            assertEquals(expected.length, got.length, "logit count");
            double max = 0, sum = 0;
            int worst = 0;
            for (int i = 0; i < got.length; i++) {
                double d = Math.abs(got[i] - expected[i]);
                if (!(d <= max)) {
                    max = d;
                    worst = i;
                }
                sum += d;
            }
            double mean = sum / got.length;
            double[] tol = LogitsConformanceTest.tolerance(name);
            int vocab = m.config().vocabSize();
            String msg = String.format("%s: max |diff| %.5f (at pos %d, token %d), mean %.6f; tolerance %.4g / %.4g",
                    name, max, worst / vocab, worst % vocab, mean, tol[0], tol[1]);
            System.out.println(msg);
            assertTrue(max <= tol[0] && mean <= tol[1], msg);
        }
    }
}
