package io.sluice.model.nn;

import io.sluice.model.Batch;
import io.sluice.tensor.Parallel;
import io.sluice.tensor.VectorMath;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.util.Arrays;

/**
 * An encoder's self-attention: every token attends to every token of its own sequence, before
 * and after it, with no KV cache (the sequence is whole in the batch, as llama.cpp's
 * build_attn_inp_no_cache). Optionally each token sees only {@code reach} positions either side
 * (embeddinggemma's symmetric sliding window), and ALiBi adds -slope(h)·|i - j| to the scores
 * (jina-bert-v2), with ggml's slopes for a maximum bias.
 *
 * <p>A work item is one sequence's query heads of one KV head (GQA): its keys are laid out
 * transposed once, so each query's scores are headDim vectorised passes over the keys, and the
 * softmax's exponentials are vectorised too.
 */
public final class BidirectionalAttention {
    /**
     * @param heads        query heads
     * @param kvHeads      KV heads (heads is a multiple)
     * @param headDim      values per head of Q, K and V
     * @param scale        multiplies q·k
     * @param reach        positions visible on each side of a token ({@link BidirectionalAttention#ALL}: the whole sequence)
     * @param alibiMaxBias ALiBi's maximum bias (8 for jina-bert-v2); 0 = no ALiBi
     */
    public record Options(int heads, int kvHeads, int headDim, float scale, int reach, float alibiMaxBias) {
        public Options {
            if (heads <= 0 || kvHeads <= 0 || heads % kvHeads != 0 || headDim <= 0) {
                throw new IllegalArgumentException("bad attention shape: " + heads + " heads, " + kvHeads + " KV heads of " + headDim);
            }
            if (reach < 0 || !Float.isFinite(scale) || !(alibiMaxBias >= 0) || !Float.isFinite(alibiMaxBias)) {
                throw new IllegalArgumentException("bad attention options: reach " + reach + ", scale " + scale + ", ALiBi bias " + alibiMaxBias);
            }
        }

        /** Whole-sequence attention scaled by 1/√headDim. */
        public static Options standard(int heads, int kvHeads, int headDim) {
            return new Options(heads, kvHeads, headDim, (float) (1 / Math.sqrt(headDim)), ALL, 0f);
        }

        public int qDim() {
            return heads * headDim;
        }

        public int kvDim() {
            return kvHeads * headDim;
        }
    }

    /** A reach that covers any sequence. */
    public static final int ALL = Integer.MAX_VALUE;

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

    private final Options o;
    /** ALiBi slope of each query head (null without ALiBi). */
    private final float[] slopes;

    public BidirectionalAttention(Options options) {
        this.o = options;
        this.slopes = options.alibiMaxBias() > 0 ? alibiSlopes(options.heads(), options.alibiMaxBias()) : null;
    }

    public Options options() {
        return o;
    }

    /** ggml_soft_max_ext's ALiBi slopes: m0^(h+1) for the first 2^⌊log2 heads⌋ heads, m1^(2(h-n)+1) after. */
    static float[] alibiSlopes(int heads, float maxBias) {
        int n = Integer.highestOneBit(heads);
        float m0 = (float) Math.pow(2, -maxBias / n), m1 = (float) Math.pow(2, -(maxBias / 2) / n);
        float[] s = new float[heads];
        for (int h = 0; h < heads; h++) s[h] = h < n ? (float) Math.pow(m0, h + 1) : (float) Math.pow(m1, 2 * (h - n) + 1);
        return s;
    }

    /**
     * For the batch's whole sequences ({@code starts} from {@link Pooling#sequenceStarts}): q is
     * n × qDim, k and v n × kvDim; writes each token's attention output (n × qDim) to out.
     */
    public void forward(Batch b, int[] starts, float[] q, float[] k, float[] v, float[] out, Workspace ws) {
        int nKv = o.kvHeads();
        int longest = 0;
        for (int s = 0; s < b.numSeqs; s++) longest = Math.max(longest, starts[s + 1] - starts[s]);
        ws.ensure(longest, o.headDim());
        Parallel.forRange(b.numSeqs * nKv, (from, to) -> {
            Workspace.Buffers w = ws.perThread[Parallel.workerIndex()];
            for (int item = from; item < to; item++) {
                int s = item / nKv;
                attend(starts[s], starts[s + 1] - starts[s], item % nKv, q, k, v, out, w);
            }
        });
    }

    /** One sequence (tokens first..first+len-1) and one KV head with its group of query heads. */
    private void attend(int first, int len, int kvh, float[] q, float[] k, float[] v, float[] out, Workspace.Buffers w) {
        int hd = o.headDim(), kvDim = o.kvDim(), qDim = o.qDim(), group = o.heads() / o.kvHeads();
        float[] kt = w.kt, sc = w.scores;
        for (int j = 0; j < len; j++) {
            int src = (first + j) * kvDim + kvh * hd;
            for (int d = 0; d < hd; d++) kt[d * len + j] = k[src + d];
        }
        for (int i = 0; i < len; i++) {
            int j0 = Math.max(0, i - o.reach()), j1 = (int) Math.min(len, (long) i + o.reach() + 1);
            int cnt = j1 - j0;
            for (int g = 0; g < group; g++) {
                int h = kvh * group + g, qo = (first + i) * qDim + h * hd;
                Arrays.fill(sc, 0, cnt, 0f);
                for (int d = 0; d < hd; d++) VectorMath.axpy(q[qo + d], kt, d * len + j0, sc, 0, cnt);
                VectorMath.scale(sc, 0, cnt, o.scale());
                if (slopes != null) {
                    float m = slopes[h];
                    for (int j = 0; j < cnt; j++) sc[j] -= m * Math.abs(i - (j0 + j));
                }
                float sum = softmax(sc, cnt);
                Arrays.fill(out, qo, qo + hd, 0f);
                for (int j = 0; j < cnt; j++) VectorMath.axpy(sc[j], v, (first + j0 + j) * kvDim + kvh * hd, out, qo, hd);
                VectorMath.scale(out, qo, hd, 1f / sum);
            }
        }
    }

    /** x[j] = exp(x[j] - max) for j &lt; n; returns their sum. */
    private static float softmax(float[] x, int n) {
        float max = Float.NEGATIVE_INFINITY;
        for (int j = 0; j < n; j++) max = Math.max(max, x[j]);
        int j = 0, lanes = F.length();
        FloatVector acc = FloatVector.zero(F);
        for (int bound = F.loopBound(n); j < bound; j += lanes) {
            FloatVector e = FloatVector.fromArray(F, x, j).sub(max).lanewise(VectorOperators.EXP);
            e.intoArray(x, j);
            acc = acc.add(e);
        }
        float sum = acc.reduceLanes(VectorOperators.ADD);
        for (; j < n; j++) {
            x[j] = (float) Math.exp(x[j] - max);
            sum += x[j];
        }
        return sum;
    }

    /** Per-thread buffers shared by a model's attention layers: one sequence's transposed keys of one head, and scores. */
    public static final class Workspace {
        private Buffers[] perThread = new Buffers[0];

        /** Bytes for sequences of up to {@code len} tokens and heads of headDim values, every thread. */
        public static long bytes(int len, int headDim) {
            return Parallel.threads() * 4L * ((long) len * headDim + len);
        }

        /** Makes every thread's buffers big enough (on the calling thread, before the parallel loop). */
        void ensure(int len, int headDim) {
            int threads = Parallel.threads();
            if (perThread.length < threads) perThread = Arrays.copyOf(perThread, threads);
            for (int i = 0; i < threads; i++) {
                Buffers b = perThread[i];
                if (b == null || b.scores.length < len || b.kt.length < len * headDim) {
                    int l = Math.max(len, b == null ? 0 : b.scores.length), d = Math.max(headDim, b == null ? 0 : b.kt.length / b.scores.length);
                    perThread[i] = new Buffers(l, d);
                }
            }
        }

        private static final class Buffers {
            final float[] kt, scores;

            Buffers(int len, int headDim) {
                kt = new float[len * headDim];
                scores = new float[len];
            }
        }
    }
}
