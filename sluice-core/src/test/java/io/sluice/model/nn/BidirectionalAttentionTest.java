package io.sluice.model.nn;

import io.sluice.model.Batch;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The encoder's attention against a direct float64 evaluation of its definition: softmax over
 * every position of the token's own sequence (or those within reach), ALiBi's -slope·|i-j|, GQA,
 * several sequences of different lengths in one batch.
 */
class BidirectionalAttentionTest {
    private static double[] reference(BidirectionalAttention.Options o, float[] slopes, int[] starts, int t, int h, float[] q, float[] k, float[] v) {
        int s = 0;
        while (starts[s + 1] <= t) s++;
        int hd = o.headDim(), kvh = h / (o.heads() / o.kvHeads());
        double[] sc = new double[starts[s + 1] - starts[s]];
        double max = Double.NEGATIVE_INFINITY;
        for (int j = starts[s]; j < starts[s + 1]; j++) {
            int i = j - starts[s];
            if (Math.abs(j - t) > o.reach()) {
                sc[i] = Double.NEGATIVE_INFINITY;
                continue;
            }
            double d = 0;
            for (int x = 0; x < hd; x++) d += (double) q[t * o.qDim() + h * hd + x] * k[j * o.kvDim() + kvh * hd + x];
            sc[i] = d * o.scale() - (slopes == null ? 0 : slopes[h] * Math.abs(j - t));
            max = Math.max(max, sc[i]);
        }
        double sum = 0;
        double[] out = new double[hd];
        for (int i = 0; i < sc.length; i++) {
            double e = Math.exp(sc[i] - max);
            sum += e;
            for (int x = 0; x < hd; x++) out[x] += e * v[(starts[s] + i) * o.kvDim() + kvh * hd + x];
        }
        for (int x = 0; x < hd; x++) out[x] /= sum;
        return out;
    }

    private static void check(BidirectionalAttention.Options o) {
        int[] lens = {1, 7, 19, 3};
        int n = 0;
        for (int l : lens) n += l;
        Batch b = new Batch(n, lens.length);
        int[] starts = new int[lens.length + 1];
        for (int s = 0; s < lens.length; s++) {
            int seq = b.addSequence(null);
            starts[s] = b.size;
            for (int i = 0; i < lens[s]; i++) b.add(1, i, seq, false);
        }
        starts[lens.length] = n;
        SplittableRandom r = new SplittableRandom(7);
        float[] q = new float[n * o.qDim()], k = new float[n * o.kvDim()], v = new float[n * o.kvDim()], out = new float[n * o.qDim()];
        for (float[] a : new float[][]{q, k, v}) for (int i = 0; i < a.length; i++) a[i] = (float) (r.nextDouble() * 4 - 2);
        BidirectionalAttention att = new BidirectionalAttention(o);
        att.forward(b, Pooling.sequenceStarts(b), q, k, v, out, new BidirectionalAttention.Workspace());
        float[] slopes = o.alibiMaxBias() > 0 ? BidirectionalAttention.alibiSlopes(o.heads(), o.alibiMaxBias()) : null;
        for (int t = 0; t < n; t++) {
            for (int h = 0; h < o.heads(); h++) {
                double[] want = reference(o, slopes, starts, t, h, q, k, v);
                for (int x = 0; x < o.headDim(); x++) assertEquals(want[x], out[t * o.qDim() + h * o.headDim() + x], 2e-5, "token " + t + " head " + h);
            }
        }
    }

    @Test
    void wholeSequenceAttention() {
        check(BidirectionalAttention.Options.standard(4, 4, 32));
    }

    @Test
    void groupedQueriesWithinReach() {
        check(new BidirectionalAttention.Options(6, 2, 16, 0.3f, 3, 0f));
    }

    @Test
    void alibiOnTwelveHeads() {
        check(new BidirectionalAttention.Options(12, 12, 8, 0.35f, BidirectionalAttention.ALL, 8f));
    }

    @Test
    void alibiSlopesAreGgmls() {
        // ggml_soft_max_ext: n = 2^floor(log2 12) = 8, m0 = 2^(-8/8), m1 = 2^(-4/8).
        float[] s = BidirectionalAttention.alibiSlopes(12, 8f);
        for (int h = 0; h < 8; h++) assertEquals(Math.pow(0.5, h + 1), s[h], 1e-7);
        for (int h = 8; h < 12; h++) assertEquals(Math.pow(Math.pow(2, -0.5), 2 * (h - 8) + 1), s[h], 1e-7);
    }
}
