package io.sluice.model;

import io.sluice.Fixtures;
import io.sluice.gguf.GGMLType;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every tiny fixture model, evaluated as one causal batch of the fixture prompt, gives logits
 * within the fixtures README's tolerance of llama.cpp's.
 */
class LogitsConformanceTest {
    static final String[] TYPES = {"f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1",
            "q2_k", "q3_k", "q4_k", "q5_k", "q6_k", "q4_k_m"};

    static List<String> models() {
        List<String> names = new ArrayList<>();
        for (String arch : new String[]{"llama", "qwen2"}) for (String t : TYPES) names.add("tiny-" + arch + "-" + t);
        return names;
    }

    static int[] promptTokens() throws IOException {
        String s = Files.readString(Fixtures.model("prompt-tokens.txt")).trim();
        return Arrays.stream(s.split(",")).map(String::trim).mapToInt(Integer::parseInt).toArray();
    }

    static float[] readF32(Path p) throws IOException {
        ByteBuffer bb = ByteBuffer.wrap(Files.readAllBytes(p)).order(ByteOrder.LITTLE_ENDIAN);
        float[] r = new float[bb.remaining() / 4];
        bb.asFloatBuffer().get(r);
        return r;
    }

    /** Logits of every position of {@code tokens}, evaluated as one batch. */
    static float[] evaluate(Model m, int[] tokens, GGMLType kvType) {
        int bs = 16;
        int blocks = (tokens.length + bs - 1) / bs;
        int[][] table = m.kvLayout().contiguousTables(blocks);
        try (KvStore kv = new KvStore(m.kvLayout(), table.length * blocks, bs, kvType)) {
            float[] logits = new float[tokens.length * m.config().vocabSize()];
            m.forward(Batch.single(tokens, 0, true, table), kv, logits);
            return logits;
        }
    }

    static double[] tolerance(String name) {
        if (name.endsWith("-f32")) return new double[]{1e-3, 1e-4};
        if (name.endsWith("-f16")) return new double[]{5e-3, 1e-3};
        if (name.endsWith("-bf16")) return new double[]{3e-2, 5e-3};
        return new double[]{0.15, 0.03};
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void logitsMatchLlamaCpp(String name) throws IOException {
        int[] tokens = promptTokens();
        float[] expected = readF32(Fixtures.model(name + ".logits.f32"));
        try (Model m = Model.load(Fixtures.model(name + ".gguf"))) {
            float[] got = evaluate(m, tokens, GGMLType.F32);
            assertTrue(expected.length == got.length, "logit count " + got.length + " vs " + expected.length);
            double max = 0, sum = 0;
            int worst = 0;
            for (int i = 0; i < got.length; i++) {
                double d = Math.abs(got[i] - expected[i]);
                if (!(d <= max)) { max = d; worst = i; }
                sum += d;
            }
            double mean = sum / got.length;
            double[] tol = tolerance(name);
            String msg = String.format("%s: max |diff| %.5f (at pos %d, token %d), mean %.6f; tolerance %.4g / %.4g",
                    name, max, worst / 512, worst % 512, mean, tol[0], tol[1]);
            System.out.println(msg);
            assertTrue(max <= tol[0] && mean <= tol[1], msg);
        }
    }
}
