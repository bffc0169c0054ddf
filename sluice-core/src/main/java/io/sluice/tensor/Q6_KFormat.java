package io.sluice.tensor;

import io.sluice.gguf.GGMLType;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static io.sluice.tensor.FormatVectors.F;
import static io.sluice.tensor.FormatVectors.L;
import static io.sluice.tensor.FormatVectors.f16;
import static io.sluice.tensor.KQuants.QK_K;
import static io.sluice.tensor.KQuants.u8;

/**
 * Q6_K (ggml block_q6_K): super-blocks of 256 values in 210 bytes, 16 sub-blocks of 16.
 * <pre>
 * offset 0    u8 ql[128]      low 4 bits
 * offset 128  u8 qh[64]       high 2 bits
 * offset 192  i8 scales[16]   one signed scale per sub-block
 * offset 208  fp16 d          super-block scale
 * value e (h = e/128, g = e%128/32, l = e%32):
 *   q = (ql[64h + 32(g&amp;1) + l] &gt;&gt; 4(g&gt;&gt;1) &amp; 0xF) | (qh[32h + l] &gt;&gt; 2g &amp; 3) &lt;&lt; 4
 *   value = d * scales[e/16] * (q - 32)
 * </pre>
 */
public final class Q6_KFormat implements Format {
    static final int BLOCK_BYTES = 210;

    @Override
    public GGMLType type() {
        return GGMLType.Q6_K;
    }

    @Override
    public NativeKernel nativeKernel() {
        return new NativeKernel(Activation.Q8_K, true, true);
    }

    private static long qlOffset(int s) {
        return 64 * (s >>> 3) + 32 * ((s >>> 1) & 1) + 16 * (s & 1);
    }

    private static long qhOffset(int s) {
        return 128 + 32 * (s >>> 3) + 16 * (s & 1);
    }

    private static int nibbleShift(int s) {
        return 4 * ((s >>> 2) & 1);
    }

    private static int highShift(int s) {
        return 2 * ((s >>> 1) & 3);
    }

    private static int scale(MemorySegment src, long off, int s) {
        return src.get(ValueLayout.JAVA_BYTE, off + 192 + s);
    }

    @Override
    public void dequantize(MemorySegment src, long byteOffset, float[] dst, int dstOffset, int n) {
        FormatVectors.checkBlocks(n, QK_K, "Q6_K");
        for (int b = 0; b < n / QK_K; b++) {
            long off = byteOffset + (long) b * BLOCK_BYTES;
            float d = f16(src, off + 208);
            for (int s = 0; s < 16; s++) {
                float dl = d * scale(src, off, s);
                long ql = off + qlOffset(s), qh = off + qhOffset(s);
                int ns = nibbleShift(s), hs = highShift(s);
                int o = dstOffset + b * QK_K + 16 * s;
                for (int l = 0; l < 16; l++) {
                    int q = ((u8(src, ql + l) >>> ns) & 0xF) | ((u8(src, qh + l) >>> hs) & 3) << 4;
                    dst[o + l] = dl * (q - 32);
                }
            }
        }
    }

    @Override
    public float dot(MemorySegment src, long byteOffset, float[] x, int xOffset, int n) {
        FormatVectors.checkBlocks(n, QK_K, "Q6_K");
        int blocks = n / QK_K;
        if (!FormatVectors.ENABLED) return dotScalar(src, byteOffset, x, xOffset, blocks);
        FloatVector acc = FloatVector.zero(F);
        for (int b = 0; b < blocks; b++) {
            long off = byteOffset + (long) b * BLOCK_BYTES;
            float d = f16(src, off + 208);
            for (int s = 0; s < 16; s++) {
                long ql = off + qlOffset(s), qh = off + qhOffset(s);
                int ns = nibbleShift(s), hs = highShift(s);
                int xo = xOffset + b * QK_K + 16 * s;
                FloatVector sq = FloatVector.zero(F);
                for (int t = 0; t < 16; t += L) {
                    IntVector lo = FormatVectors.u8(src, ql + t).lanewise(VectorOperators.LSHR, ns).and(0xF);
                    IntVector hi = FormatVectors.u8(src, qh + t).lanewise(VectorOperators.LSHR, hs).and(3).lanewise(VectorOperators.LSHL, 4);
                    sq = FormatVectors.toFloat(lo.or(hi).sub(32)).fma(FormatVectors.x(x, xo + t), sq);
                }
                acc = sq.fma(FloatVector.broadcast(F, d * scale(src, off, s)), acc);
            }
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    static float dotScalar(MemorySegment src, long byteOffset, float[] x, int xOffset, int blocks) {
        float sum = 0f;
        for (int b = 0; b < blocks; b++) {
            long off = byteOffset + (long) b * BLOCK_BYTES;
            float d = f16(src, off + 208);
            for (int s = 0; s < 16; s++) {
                long ql = off + qlOffset(s), qh = off + qhOffset(s);
                int ns = nibbleShift(s), hs = highShift(s);
                int xo = xOffset + b * QK_K + 16 * s;
                float sq = 0f;
                for (int l = 0; l < 16; l++) {
                    int q = ((u8(src, ql + l) >>> ns) & 0xF) | ((u8(src, qh + l) >>> hs) & 3) << 4;
                    sq += (q - 32) * x[xo + l];
                }
                sum += d * scale(src, off, s) * sq;
            }
        }
        return sum;
    }

    /** Simple abs-max fit (see {@link KQuants}); valid ggml Q6_K blocks. */
    @Override
    public void quantize(float[] src, int srcOffset, int n, MemorySegment dst, long byteOffset) {
        FormatVectors.checkBlocks(n, QK_K, "Q6_K");
        int[] sc = new int[16];
        for (int b = 0; b < n / QK_K; b++) {
            int so = srcOffset + b * QK_K;
            long off = byteOffset + (long) b * BLOCK_BYTES;
            float d = KQuants.fitSymmetric(src, so, 16, 16, 32, 128, 127, sc);
            FormatVectors.putF16(dst, off + 208, d);
            dst.asSlice(off, 192).fill((byte) 0);
            for (int s = 0; s < 16; s++) {
                dst.set(ValueLayout.JAVA_BYTE, off + 192 + s, (byte) sc[s]);
                float dl = d * sc[s];
                long ql = off + qlOffset(s), qh = off + qhOffset(s);
                int ns = nibbleShift(s), hs = highShift(s);
                for (int l = 0; l < 16; l++) {
                    int q = KQuants.symQuant(src[so + 16 * s + l], dl, 32) + 32;
                    dst.set(ValueLayout.JAVA_BYTE, ql + l, (byte) (u8(dst, ql + l) | (q & 0xF) << ns));
                    dst.set(ValueLayout.JAVA_BYTE, qh + l, (byte) (u8(dst, qh + l) | (q >>> 4) << hs));
                }
            }
        }
    }
}
