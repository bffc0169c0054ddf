package io.sluice.model.nn;

import io.sluice.model.Batch;
import io.sluice.model.KvStore;
import io.sluice.tensor.Parallel;
import io.sluice.tensor.VectorMath;

import java.util.Arrays;

/**
 * Causal self-attention of one layer over the paged KV cache. {@link #forward} stores the batch's
 * keys and values in their sequences' blocks, then every batch token attends to its own sequence's
 * visible positions: 0..pos, or with a sliding window of w only pos-w+1..pos.
 *
 * <p>Scores are scale·(q·k), soft-capped to cap·tanh(s/cap) when softCap is set (Gemma 2), and
 * the softmax may include per-head sink logits that join the denominator only (gpt-oss). The
 * softmax is streamed KV block by KV block (FlashAttention's online recurrence): no score matrix,
 * and a query head's memory is one accumulator whatever the context length. Work items are
 * (token, KV head): the query heads sharing a KV head (GQA) reuse each decoded K/V block.
 */
public final class Attention {
    /**
     * @param heads   query heads
     * @param kvHeads KV heads (heads is a multiple)
     * @param headDim values per head, of Q, K and V
     * @param scale   multiplies q·k (usually 1/√headDim)
     * @param window  sliding window in positions; 0 = full causal attention
     * @param softCap attention logit soft-capping; 0 = none
     * @param sinks   one logit per query head added to the softmax denominator, or null
     */
    public record Options(int heads, int kvHeads, int headDim, float scale, int window, float softCap, float[] sinks) {
        public Options {
            if (heads <= 0 || kvHeads <= 0 || heads % kvHeads != 0 || headDim <= 0) {
                throw new IllegalArgumentException("bad attention shape: " + heads + " heads, " + kvHeads + " KV heads of " + headDim);
            }
            if (window < 0 || !(softCap >= 0) || !Float.isFinite(scale) || (sinks != null && sinks.length != heads)) {
                throw new IllegalArgumentException("bad attention options: window " + window + ", soft-cap " + softCap + ", scale " + scale);
            }
        }

        /** Full causal attention scaled by 1/√headDim. */
        public static Options standard(int heads, int kvHeads, int headDim) {
            return new Options(heads, kvHeads, headDim, (float) (1 / Math.sqrt(headDim)), 0, 0f, null);
        }

        public int qDim() {
            return heads * headDim;
        }

        public int kvDim() {
            return kvHeads * headDim;
        }
    }

    private final int layer;
    private final Options o;

    public Attention(int layer, Options options) {
        this.layer = layer;
        this.o = options;
    }

    public Options options() {
        return o;
    }

    /**
     * For the n = b.size tokens: stores k and v (n × kvDim) at the tokens' positions, then writes
     * each token's attention output (n × qDim, the layout of q) to out.
     */
    public void forward(Batch b, KvStore kv, float[] q, float[] k, float[] v, float[] out, Workspace ws) {
        int n = b.size, kvDim = o.kvDim(), bs = kv.blockSize();
        for (int t = 0; t < n; t++) {
            int pos = b.positions[t];
            kv.write(layer, b.blockTables[b.seqOf[t]][pos / bs], pos % bs, k, t * kvDim, v, t * kvDim);
        }
        int nKv = o.kvHeads();
        ws.ensure(bs, o);
        Parallel.forRange(n * nKv, (start, end) -> {
            Workspace.Buffers w = ws.get(Parallel.workerIndex());
            for (int item = start; item < end; item++) attend(b, kv, q, out, item / nKv, item % nKv, w);
        });
    }

    /** One token's query heads of one KV head group, over its sequence's visible positions. */
    private void attend(Batch b, KvStore kv, float[] q, float[] out, int t, int kvh, Workspace.Buffers w) {
        int headDim = o.headDim(), group = o.heads() / o.kvHeads(), bs = kv.blockSize();
        int pos = b.positions[t];
        int first = o.window() > 0 ? Math.max(0, pos - o.window() + 1) : 0;
        int[] table = b.blockTables[b.seqOf[t]];
        int q0 = t * o.qDim() + kvh * group * headDim; // first query head of the group; out has the same layout
        Arrays.fill(out, q0, q0 + group * headDim, 0f);
        for (int g = 0; g < group; g++) {
            // A sink is one more logit in the denominator: start the recurrence from it.
            w.max[g] = o.sinks() != null ? o.sinks()[kvh * group + g] : Float.NEGATIVE_INFINITY;
            w.sum[g] = o.sinks() != null ? 1f : 0f;
        }
        for (int p0 = first / bs * bs; p0 <= pos; p0 += bs) {
            int from = Math.max(first, p0) - p0, count = Math.min(bs, pos - p0 + 1) - from;
            int block = table[p0 / bs];
            kv.readKeys(layer, block, from, count, kvh, w.k, 0);
            kv.readValues(layer, block, from, count, kvh, w.v, 0);
            for (int g = 0; g < group; g++) {
                int qo = q0 + g * headDim;
                float blockMax = Float.NEGATIVE_INFINITY;
                for (int j = 0; j < count; j++) {
                    float sc = VectorMath.dot(q, qo, w.k, j * headDim, headDim) * o.scale();
                    if (o.softCap() > 0) sc = o.softCap() * (float) Math.tanh(sc / o.softCap());
                    w.scores[j] = sc;
                    blockMax = Math.max(blockMax, sc);
                }
                float newMax = Math.max(w.max[g], blockMax);
                if (newMax > w.max[g]) {
                    // Rescale what was accumulated under the old maximum (nothing on the first block).
                    float c = (float) Math.exp(w.max[g] - newMax);
                    w.sum[g] *= c;
                    VectorMath.scale(out, qo, headDim, c);
                    w.max[g] = newMax;
                }
                float sum = 0f;
                for (int j = 0; j < count; j++) {
                    float e = (float) Math.exp(w.scores[j] - newMax);
                    sum += e;
                    VectorMath.axpy(e, w.v, j * headDim, out, qo, headDim);
                }
                w.sum[g] += sum;
            }
        }
        for (int g = 0; g < group; g++) VectorMath.scale(out, q0 + g * headDim, headDim, 1f / w.sum[g]);
    }

    /** Per-thread buffers of a model's attention layers: one KV block of one head decoded to floats, and softmax state. */
    public static final class Workspace {
        private Buffers[] perThread = new Buffers[0];

        static final class Buffers {
            final float[] k, v, scores, max, sum;

            Buffers(int blockSize, int headDim, int group) {
                k = new float[blockSize * headDim];
                v = new float[blockSize * headDim];
                scores = new float[blockSize];
                max = new float[group];
                sum = new float[group];
            }
        }

        /** Bytes for one thread at this block size and head shape. */
        public static long bytes(int blockSize, int headDim, int group) {
            return 4L * (2L * blockSize * headDim + blockSize + 2L * group);
        }

        /** Makes every thread's buffers big enough for this layer (on the calling thread, before the parallel loop). */
        void ensure(int blockSize, Options o) {
            int threads = Parallel.threads(), group = o.heads() / o.kvHeads();
            if (perThread.length < threads) perThread = Arrays.copyOf(perThread, threads);
            for (int i = 0; i < threads; i++) {
                Buffers b = perThread[i];
                if (b == null || b.scores.length != blockSize || b.k.length < blockSize * o.headDim() || b.max.length < group) {
                    int hd = Math.max(o.headDim(), b == null || b.scores.length != blockSize ? 0 : b.k.length / blockSize);
                    perThread[i] = new Buffers(blockSize, hd, Math.max(group, b == null ? 0 : b.max.length));
                }
            }
        }

        Buffers get(int worker) {
            return perThread[worker];
        }
    }
}
