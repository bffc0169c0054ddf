package io.sluice.model.nn;

import io.sluice.gguf.GGMLType;
import io.sluice.model.Batch;
import io.sluice.model.KvLayout;
import io.sluice.model.KvStore;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The paged, block-streamed attention against a direct softmax over a score matrix, for every
 * option: GQA, sliding window, soft-capping, sinks, scale; two sequences interleaved in one batch
 * with scattered blocks, half of each already in the cache from an earlier step.
 */
class AttentionTest {
    @ParameterizedTest(name = "heads {0}/{1}, window {2}, cap {3}, sinks {4}, block {5}")
    @CsvSource({
            "4, 4, 0, 0, false, 4",
            "8, 2, 0, 0, false, 16",
            "8, 2, 5, 0, false, 4",
            "4, 1, 7, 3.5, false, 4",
            "4, 2, 0, 2.0, true, 3",
            "6, 3, 9, 0, true, 5"})
    void pagedOnlineSoftmaxEqualsTheDirectComputation(int heads, int kvHeads, int window, float cap, boolean withSinks, int bs) {
        int headDim = 16, len = 37;
        SplittableRandom r = new SplittableRandom(heads * 31L + window);
        float[] sinks = null;
        if (withSinks) {
            sinks = new float[heads];
            for (int h = 0; h < heads; h++) sinks[h] = (float) (r.nextDouble() * 4 - 1);
        }
        Attention.Options o = new Attention.Options(heads, kvHeads, headDim, 0.3f, window, cap, sinks);
        Attention attn = new Attention(1, o);
        int qDim = o.qDim(), kvDim = o.kvDim();
        // Two sequences of len positions; their blocks interleaved and reversed in the pool.
        int blocksPerSeq = (len + bs - 1) / bs;
        int[][] tables = new int[2][blocksPerSeq];
        for (int i = 0; i < blocksPerSeq; i++) {
            tables[0][i] = 2 * (blocksPerSeq - 1 - i);
            tables[1][i] = 2 * i + 1;
        }
        float[][] q = new float[2][len * qDim], k = new float[2][len * kvDim], v = new float[2][len * kvDim];
        for (int s = 0; s < 2; s++) {
            fill(q[s], r);
            fill(k[s], r);
            fill(v[s], r);
        }
        KvLayout layout = KvLayout.uniform(2, kvHeads, headDim);
        try (KvStore kv = new KvStore(layout, 2 * blocksPerSeq, bs, GGMLType.F32)) {
            Attention.Workspace ws = new Attention.Workspace();
            int split = 20;
            // Step 1: the first `split` positions of sequence 0 alone.
            run(attn, kv, ws, tables, new int[][]{{0, 0, split}}, q, k, v, qDim, kvDim, o, window, cap, sinks);
            // Step 2: the rest of sequence 0 and all of sequence 1, interleaved.
            run(attn, kv, ws, tables, new int[][]{{0, split, len}, {1, 0, len}}, q, k, v, qDim, kvDim, o, window, cap, sinks);
        }
    }

    /** Runs the ranges {seq, from, to} as one batch and checks every output row. */
    private static void run(Attention attn, KvStore kv, Attention.Workspace ws, int[][] tables, int[][] ranges,
                            float[][] q, float[][] k, float[][] v, int qDim, int kvDim, Attention.Options o,
                            int window, float cap, float[] sinks) {
        int total = 0;
        for (int[] rg : ranges) total += rg[2] - rg[1];
        Batch b = new Batch(total, 2);
        int[] seqIndex = new int[2];
        for (int[] rg : ranges) seqIndex[rg[0]] = b.addSequence(tables[rg[0]]);
        float[] bq = new float[total * qDim], bk = new float[total * kvDim], bv = new float[total * kvDim];
        int[] seqOfRow = new int[total];
        // Interleave the ranges token by token, as the engine may.
        int[] next = new int[ranges.length];
        for (int i = 0; i < ranges.length; i++) next[i] = ranges[i][1];
        int row = 0;
        while (row < total) {
            for (int i = 0; i < ranges.length; i++) {
                if (next[i] >= ranges[i][2]) continue;
                int s = ranges[i][0], p = next[i]++;
                b.add(0, p, seqIndex[s], true);
                System.arraycopy(q[s], p * qDim, bq, row * qDim, qDim);
                System.arraycopy(k[s], p * kvDim, bk, row * kvDim, kvDim);
                System.arraycopy(v[s], p * kvDim, bv, row * kvDim, kvDim);
                seqOfRow[row++] = s;
            }
        }
        float[] out = new float[total * qDim];
        attn.forward(b, kv, bq, bk, bv, out, ws);
        for (int t = 0; t < total; t++) {
            float[] want = reference(q[seqOfRow[t]], k[seqOfRow[t]], v[seqOfRow[t]], b.positions[t], o, window, cap, sinks);
            double max = 0;
            for (int i = 0; i < qDim; i++) max = Math.max(max, Math.abs(want[i] - out[t * qDim + i]));
            assertTrue(max < 1e-5, "row " + t + " (position " + b.positions[t] + "): max diff " + max);
        }
    }

    /** softmax over the visible positions (plus the sink) of capped, scaled scores, in double precision. */
    private static float[] reference(float[] q, float[] k, float[] v, int pos, Attention.Options o, int window, float cap, float[] sinks) {
        int hd = o.headDim(), group = o.heads() / o.kvHeads();
        float[] out = new float[o.qDim()];
        int first = window > 0 ? Math.max(0, pos - window + 1) : 0;
        for (int h = 0; h < o.heads(); h++) {
            int kvh = h / group;
            double[] s = new double[pos + 1];
            double max = sinks != null ? sinks[h] : Double.NEGATIVE_INFINITY;
            for (int j = first; j <= pos; j++) {
                double d = 0;
                for (int i = 0; i < hd; i++) d += q[pos * o.qDim() + h * hd + i] * k[j * o.kvDim() + kvh * hd + i];
                d *= o.scale();
                if (cap > 0) d = cap * Math.tanh(d / cap);
                s[j] = d;
                max = Math.max(max, d);
            }
            double sum = sinks != null ? Math.exp(sinks[h] - max) : 0;
            for (int j = first; j <= pos; j++) sum += Math.exp(s[j] - max);
            for (int j = first; j <= pos; j++) {
                double w = Math.exp(s[j] - max) / sum;
                for (int i = 0; i < hd; i++) out[h * hd + i] += (float) (w * v[j * o.kvDim() + kvh * hd + i]);
            }
        }
        return out;
    }

    private static void fill(float[] a, SplittableRandom r) {
        for (int i = 0; i < a.length; i++) a[i] = (float) (r.nextDouble() * 2 - 1);
    }
}
