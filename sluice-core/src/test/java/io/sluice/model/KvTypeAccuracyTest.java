package io.sluice.model;

import io.sluice.Fixtures;
import io.sluice.gguf.GGMLType;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What each KV cache type costs in accuracy: the logits of every position of a 448-token
 * sequence (7 chunks of 64, so each chunk reads everything before it back from the cache) with
 * an f16, q8_0, q4_0 and iq4_nl cache against the same model with an f32 cache. Printed for
 * docs/PERFORMANCE.md; asserted: every type within a bound, and the errors in the order of
 * the types' precision (iq4_nl, whose levels follow the values' distribution, ahead of q4_0).
 */
class KvTypeAccuracyTest {
    private static final int LENGTH = 448, CHUNK = 64;

    /** Mean KL(f32 cache || this cache) over positions, mean |logit diff|, top-1 agreement. */
    record Error(double kl, double meanAbs, double top1) {}

    @Test
    void quantizedCachesStayCloseToF32InTheOrderOfTheirPrecision() throws IOException {
        try (Model m = Model.load(Fixtures.model("tiny-llama-f32.gguf"), LENGTH)) {
            int vocab = m.config().vocabSize();
            int[] tokens = new SplittableRandom(7).ints(LENGTH, 1, vocab).toArray();
            float[] ref = logits(m, tokens, GGMLType.F32);
            Map<GGMLType, Error> err = new EnumMap<>(GGMLType.class);
            for (GGMLType t : List.of(GGMLType.F16, GGMLType.Q8_0, GGMLType.Q4_0, GGMLType.IQ4_NL)) {
                err.put(t, compare(ref, logits(m, tokens, t), vocab));
                System.out.printf("KV %-6s mean KL %.3e  mean |dlogit| %.3e  top-1 agreement %.4f%n", t, err.get(t).kl(), err.get(t).meanAbs(), err.get(t).top1());
            }
            assertTrue(err.get(GGMLType.F16).kl() < 1e-7 && err.get(GGMLType.F16).top1() > 0.99, err.toString());
            assertTrue(err.get(GGMLType.Q8_0).kl() < 3e-5 && err.get(GGMLType.Q8_0).top1() > 0.97, err.toString());
            for (GGMLType t : List.of(GGMLType.Q4_0, GGMLType.IQ4_NL)) assertTrue(err.get(t).kl() < 5e-3 && err.get(t).top1() > 0.9, t + " " + err);
            assertTrue(0 < err.get(GGMLType.F16).kl() && err.get(GGMLType.F16).kl() < err.get(GGMLType.Q8_0).kl(), err.toString());
            assertTrue(err.get(GGMLType.Q8_0).kl() < err.get(GGMLType.IQ4_NL).kl() && err.get(GGMLType.IQ4_NL).kl() < err.get(GGMLType.Q4_0).kl(), err.toString());
        }
    }

    private static float[] logits(Model m, int[] tokens, GGMLType type) {
        int vocab = m.config().vocabSize(), bs = 16;
        int[] table = new int[LENGTH / bs];
        for (int i = 0; i < table.length; i++) table[i] = i;
        float[] all = new float[LENGTH * vocab];
        try (KvStore kv = new KvStore(m.kvLayout(), table.length, bs, type)) {
            float[] chunk = new float[CHUNK * vocab];
            for (int at = 0; at < LENGTH; at += CHUNK) {
                Batch b = new Batch(CHUNK, 1);
                int s = b.addSequence(table);
                for (int i = 0; i < CHUNK; i++) b.add(tokens[at + i], at + i, s, true);
                m.forward(b, kv, chunk);
                System.arraycopy(chunk, 0, all, at * vocab, CHUNK * vocab);
            }
        }
        return all;
    }

    private static Error compare(float[] ref, float[] got, int vocab) {
        double kl = 0, abs = 0;
        int agree = 0, n = ref.length / vocab;
        for (int p = 0; p < n; p++) {
            int o = p * vocab;
            double[] lp = logSoftmax(ref, o, vocab), lq = logSoftmax(got, o, vocab);
            int a = 0, b = 0;
            for (int i = 0; i < vocab; i++) {
                kl += Math.exp(lp[i]) * (lp[i] - lq[i]);
                abs += Math.abs(ref[o + i] - got[o + i]);
                if (ref[o + i] > ref[o + a]) a = i;
                if (got[o + i] > got[o + b]) b = i;
            }
            if (a == b) agree++;
        }
        return new Error(kl / n, abs / ref.length, agree / (double) n);
    }

    private static double[] logSoftmax(float[] x, int o, int n) {
        double max = Double.NEGATIVE_INFINITY, sum = 0;
        for (int i = 0; i < n; i++) max = Math.max(max, x[o + i]);
        for (int i = 0; i < n; i++) sum += Math.exp(x[o + i] - max);
        double lse = max + Math.log(sum);
        double[] r = new double[n];
        for (int i = 0; i < n; i++) r[i] = x[o + i] - lse;
        return r;
    }
}
