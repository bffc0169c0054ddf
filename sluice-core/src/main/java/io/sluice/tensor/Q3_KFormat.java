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
 * Q3_K (ggml block_q3_K): super-blocks of 256 values in 110 bytes, 16 sub-blocks of 16.
 * <pre>
 * offset 0    u8 hmask[32]    high bits
 * offset 32   u8 qs[64]       low 2 bits
 * offset 96   u8 scales[12]   16 six-bit scales (stored + 32): low 4 bits of scale s in scales[s]
 *                             (s &lt; 8) or the high nibble of scales[s-8]; top 2 bits at bit
 *                             2*(s/4) of scales[8 + s%4]
 * offset 108  fp16 d          super-block scale
 * value e (h = e/128, j = e%128/32, l = e%32):
 *   q = (qs[32h + l] &gt;&gt; 2j &amp; 3) - (bit (4h + j) of hmask[l] set ? 0 : 4)      in -4..3
 *   value = d * (scale[e/16] - 32) * q
 * </pre>
 */
public final class Q3_KFormat implements Format {
    static final int BLOCK_BYTES = 110;

    @Override
    public GGMLType type() {
        return GGMLType.Q3_K;
    }

    @Override
    public NativeKernel nativeKernel() {
        return new NativeKernel(Activation.Q8_K, false, true);
    }

    /** Signed scale of sub-block s (-32..31). */
    static int scale(MemorySegment src, long off, int s) {
        long sc = off + 96;
        int low = s < 8 ? u8(src, sc + s) & 0xF : u8(src, sc + s - 8) >>> 4;
        int high = (u8(src, sc + 8 + (s & 3)) >>> (2 * (s >>> 2))) & 3;
        return (low | high << 4) - 32;
    }

    private static long qsOffset(int s) {
        return 32 + 32 * (s >>> 3) + 16 * (s & 1);
    }

    private static long hmOffset(int s) {
        return 16 * (s & 1);
    }

    private static int lowShift(int s) {
        return 2 * ((s >>> 1) & 3);
    }

    private static int highBit(int s) {
        return 4 * (s >>> 3) + ((s >>> 1) & 3);
    }

    @Override
    public void dequantize(MemorySegment src, long byteOffset, float[] dst, int dstOffset, int n) {
        FormatVectors.checkBlocks(n, QK_K, "Q3_K");
        for (int b = 0; b < n / QK_K; b++) {
            long off = byteOffset + (long) b * BLOCK_BYTES;
            float d = f16(src, off + 108);
            for (int s = 0; s < 16; s++) {
                float dl = d * scale(src, off, s);
                long qs = off + qsOffset(s), hm = off + hmOffset(s);
                int ls = lowShift(s), hb = highBit(s);
                int o = dstOffset + b * QK_K + 16 * s;
                for (int l = 0; l < 16; l++) {
                    int q = ((u8(src, qs + l) >>> ls) & 3) - (((u8(src, hm + l) >>> hb) & 1) != 0 ? 0 : 4);
                    dst[o + l] = dl * q;
                }
            }
        }
    }

    @Override
    public float dot(MemorySegment src, long byteOffset, float[] x, int xOffset, int n) {
        FormatVectors.checkBlocks(n, QK_K, "Q3_K");
        int blocks = n / QK_K;
        if (!FormatVectors.ENABLED) return dotScalar(src, byteOffset, x, xOffset, blocks);
        FloatVector acc = FloatVector.zero(F);
        for (int b = 0; b < blocks; b++) {
            long off = byteOffset + (long) b * BLOCK_BYTES;
            float d = f16(src, off + 108);
            for (int s = 0; s < 16; s++) {
                long qs = off + qsOffset(s), hm = off + hmOffset(s);
                int ls = lowShift(s), hb = highBit(s);
                int xo = xOffset + b * QK_K + 16 * s;
                FloatVector sq = FloatVector.zero(F);
                for (int t = 0; t < 16; t += L) {
                    IntVector low = FormatVectors.u8(src, qs + t).lanewise(VectorOperators.LSHR, ls).and(3);
                    IntVector high = FormatVectors.u8(src, hm + t).lanewise(VectorOperators.LSHR, hb).and(1).lanewise(VectorOperators.LSHL, 2);
                    sq = FormatVectors.toFloat(low.or(high).sub(4)).fma(FormatVectors.x(x, xo + t), sq);
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
            float d = f16(src, off + 108);
            for (int s = 0; s < 16; s++) {
                long qs = off + qsOffset(s), hm = off + hmOffset(s);
                int ls = lowShift(s), hb = highBit(s);
                int xo = xOffset + b * QK_K + 16 * s;
                float sq = 0f;
                for (int l = 0; l < 16; l++) {
                    int q = ((u8(src, qs + l) >>> ls) & 3) | ((u8(src, hm + l) >>> hb) & 1) << 2;
                    sq += (q - 4) * x[xo + l];
                }
                sum += d * scale(src, off, s) * sq;
            }
        }
        return sum;
    }

    /** Simple abs-max fit (see {@link KQuants}); valid ggml Q3_K blocks. */
    @Override
    public void quantize(float[] src, int srcOffset, int n, MemorySegment dst, long byteOffset) {
        FormatVectors.checkBlocks(n, QK_K, "Q3_K");
        int[] sc = new int[16];
        for (int b = 0; b < n / QK_K; b++) {
            int so = srcOffset + b * QK_K;
            long off = byteOffset + (long) b * BLOCK_BYTES;
            float d = KQuants.fitSymmetric(src, so, 16, 16, 4, 32, 31, sc);
            dst.asSlice(off, 108).fill((byte) 0);
            FormatVectors.putF16(dst, off + 108, d);
            for (int s = 0; s < 16; s++) {
                int stored = sc[s] + 32;
                long lowAt = off + 96 + (s < 8 ? s : s - 8);
                dst.set(ValueLayout.JAVA_BYTE, lowAt, (byte) (u8(dst, lowAt) | (stored & 0xF) << (s < 8 ? 0 : 4)));
                long highAt = off + 96 + 8 + (s & 3);
                dst.set(ValueLayout.JAVA_BYTE, highAt, (byte) (u8(dst, highAt) | (stored >>> 4) << (2 * (s >>> 2))));
                float dl = d * sc[s];
                long qs = off + qsOffset(s), hm = off + hmOffset(s);
                int ls = lowShift(s), hb = highBit(s);
                for (int l = 0; l < 16; l++) {
                    int q = KQuants.symQuant(src[so + 16 * s + l], dl, 4) + 4; // 0..7: bit 2 goes to hmask
                    dst.set(ValueLayout.JAVA_BYTE, qs + l, (byte) (u8(dst, qs + l) | (q & 3) << ls));
                    dst.set(ValueLayout.JAVA_BYTE, hm + l, (byte) (u8(dst, hm + l) | (q >>> 2) << hb));
                }
            }
        }
    }
}
