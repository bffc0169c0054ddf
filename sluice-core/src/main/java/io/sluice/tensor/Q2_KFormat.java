package io.sluice.tensor;

import io.sluice.gguf.GGMLType;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static io.sluice.tensor.FormatVectors.F;
import static io.sluice.tensor.FormatVectors.L;
import static io.sluice.tensor.FormatVectors.f16;
import static io.sluice.tensor.KQuants.QK_K;
import static io.sluice.tensor.KQuants.u8;

/**
 * Q2_K (ggml block_q2_K): super-blocks of 256 values in 84 bytes, 16 sub-blocks of 16.
 * <pre>
 * offset 0   u8 scales[16]    sub-block s: scale sc = scales[s] &amp; 0xF, min m = scales[s] &gt;&gt; 4
 * offset 16  u8 qs[64]        2-bit quants
 * offset 80  fp16 d           scale of the sub-block scales
 * offset 82  fp16 dmin        scale of the sub-block mins
 * value e (h = e/128, j = e%128/32, l = e%32):
 *   q = qs[32h + l] &gt;&gt; 2j &amp; 3
 *   value = d*sc[e/16] * q - dmin*m[e/16]
 * </pre>
 */
public final class Q2_KFormat implements Format {
    static final int BLOCK_BYTES = 84;

    @Override
    public GGMLType type() {
        return GGMLType.Q2_K;
    }

    @Override
    public NativeKernel nativeKernel() {
        return new NativeKernel(Activation.Q8_K, false, true);
    }

    private static long qsOffset(int s) {
        return 16 + 32 * (s >>> 3) + 16 * (s & 1);
    }

    private static int shift(int s) {
        return 2 * ((s >>> 1) & 3);
    }

    @Override
    public void dequantize(MemorySegment src, long byteOffset, float[] dst, int dstOffset, int n) {
        FormatVectors.checkBlocks(n, QK_K, "Q2_K");
        for (int b = 0; b < n / QK_K; b++) {
            long off = byteOffset + (long) b * BLOCK_BYTES;
            float d = f16(src, off + 80);
            float dmin = f16(src, off + 82);
            for (int s = 0; s < 16; s++) {
                int sm = u8(src, off + s);
                float dl = d * (sm & 0xF), ml = dmin * (sm >>> 4);
                long qs = off + qsOffset(s);
                int sh = shift(s);
                int o = dstOffset + b * QK_K + 16 * s;
                for (int l = 0; l < 16; l++) dst[o + l] = dl * ((u8(src, qs + l) >>> sh) & 3) - ml;
            }
        }
    }

    /** Per sub-block: d*sc * sum(q*x) - dmin*m * sum(x). */
    @Override
    public float dot(MemorySegment src, long byteOffset, float[] x, int xOffset, int n) {
        FormatVectors.checkBlocks(n, QK_K, "Q2_K");
        int blocks = n / QK_K;
        if (!FormatVectors.ENABLED) return dotScalar(src, byteOffset, x, xOffset, blocks);
        FloatVector acc = FloatVector.zero(F);
        for (int b = 0; b < blocks; b++) {
            long off = byteOffset + (long) b * BLOCK_BYTES;
            float d = f16(src, off + 80);
            float dmin = f16(src, off + 82);
            for (int s = 0; s < 16; s++) {
                long qs = off + qsOffset(s);
                int sh = shift(s);
                int xo = xOffset + b * QK_K + 16 * s;
                FloatVector sq = FloatVector.zero(F);
                FloatVector sx = FloatVector.zero(F);
                for (int t = 0; t < 16; t += L) {
                    FloatVector q = FormatVectors.toFloat(FormatVectors.u8(src, qs + t).lanewise(VectorOperators.LSHR, sh).and(3));
                    FloatVector xv = FormatVectors.x(x, xo + t);
                    sq = q.fma(xv, sq);
                    sx = sx.add(xv);
                }
                int sm = u8(src, off + s);
                acc = sq.fma(FloatVector.broadcast(F, d * (sm & 0xF)), acc);
                acc = sx.fma(FloatVector.broadcast(F, -dmin * (sm >>> 4)), acc);
            }
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    static float dotScalar(MemorySegment src, long byteOffset, float[] x, int xOffset, int blocks) {
        float sum = 0f;
        for (int b = 0; b < blocks; b++) {
            long off = byteOffset + (long) b * BLOCK_BYTES;
            float d = f16(src, off + 80);
            float dmin = f16(src, off + 82);
            for (int s = 0; s < 16; s++) {
                long qs = off + qsOffset(s);
                int sh = shift(s);
                int xo = xOffset + b * QK_K + 16 * s;
                float sq = 0f, sx = 0f;
                for (int l = 0; l < 16; l++) {
                    sq += ((u8(src, qs + l) >>> sh) & 3) * x[xo + l];
                    sx += x[xo + l];
                }
                int sm = u8(src, off + s);
                sum += d * (sm & 0xF) * sq - dmin * (sm >>> 4) * sx;
            }
        }
        return sum;
    }

    /** Simple range-based fit (see {@link KQuants}); valid ggml Q2_K blocks. */
    @Override
    public void quantize(float[] src, int srcOffset, int n, MemorySegment dst, long byteOffset) {
        FormatVectors.checkBlocks(n, QK_K, "Q2_K");
        int[] sc = new int[16];
        int[] m = new int[16];
        for (int b = 0; b < n / QK_K; b++) {
            int so = srcOffset + b * QK_K;
            long off = byteOffset + (long) b * BLOCK_BYTES;
            float[] dm = KQuants.fitAsymmetric(src, so, 16, 16, 3, 15, sc, m);
            dst.asSlice(off + 16, 64).fill((byte) 0);
            FormatVectors.putF16(dst, off + 80, dm[0]);
            FormatVectors.putF16(dst, off + 82, dm[1]);
            for (int s = 0; s < 16; s++) {
                dst.set(ValueLayout.JAVA_BYTE, off + s, (byte) (sc[s] | m[s] << 4));
                float dl = dm[0] * sc[s], ml = dm[1] * m[s];
                long qs = off + qsOffset(s);
                int sh = shift(s);
                for (int l = 0; l < 16; l++) {
                    int q = KQuants.asymQuant(src[so + 16 * s + l], dl, ml, 3);
                    dst.set(ValueLayout.JAVA_BYTE, qs + l, (byte) (u8(dst, qs + l) | q << sh));
                }
            }
        }
    }
}
