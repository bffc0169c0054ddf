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
 * softmax is streamed over the KV positions (FlashAttention's online recurrence): no score
 * matrix, and a query row's memory is one accumulator whatever the context length.
 *
 * <p>Work is cut FlashAttention-2's way: a work item is a tile of up to {@value #TILE_ROWS} query
 * rows (consecutive tokens of one sequence x the query heads of one KV head, GQA) over a range
 * of that sequence's KV positions, so each K/V block is read once for all the tile's rows; items
 * run in parallel over (sequence, KV head, query tile). When that gives the threads too little
 * to do - decoding one long sequence - a tile's positions are split and the splits' partial
 * softmax states merged (flash-decoding). The tile kernel is native (attention.c) where the CPU
 * has AVX2 (+FMA, F16C) or AVX512, and Java otherwise; both read the KV cache in place.
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

        int group() {
            return heads / kvHeads;
        }
    }

    /** Query rows (tokens x heads of a group) per work item: enough to reuse each K/V chunk many times, few enough to stay in L1/L2. */
    static final int TILE_ROWS = 64;
    /** Fewest positions a split of one tile's range gets. */
    static final int MIN_SPLIT = 256;
    /** Most splits of one tile (bounds the partial-state memory whatever the depth). */
    static final int MAX_SPLITS = 16;
    /** Work items wanted per thread (as Parallel's chunks): a descheduled thread then delays a step by a fraction. */
    static final int ITEMS_PER_THREAD = 8;

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
        int n = b.size, kvDim = o.kvDim(), bs = kv.blockSize(), group = kv.groupOf(layer);
        for (int t = 0; t < n; t++) {
            int pos = b.positions[t];
            kv.write(layer, b.table(b.seqOf[t], group)[pos / bs], pos % bs, k, t * kvDim, v, t * kvDim);
        }
        boolean nat = ws.useNative && NativeAttention.supports(kv.type(), o.headDim());
        Plan p = ws.plan(b, o, bs);
        ws.ensure(o, bs, nat);
        Parallel.forRange(p.items, (start, end) -> {
            Workspace.Buffers w = ws.get(Parallel.workerIndex());
            for (int i = start; i < end; i++) {
                int it = p.order[i];
                if (nat) attendNative(b, kv, q, out, p, it, w, ws.partials);
                else attendJava(b, kv, q, out, p, it, w, ws.partials);
            }
        });
        if (p.merges > 0) Parallel.forRange(p.merges, (start, end) -> {
            for (int i = start; i < end; i++) merge(b, out, p, i, ws.partials);
        });
    }

    /** One work item by the native kernel. */
    private void attendNative(Batch b, KvStore kv, float[] q, float[] out, Plan p, int it, Workspace.Buffers w, float[] partials) {
        int[] f = p.item;
        int at = it * Plan.FIELDS, kvh = f[at + Plan.KVH], poff = f[at + Plan.POFF];
        int[] c = w.cfg;
        c[NativeAttention.C_TYPE] = kv.type().id;
        c[NativeAttention.C_DIM] = o.headDim();
        c[NativeAttention.C_BS] = kv.blockSize();
        c[NativeAttention.C_SLOTS] = kv.slots();
        c[NativeAttention.C_QSTRIDE] = o.qDim();
        c[NativeAttention.C_QOFF] = kvh * o.group() * o.headDim();
        c[NativeAttention.C_GROUP] = o.group();
        c[NativeAttention.C_NTOK] = f[at + Plan.NTOK];
        c[NativeAttention.C_WINDOW] = o.window();
        c[NativeAttention.C_FROM] = f[at + Plan.FROM];
        c[NativeAttention.C_TO] = f[at + Plan.TO];
        c[NativeAttention.C_KTILE] = (int) kv.tileBytes(layer);
        c[NativeAttention.C_VTILE] = (int) kv.tileBytes(layer);
        c[NativeAttention.C_PARTIAL] = poff >= 0 ? 1 : 0;
        c[NativeAttention.C_SCRATCH] = w.scratch.length;
        c[NativeAttention.C_ROW0] = f[at + Plan.ROW0];
        c[NativeAttention.C_POFF] = Math.max(poff, 0);
        w.fcfg[0] = o.scale();
        w.fcfg[1] = o.softCap();
        float[] sinks = f[at + Plan.FIRST] == 1 ? o.sinks() : null;
        int rc = NativeAttention.attend(c, w.fcfg, q, out, poff >= 0 ? partials : null, kv.keys(layer, kvh), kv.values(layer, kvh),
                b.table(f[at + Plan.SEQ], kv.groupOf(layer)), p.rows, b.positions, sinks, w.scratch);
        if (rc != 0) throw new IllegalStateException("native attention rejected its arguments (" + rc + ") at layer " + layer);
    }

    /**
     * One work item in Java: the same loop order as the native kernel (each KV block of the range
     * decoded once for all the tile's rows), the online softmax per row.
     */
    private void attendJava(Batch b, KvStore kv, float[] q, float[] out, Plan p, int it, Workspace.Buffers w, float[] partials) {
        int[] f = p.item;
        int at = it * Plan.FIELDS;
        int kvh = f[at + Plan.KVH], row0 = f[at + Plan.ROW0], ntok = f[at + Plan.NTOK], from = f[at + Plan.FROM], to = f[at + Plan.TO];
        int poff = f[at + Plan.POFF];
        int d = o.headDim(), group = o.group(), bs = kv.blockSize(), rows = ntok * group;
        int[] table = b.table(f[at + Plan.SEQ], kv.groupOf(layer));
        float[] sinks = f[at + Plan.FIRST] == 1 ? o.sinks() : null;
        for (int r = 0; r < rows; r++) {
            w.max[r] = sinks != null ? sinks[kvh * group + r % group] : Float.NEGATIVE_INFINITY;
            w.sum[r] = sinks != null ? 1f : 0f;
        }
        Arrays.fill(w.acc, 0, rows * d, 0f);
        for (int p0 = from; p0 < to; ) {
            int slot = p0 % bs, count = Math.min(bs - slot, to - p0), block = table[p0 / bs];
            kv.readKeys(layer, block, slot, count, kvh, w.k, 0);
            kv.readValues(layer, block, slot, count, kvh, w.v, 0);
            for (int r = 0; r < rows; r++) {
                int pos = b.positions[p.rows[row0 + r / group]];
                int first = o.window() > 0 ? Math.max(0, pos - o.window() + 1) : 0;
                int j0 = Math.max(first, p0) - p0, j1 = Math.min(pos + 1, p0 + count) - p0;
                if (j0 >= j1) continue;
                int qo = p.rows[row0 + r / group] * o.qDim() + (kvh * group + r % group) * d, ao = r * d;
                float blockMax = Float.NEGATIVE_INFINITY;
                for (int j = j0; j < j1; j++) {
                    float sc = VectorMath.dot(q, qo, w.k, j * d, d) * o.scale();
                    if (o.softCap() > 0) sc = o.softCap() * (float) Math.tanh(sc / o.softCap());
                    w.scores[j] = sc;
                    blockMax = Math.max(blockMax, sc);
                }
                float newMax = Math.max(w.max[r], blockMax);
                if (newMax > w.max[r]) {
                    // Rescale what was accumulated under the old maximum (nothing on the first block).
                    float c = (float) Math.exp(w.max[r] - newMax);
                    w.sum[r] *= c;
                    VectorMath.scale(w.acc, ao, d, c);
                    w.max[r] = newMax;
                }
                float sum = 0f;
                for (int j = j0; j < j1; j++) {
                    float e = (float) Math.exp(w.scores[j] - newMax);
                    sum += e;
                    VectorMath.axpy(e, w.v, j * d, w.acc, ao, d);
                }
                w.sum[r] += sum;
            }
            p0 += count;
        }
        for (int r = 0; r < rows; r++) {
            if (poff >= 0) {
                int po = poff + r * (d + 2);
                partials[po] = w.max[r];
                partials[po + 1] = w.sum[r];
                System.arraycopy(w.acc, r * d, partials, po + 2, d);
            } else {
                int oo = p.rows[row0 + r / group] * o.qDim() + (kvh * group + r % group) * d;
                float inv = w.sum[r] > 0 ? 1f / w.sum[r] : 0f;
                for (int i = 0; i < d; i++) out[oo + i] = w.acc[r * d + i] * inv;
            }
        }
    }

    /** Combines a tile's split partial states (max m, sum l, unnormalised sums): weights e^(m_j - m). */
    private void merge(Batch b, float[] out, Plan p, int mi, float[] partials) {
        int[] f = p.merge;
        int at = mi * Plan.MFIELDS;
        int row0 = f[at], ntok = f[at + 1], kvh = f[at + 2], poff = f[at + 3], splits = f[at + 4];
        int d = o.headDim(), group = o.group(), rows = ntok * group, stride = rows * (d + 2);
        for (int r = 0; r < rows; r++) {
            float m = Float.NEGATIVE_INFINITY;
            for (int j = 0; j < splits; j++) m = Math.max(m, partials[poff + j * stride + r * (d + 2)]);
            int oo = p.rows[row0 + r / group] * o.qDim() + (kvh * group + r % group) * d;
            Arrays.fill(out, oo, oo + d, 0f);
            float l = 0f;
            for (int j = 0; j < splits; j++) {
                int po = poff + j * stride + r * (d + 2);
                if (partials[po] == Float.NEGATIVE_INFINITY) continue;
                float c = (float) Math.exp(partials[po] - m);
                l += c * partials[po + 1];
                VectorMath.axpy(c, partials, po + 2, out, oo, d);
            }
            VectorMath.scale(out, oo, d, l > 0 ? 1f / l : 0f);
        }
    }

    /** The work items of one forward pass of one layer: tiles, their KV ranges and splits. */
    static final class Plan {
        static final int SEQ = 0, ROW0 = 1, NTOK = 2, KVH = 3, FROM = 4, TO = 5, POFF = 6, FIRST = 7, FIELDS = 8;
        /** Per merge: row0, ntok, kvh, offset of the first split's partials, splits. */
        static final int MFIELDS = 5;

        /** Batch rows grouped by sequence (in batch order within one). */
        int[] rows = new int[0];
        int items, merges, partialFloats;
        int[] item = new int[0], merge = new int[0], order = new int[0];
        private long[] keys = new long[0];
        private int[] counts = new int[0], tiles = new int[0];

        void build(Batch b, Options o, int bs, int threads) {
            int n = b.size, seqs = b.numSeqs, group = o.group();
            if (rows.length < n) rows = new int[n];
            if (counts.length < seqs + 1) counts = new int[seqs + 1];
            Arrays.fill(counts, 0, seqs + 1, 0);
            for (int t = 0; t < n; t++) counts[b.seqOf[t] + 1]++;
            for (int s = 0; s < seqs; s++) counts[s + 1] += counts[s];
            int[] fill = Arrays.copyOf(counts, seqs);
            for (int t = 0; t < n; t++) rows[fill[b.seqOf[t]]++] = t;

            // Tiles: up to TILE_ROWS / group consecutive tokens of one sequence; each its KV range.
            int tq = Math.max(1, TILE_ROWS / group), nTiles = 0;
            for (int s = 0; s < seqs; s++) nTiles += (counts[s + 1] - counts[s] + tq - 1) / tq;
            if (tiles.length < nTiles * 5) tiles = new int[nTiles * 5];
            int ti = 0;
            for (int s = 0; s < seqs; s++) {
                for (int r0 = counts[s]; r0 < counts[s + 1]; r0 += tq) {
                    int nt = Math.min(tq, counts[s + 1] - r0), lo = Integer.MAX_VALUE, hi = -1;
                    for (int r = r0; r < r0 + nt; r++) {
                        int pos = b.positions[rows[r]];
                        lo = Math.min(lo, o.window() > 0 ? Math.max(0, pos - o.window() + 1) : 0);
                        hi = Math.max(hi, pos);
                    }
                    // From the start of the 16-slot group holding the first visible position.
                    int from = lo - lo % bs % KvStore.LANES;
                    tiles[ti * 5] = s;
                    tiles[ti * 5 + 1] = r0;
                    tiles[ti * 5 + 2] = nt;
                    tiles[ti * 5 + 3] = from;
                    tiles[ti * 5 + 4] = hi + 1;
                    ti++;
                }
            }

            // Splits when tiles x KV heads leave threads idle: flash-decoding of a long sequence.
            int base = nTiles * o.kvHeads(), want = threads * ITEMS_PER_THREAD;
            int perTile = threads > 1 && base < want ? Math.min(MAX_SPLITS, (want + base - 1) / base) : 1;
            int unit = bs % KvStore.LANES == 0 ? KvStore.LANES : bs; // split starts stay at 16-slot group starts
            int cap = base * perTile;
            if (item.length < cap * FIELDS) item = new int[cap * FIELDS];
            if (merge.length < nTiles * o.kvHeads() * MFIELDS) merge = new int[nTiles * o.kvHeads() * MFIELDS];
            items = 0;
            merges = 0;
            partialFloats = 0;
            for (int t = 0; t < nTiles; t++) {
                int s = tiles[t * 5], r0 = tiles[t * 5 + 1], nt = tiles[t * 5 + 2], from = tiles[t * 5 + 3], to = tiles[t * 5 + 4];
                int len = to - from;
                int ns = Math.max(1, Math.min(perTile, len / MIN_SPLIT));
                int step = ns == 1 ? len : ((len + ns - 1) / ns + unit - 1) / unit * unit;
                ns = (len + step - 1) / step;
                int floats = nt * group * (o.headDim() + 2);
                for (int h = 0; h < o.kvHeads(); h++) {
                    int poff = ns > 1 ? partialFloats : -1;
                    if (ns > 1) {
                        int m = merges++ * MFIELDS;
                        merge[m] = r0;
                        merge[m + 1] = nt;
                        merge[m + 2] = h;
                        merge[m + 3] = poff;
                        merge[m + 4] = ns;
                        partialFloats += ns * floats;
                    }
                    for (int j = 0; j < ns; j++) {
                        int a = items++ * FIELDS;
                        item[a + SEQ] = s;
                        item[a + ROW0] = r0;
                        item[a + NTOK] = nt;
                        item[a + KVH] = h;
                        item[a + FROM] = from + j * step;
                        item[a + TO] = Math.min(to, from + (j + 1) * step);
                        item[a + POFF] = ns > 1 ? poff + j * floats : -1;
                        item[a + FIRST] = j == 0 ? 1 : 0;
                    }
                }
            }
            // The longest items first, so that the last ones to be claimed are short (load balance).
            if (keys.length < items) keys = new long[items];
            if (order.length < items) order = new int[items];
            for (int i = 0; i < items; i++) {
                long cost = Math.min(1L << 40, (long) (item[i * FIELDS + TO] - item[i * FIELDS + FROM]) * item[i * FIELDS + NTOK]);
                keys[i] = ((1L << 40) - cost) << 20 | i; // cost descending, then index (items < 2^20)
            }
            Arrays.sort(keys, 0, items);
            for (int i = 0; i < items; i++) order[i] = (int) (keys[i] & 0xFFFFF);
        }
    }

    /** Per-thread buffers of a model's attention layers, and the work plan of the current layer; nothing in them grows with the context. */
    public static final class Workspace {
        private Buffers[] perThread = new Buffers[0];
        private final Plan plan = new Plan();
        float[] partials = new float[0];
        /** The native kernel when the CPU has one (tests turn it off to check the Java path). */
        boolean useNative = true;

        static final class Buffers {
            final int blockSize, headDim, rows;
            final float[] k, v, scores, acc, max, sum;
            final byte[] scratch;
            final int[] cfg = new int[NativeAttention.C_COUNT];
            final float[] fcfg = new float[2];

            Buffers(int blockSize, int headDim, int rows, boolean nat) {
                this.blockSize = blockSize;
                this.headDim = headDim;
                this.rows = rows;
                k = new float[blockSize * headDim];
                v = new float[blockSize * headDim];
                scores = new float[blockSize];
                acc = new float[rows * headDim];
                max = new float[rows];
                sum = new float[rows];
                scratch = new byte[nat ? (int) NativeAttention.scratchBytes(rows, headDim) : 0];
            }

            long bytes() {
                return 4L * (k.length + v.length + scores.length + acc.length + max.length + sum.length) + scratch.length;
            }
        }

        /** Bytes for one thread at this block size and head shape (its buffers and its share of the split partials). */
        public static long bytes(int blockSize, int headDim, int group) {
            int rows = Math.max(TILE_ROWS, group);
            long b = 4L * (2L * blockSize * headDim + blockSize + (long) rows * headDim + 2L * rows);
            if (NativeAttention.available()) b += NativeAttention.scratchBytes(rows, headDim);
            return b + 4L * 2 * ITEMS_PER_THREAD * rows * (headDim + 2L);
        }

        /** Heap bytes held now: all threads' buffers and the partials (what the memory test checks stays flat with depth). */
        public long allocatedBytes() {
            long sum = 4L * partials.length;
            for (Buffers b : perThread) if (b != null) sum += b.bytes();
            return sum;
        }

        /** Turns the native kernel off or on (tests compare the two paths). */
        public void useNative(boolean on) {
            useNative = on;
        }

        Plan plan(Batch b, Options o, int blockSize) {
            plan.build(b, o, blockSize, Parallel.threads());
            return plan;
        }

        /** Makes every thread's buffers big enough for this layer (on the calling thread, before the parallel loop). */
        void ensure(Options o, int blockSize, boolean nat) {
            int threads = Parallel.threads(), rows = Math.max(TILE_ROWS, o.group());
            if (perThread.length < threads) perThread = Arrays.copyOf(perThread, threads);
            for (int i = 0; i < threads; i++) {
                Buffers b = perThread[i];
                if (b == null || b.blockSize != blockSize || b.headDim < o.headDim() || b.rows < rows || (nat && b.scratch.length == 0)) {
                    int hd = Math.max(o.headDim(), b == null || b.blockSize != blockSize ? 0 : b.headDim);
                    perThread[i] = new Buffers(blockSize, hd, Math.max(rows, b == null ? 0 : b.rows), nat);
                }
            }
            // Splits happen only while tiles x heads < threads x ITEMS_PER_THREAD, so their partial
            // states never exceed twice that many tiles of rows: sized once, not by the depth.
            long bound = 2L * threads * ITEMS_PER_THREAD * perThread[0].rows * (perThread[0].headDim + 2L);
            if (partials.length < bound) partials = new float[Math.toIntExact(bound)];
            if (plan.partialFloats > partials.length) throw new IllegalStateException("attention split states exceed their bound");
        }

        Buffers get(int worker) {
            return perThread[worker];
        }
    }
}
