package io.sluice.model.nn;

import io.sluice.gguf.GGMLType;
import io.sluice.model.Batch;
import io.sluice.model.KvLayout;
import io.sluice.model.KvStore;
import io.sluice.tensor.Format;
import io.sluice.tensor.Formats;
import io.sluice.tensor.NativeKernels;
import io.sluice.tensor.Parallel;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The tiled prefill and split-K decode paths of {@link Attention}, native kernel (at each level the
 * CPU runs) and Java, against a direct softmax in double precision, at awkward sizes: query tiles
 * cut at their edges (GQA 1 to 8, so 64 to 8 tokens a tile), windows crossing tiles and splits,
 * partially filled blocks, block sizes that are not multiples of 16, head sizes 64/80/128/256,
 * every KV type. The reference reads K and V as the type stores them (a ggml row round trip), not
 * through the cache's tiles.
 */
class AttentionKernelTest {
    private static int threadsBefore;

    @BeforeAll
    static void twoThreads() {
        // Splits only happen with more than one thread; make sure there are two, whatever the machine.
        threadsBefore = Parallel.threads();
        Parallel.setThreads(2);
    }

    /** Where the CPU has AVX2 or AVX512 the native kernel must be the one tested, not skipped for an unbound library. */
    @Test
    void nativeKernelIsBoundWhereTheCpuHasIt() {
        if (NativeKernels.level() >= 1) assertTrue(NativeAttention.available(), "sl_attention missing from the native library");
    }

    @AfterAll
    static void restore() {
        Parallel.setThreads(threadsBefore);
    }

    @ParameterizedTest(name = "{0} heads {1}/{2} dim {3} block {4} window {5} cap {6} sinks {7}: {9} tokens after {8}")
    @CsvSource({
            // prefill tiles: GQA 1 (64 tokens a tile), 4, 7, 8; tile edges at 64/16/9/8 tokens
            "F32, 8, 8, 64, 16, 0, 0, false, 0, 130",
            "F16, 8, 2, 64, 16, 0, 0, false, 37, 70",
            "F16, 14, 2, 64, 16, 0, 0, false, 0, 50",
            "F16, 8, 1, 128, 5, 23, 0, false, 11, 40",
            "F32, 6, 2, 80, 20, 0, 30, true, 9, 33",
            "F16, 4, 2, 256, 32, 50, 0, true, 60, 70",
            "Q8_0, 8, 2, 64, 16, 0, 0, false, 40, 67",
            "Q8_0, 16, 2, 128, 16, 17, 0, true, 5, 45",
            "Q8_0, 3, 1, 256, 20, 0, 0, false, 0, 33",
            "Q4_0, 8, 4, 64, 16, 0, 0, false, 20, 40",
            "Q4_0, 4, 4, 256, 5, 0, 20, false, 0, 20",
            "IQ4_NL, 8, 2, 64, 16, 0, 0, false, 20, 40",
            // head sizes not a multiple of 8 or 16 (the vectors' tails)
            "F16, 4, 2, 20, 16, 0, 0, false, 10, 20",
            "F32, 12, 1, 36, 20, 7, 0, true, 3, 30",
            // decode at depth: the range is split across threads and the partial states merged
            "F16, 8, 1, 64, 16, 0, 0, true, 2000, 1",
            "Q8_0, 8, 2, 128, 16, 900, 0, false, 1500, 1",
            "F32, 4, 4, 64, 5, 0, 0, false, 1200, 2",
            "Q4_0, 16, 2, 64, 16, 0, 5, true, 3000, 1",
            "F16, 14, 2, 64, 16, 700, 0, true, 1800, 3",
            "IQ4_NL, 8, 1, 128, 16, 0, 0, false, 2500, 1"})
    void tilesAndSplitsEqualTheDirectSoftmax(GGMLType type, int heads, int kvHeads, int dim, int bs, int window, float cap,
                                              boolean withSinks, int prefix, int n) {
        SplittableRandom rnd = new SplittableRandom(heads * 1009L + dim * 31L + prefix + n);
        float[] sinks = null;
        if (withSinks) {
            sinks = new float[heads];
            for (int h = 0; h < heads; h++) sinks[h] = (float) (rnd.nextDouble() * 4 - 1);
        }
        Attention.Options o = new Attention.Options(heads, kvHeads, dim, (float) (1.5 / Math.sqrt(dim)), window, cap, sinks);
        int len = prefix + n, qDim = o.qDim(), kvDim = o.kvDim();
        float[] q = random(len * qDim, rnd), k = random(len * kvDim, rnd), v = random(len * kvDim, rnd);
        // Scattered blocks: the sequence's table runs backwards through the pool.
        int blocks = (len + bs - 1) / bs;
        int[] table = new int[blocks];
        for (int i = 0; i < blocks; i++) table[i] = blocks - 1 - i;
        float[] kr = stored(type, k, kvDim, dim), vr = stored(type, v, kvDim, dim);
        // The Java path (loop level 0), then the native kernel at every level this CPU runs: AVX2's
        // kernel set at 1, AVX512's at 2 and 3, so an AVX512 machine checks both sets.
        int best = NativeKernels.level();
        boolean nativeToo = NativeAttention.supports(type, dim);
        float[][][] want = new float[2][][]; // [quantized query][token]
        try {
            for (int level = 0; level <= (nativeToo ? best : 0); level++) {
                boolean nat = level > 0;
                if (nat && NativeKernels.setLevel(level) != level) continue;
                String path = nat ? "native at level " + level : "java";
                try (KvStore kv = new KvStore(KvLayout.uniform(1, kvHeads, dim), blocks, bs, type)) {
                    Attention attn = new Attention(0, o);
                    Attention.Workspace ws = new Attention.Workspace();
                    ws.useNative(nat);
                    // A short prefix through the attention (an earlier step), a long one straight into the cache; then the checked step.
                    if (prefix <= 512) step(attn, kv, ws, table, q, k, v, 0, prefix, o);
                    else fill(kv, table, k, v, prefix, kvDim);
                    float[] out = step(attn, kv, ws, table, q, k, v, prefix, len, o);
                    boolean quantizedQ = nat && type != GGMLType.F32 && type != GGMLType.F16;
                    int qi = quantizedQ ? 1 : 0;
                    if (want[qi] == null) {
                        want[qi] = new float[n][];
                        for (int t = 0; t < n; t++) want[qi][t] = reference(q, kr, vr, prefix + t, o, quantizedQ);
                    }
                    double max = 0;
                    for (int t = 0; t < n; t++) {
                        for (int i = 0; i < qDim; i++) max = Math.max(max, Math.abs(want[qi][t][i] - out[t * qDim + i]));
                    }
                    assertTrue(max < 1e-4, path + ": max diff " + max);
                }
            }
        } finally {
            NativeKernels.setLevel(best);
        }
    }

    /** Attention scratch stays the same from a short context to a long one: nothing is sized by the depth. */
    @Test
    void workspaceDoesNotGrowWithDepth() {
        for (boolean nat : new boolean[]{true, false}) {
            if (nat && !NativeAttention.available()) continue;
            long[] bytes = new long[2];
            int[] depths = {40, 6000};
            for (int c = 0; c < 2; c++) {
                int depth = depths[c];
                Attention.Options o = Attention.Options.standard(8, 2, 64);
                SplittableRandom rnd = new SplittableRandom(5);
                int len = depth + 1, blocks = (len + 15) / 16;
                int[] table = new int[blocks];
                for (int i = 0; i < blocks; i++) table[i] = i;
                float[] q = random(len * o.qDim(), rnd), k = random(len * o.kvDim(), rnd), v = random(len * o.kvDim(), rnd);
                try (KvStore kv = new KvStore(KvLayout.uniform(1, 2, 64), blocks, 16, GGMLType.F16)) {
                    Attention attn = new Attention(0, o);
                    Attention.Workspace ws = new Attention.Workspace();
                    ws.useNative(nat);
                    fill(kv, table, k, v, depth, o.kvDim());
                    step(attn, kv, ws, table, q, k, v, depth, len, o); // a decode step: split 16 ways at 6000
                    bytes[c] = ws.allocatedBytes();
                    assertTrue(bytes[c] <= Parallel.threads() * Attention.Workspace.bytes(16, 64, 4), "within the memory plan's estimate: " + bytes[c]);
                }
            }
            assertEquals(bytes[0], bytes[1], (nat ? "native" : "java") + ": workspace bytes at depth 40 and 6000");
        }
    }

    /** Positions [0, n) of K and V into the cache, as earlier steps would have left them. */
    private static void fill(KvStore kv, int[] table, float[] k, float[] v, int n, int kvDim) {
        int bs = kv.blockSize();
        for (int p = 0; p < n; p++) kv.write(0, table[p / bs], p % bs, k, p * kvDim, v, p * kvDim);
    }

    /** Runs positions [from, to) of the sequence as one batch; returns their outputs. */
    private static float[] step(Attention attn, KvStore kv, Attention.Workspace ws, int[] table, float[] q, float[] k, float[] v,
                                int from, int to, Attention.Options o) {
        int n = to - from;
        if (n == 0) return new float[0];
        int qDim = o.qDim(), kvDim = o.kvDim();
        Batch b = new Batch(n, 1);
        int s = b.addSequence(table);
        for (int p = from; p < to; p++) b.add(0, p, s, true);
        float[] bq = new float[n * qDim], bk = new float[n * kvDim], bv = new float[n * kvDim], out = new float[n * qDim];
        System.arraycopy(q, from * qDim, bq, 0, n * qDim);
        System.arraycopy(k, from * kvDim, bk, 0, n * kvDim);
        System.arraycopy(v, from * kvDim, bv, 0, n * kvDim);
        attn.forward(b, kv, bq, bk, bv, out, ws);
        return out;
    }

    /** Each head's row as the cache type stores it: the format's quantize then dequantize (f32: as is). */
    static float[] stored(GGMLType type, float[] x, int kvDim, int dim) {
        if (type == GGMLType.F32) return x.clone();
        Format f = Formats.of(type);
        MemorySegment row = MemorySegment.ofArray(new byte[(int) type.byteSize(dim)]);
        float[] y = new float[x.length];
        for (int off = 0; off < x.length; off += dim) {
            f.quantize(x, off, dim, row, 0);
            f.dequantize(row, 0, y, off, dim);
        }
        return y;
    }

    /**
     * softmax over the visible positions (plus the sink) of capped, scaled scores, in double; with
     * quantizedQ the scaled query is first rounded as the native kernel's 8-bit query blocks are
     * (scale amax/127 in float, values rounded to nearest even).
     */
    static float[] reference(float[] q, float[] k, float[] v, int pos, Attention.Options o, boolean quantizedQ) {
        int hd = o.headDim(), group = o.heads() / o.kvHeads(), window = o.window();
        float cap = o.softCap();
        float[] out = new float[o.qDim()];
        int first = window > 0 ? Math.max(0, pos - window + 1) : 0;
        for (int h = 0; h < o.heads(); h++) {
            int kvh = h / group;
            double[] qs = new double[hd];
            float[] scaled = new float[hd];
            for (int i = 0; i < hd; i++) scaled[i] = q[pos * o.qDim() + h * hd + i] * o.scale();
            if (quantizedQ) {
                for (int b0 = 0; b0 < hd; b0 += 32) {
                    float amax = 0;
                    for (int i = b0; i < b0 + 32; i++) amax = Math.max(amax, Math.abs(scaled[i]));
                    float d = amax / 127, id = d != 0 ? 1 / d : 0;
                    for (int i = b0; i < b0 + 32; i++) qs[i] = Math.max(-127, Math.min(127, Math.rint(scaled[i] * id))) * (double) d;
                }
            } else {
                for (int i = 0; i < hd; i++) qs[i] = scaled[i];
            }
            double[] s = new double[pos + 1];
            double max = o.sinks() != null ? o.sinks()[h] : Double.NEGATIVE_INFINITY;
            for (int j = first; j <= pos; j++) {
                double d = 0;
                for (int i = 0; i < hd; i++) d += qs[i] * k[j * o.kvDim() + kvh * hd + i];
                if (cap > 0) d = cap * Math.tanh(d / cap);
                s[j] = d;
                max = Math.max(max, d);
            }
            double sum = o.sinks() != null ? Math.exp(o.sinks()[h] - max) : 0;
            for (int j = first; j <= pos; j++) sum += Math.exp(s[j] - max);
            for (int j = first; j <= pos; j++) {
                double w = Math.exp(s[j] - max) / sum;
                for (int i = 0; i < hd; i++) out[h * hd + i] += (float) (w * v[j * o.kvDim() + kvh * hd + i]);
            }
        }
        return out;
    }

    static float[] random(int n, SplittableRandom r) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (r.nextDouble() * 2 - 1);
        return a;
    }
}
