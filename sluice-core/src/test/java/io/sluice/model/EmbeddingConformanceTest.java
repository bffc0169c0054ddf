package io.sluice.model;

import io.sluice.Fixtures;
import io.sluice.model.nn.Pooling;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The sentence-embedding fixtures (bert, nomic-bert in f32, q8_0, q4_k_m): each of the three
 * sequences of embd-tokens.txt, pooled as the file says and L2-normalised, within the fixtures
 * README's tolerances of llama.cpp's (max and mean abs diff per type) and cosine similarity 0.999,
 * whether each sequence is evaluated alone or all three in one batch.
 */
class EmbeddingConformanceTest {
    static List<int[]> sequences() throws IOException {
        return Files.readAllLines(Fixtures.model("embd-tokens.txt")).stream().filter(l -> !l.isBlank())
                .map(l -> Arrays.stream(l.split(",")).map(String::trim).mapToInt(Integer::parseInt).toArray()).toList();
    }

    /** Each sequence's pooled output, all in one batch (one row of outputDim each). */
    static float[][] encode(EmbeddingModel m, List<int[]> seqs) {
        int total = seqs.stream().mapToInt(a -> a.length).sum();
        Batch b = new Batch(total, seqs.size());
        for (int[] toks : seqs) {
            int s = b.addSequence(null);
            for (int i = 0; i < toks.length; i++) b.add(toks[i], i, s, false);
        }
        float[] out = new float[seqs.size() * m.outputDim()];
        m.encode(b, out);
        float[][] rows = new float[seqs.size()][];
        for (int s = 0; s < rows.length; s++) rows[s] = Arrays.copyOfRange(out, s * m.outputDim(), (s + 1) * m.outputDim());
        return rows;
    }

    static float[] normalized(float[] v) {
        double ss = 0;
        for (float x : v) ss += (double) x * x;
        float inv = (float) (1 / Math.sqrt(ss));
        float[] r = v.clone();
        for (int i = 0; i < r.length; i++) r[i] *= inv;
        return r;
    }

    static double cosine(float[] a, float[] b) {
        double d = 0, na = 0, nb = 0;
        for (int i = 0; i < a.length; i++) {
            d += (double) a[i] * b[i];
            na += (double) a[i] * a[i];
            nb += (double) b[i] * b[i];
        }
        return d / Math.sqrt(na * nb);
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"tiny-bert-f32", "tiny-bert-q8_0", "tiny-bert-q4_k_m", "tiny-nomic-bert-f32", "tiny-nomic-bert-q8_0", "tiny-nomic-bert-q4_k_m"})
    void embeddingsMatchLlamaCpp(String name) throws IOException {
        List<int[]> seqs = sequences();
        float[] want = LogitsConformanceTest.readF32(Fixtures.model(name + ".embd.f32"));
        boolean f32 = name.endsWith("-f32");
        double maxTol = f32 ? 1e-4 : 5e-3, meanTol = f32 ? 1e-5 : 1e-3;
        try (EmbeddingModel m = EmbeddingModel.load(Fixtures.model(name + ".gguf"))) {
            assertEquals(Pooling.MEAN, m.pooling());
            int dim = m.outputDim();
            assertEquals(seqs.size() * dim, want.length);
            float[][] together = encode(m, seqs);
            for (int s = 0; s < seqs.size(); s++) {
                float[] alone = normalized(encode(m, List.of(seqs.get(s)))[0]);
                float[] batched = normalized(together[s]);
                float[] ref = Arrays.copyOfRange(want, s * dim, (s + 1) * dim);
                for (float[] got : new float[][]{alone, batched}) {
                    double max = 0, sum = 0;
                    for (int i = 0; i < dim; i++) {
                        double d = Math.abs(got[i] - ref[i]);
                        max = Math.max(max, d);
                        sum += d;
                    }
                    double cos = cosine(got, ref);
                    assertTrue(max <= maxTol && sum / dim <= meanTol && cos >= 0.999,
                            name + " sequence " + s + ": max " + max + ", mean " + sum / dim + ", cosine " + cos);
                }
            }
        }
    }
}
