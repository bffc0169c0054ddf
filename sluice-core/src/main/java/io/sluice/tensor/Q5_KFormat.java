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
 * Q5_K (ggml block_q5_K): super-blocks of 256 values in 176 bytes, 8 sub-blocks of 32.
 * <pre>
 * offset 0   fp16 d           scale of the sub-block scales
 * offset 2   fp16 dmin        scale of the sub-block mins
 * offset 4   u8 scales[12]    6-bit scales and mins, packed as in Q4_K
 * offset 16  u8 qh[32]        bit j of qh[l] = 5th bit of value l of sub-block j
 * offset 48  u8 qs[128]       low 4 bits: chunk c (0..3) uses qs[32c .. 32c+31], low nibbles for
 *                             sub-block 2c, high nibbles for sub-block 2c+1
 * value = d*sc[j] * q - dmin*m[j], q in 0..31
 * </pre>
 */
public final class Q5_KFormat implements Format {
    static final int BLOCK_BYTES = 176;

    @Override
    public GGMLType type() {
        return GGMLType.Q5_K;
    }

    @Override
    public NativeKernel nativeKernel() {
        return new NativeKernel(Activation.Q8_K, false, true);
    }

    @Override
    public void dequantize(MemorySegment src, long byteOffset, float[] dst, int dstOffset, int n) {
        FormatVectors.checkBlocks(n, QK_K, "Q5_K");
        for (int b = 0; b < n / QK_K; b++) {
            long off = byteOffset + (long) b * BLOCK_BYTES;
            float d = f16(src, off);
            float dmin = f16(src, off + 2);
            int o = dstOffset + b * QK_K;
            for (int c = 0; c < 4; c++) {
                float d1 = d * KQuants.scaleK4(src, off + 4, 2 * c), m1 = dmin * KQuants.minK4(src, off + 4, 2 * c);
                float d2 = d * KQuants.scaleK4(src, off + 4, 2 * c + 1), m2 = dmin * KQuants.minK4(src, off + 4, 2 * c + 1);
                for (int l = 0; l < 32; l++) {
                    int q = u8(src, off + 48 + 32 * c + l);
                    int h = u8(src, off + 16 + l);
                    dst[o + 64 * c + l] = d1 * ((q & 0xF) | ((h >>> (2 * c)) & 1) << 4) - m1;
                    dst[o + 64 * c + 32 + l] = d2 * ((q >>> 4) | ((h >>> (2 * c + 1)) & 1) << 4) - m2;
                }
            }
        }
    }

    /** Per sub-block: d*sc * sum(q*x) - dmin*m * sum(x). */
    @Override
    public float dot(MemorySegment src, long byteOffset, float[] x, int xOffset, int n) {
        FormatVectors.checkBlocks(n, QK_K, "Q5_K");
        int blocks = n / QK_K;
        if (!FormatVectors.ENABLED) return dotScalar(src, byteOffset, x, xOffset, blocks);
        FloatVector acc = FloatVector.zero(F);
        for (int b = 0; b < blocks; b++) {
            long off = byteOffset + (long) b * BLOCK_BYTES;
            float d = f16(src, off);
            float dmin = f16(src, off + 2);
            for (int c = 0; c < 4; c++) {
                int xo = xOffset + b * QK_K + 64 * c;
                FloatVector sq1 = FloatVector.zero(F), sq2 = FloatVector.zero(F);
                FloatVector sx1 = FloatVector.zero(F), sx2 = FloatVector.zero(F);
                for (int t = 0; t < 32; t += L) {
                    IntVector q = FormatVectors.u8(src, off + 48 + 32 * c + t);
                    IntVector h = FormatVectors.u8(src, off + 16 + t);
                    IntVector lo = q.and(0xF).or(h.lanewise(VectorOperators.LSHR, 2 * c).and(1).lanewise(VectorOperators.LSHL, 4));
                    IntVector hi = q.lanewise(VectorOperators.LSHR, 4)
                            .or(h.lanewise(VectorOperators.LSHR, 2 * c + 1).and(1).lanewise(VectorOperators.LSHL, 4));
                    FloatVector x1 = FormatVectors.x(x, xo + t);
                    FloatVector x2 = FormatVectors.x(x, xo + 32 + t);
                    sq1 = FormatVectors.toFloat(lo).fma(x1, sq1);
                    sq2 = FormatVectors.toFloat(hi).fma(x2, sq2);
                    sx1 = sx1.add(x1);
                    sx2 = sx2.add(x2);
                }
                acc = sq1.fma(FloatVector.broadcast(F, d * KQuants.scaleK4(src, off + 4, 2 * c)), acc);
                acc = sq2.fma(FloatVector.broadcast(F, d * KQuants.scaleK4(src, off + 4, 2 * c + 1)), acc);
                acc = sx1.fma(FloatVector.broadcast(F, -dmin * KQuants.minK4(src, off + 4, 2 * c)), acc);
                acc = sx2.fma(FloatVector.broadcast(F, -dmin * KQuants.minK4(src, off + 4, 2 * c + 1)), acc);
            }
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    static float dotScalar(MemorySegment src, long byteOffset, float[] x, int xOffset, int blocks) {
        float sum = 0f;
        for (int b = 0; b < blocks; b++) {
            long off = byteOffset + (long) b * BLOCK_BYTES;
            float d = f16(src, off);
            float dmin = f16(src, off + 2);
            for (int c = 0; c < 4; c++) {
                int xo = xOffset + b * QK_K + 64 * c;
                float sq1 = 0f, sq2 = 0f, sx1 = 0f, sx2 = 0f;
                for (int l = 0; l < 32; l++) {
                    int q = u8(src, off + 48 + 32 * c + l);
                    int h = u8(src, off + 16 + l);
                    sq1 += ((q & 0xF) | ((h >>> (2 * c)) & 1) << 4) * x[xo + l];
                    sq2 += ((q >>> 4) | ((h >>> (2 * c + 1)) & 1) << 4) * x[xo + 32 + l];
                    sx1 += x[xo + l];
                    sx2 += x[xo + 32 + l];
                }
                sum += d * KQuants.scaleK4(src, off + 4, 2 * c) * sq1 + d * KQuants.scaleK4(src, off + 4, 2 * c + 1) * sq2
                        - dmin * KQuants.minK4(src, off + 4, 2 * c) * sx1 - dmin * KQuants.minK4(src, off + 4, 2 * c + 1) * sx2;
            }
        }
        return sum;
    }

    /** Simple range-based fit (see {@link KQuants}); valid ggml Q5_K blocks. */
    @Override
    public void quantize(float[] src, int srcOffset, int n, MemorySegment dst, long byteOffset) {
        FormatVectors.checkBlocks(n, QK_K, "Q5_K");
        int[] sc = new int[8];
        int[] m = new int[8];
        for (int b = 0; b < n / QK_K; b++) {
            int so = srcOffset + b * QK_K;
            long off = byteOffset + (long) b * BLOCK_BYTES;
            float[] dm = KQuants.fitAsymmetric(src, so, 8, 32, 31, 63, sc, m);
            FormatVectors.putF16(dst, off, dm[0]);
            FormatVectors.putF16(dst, off + 2, dm[1]);
            KQuants.putScalesK4(dst, off + 4, sc, m);
            dst.asSlice(off + 16, 32).fill((byte) 0);
            for (int c = 0; c < 4; c++) {
                float d1 = dm[0] * sc[2 * c], m1 = dm[1] * m[2 * c];
                float d2 = dm[0] * sc[2 * c + 1], m2 = dm[1] * m[2 * c + 1];
                for (int l = 0; l < 32; l++) {
                    int lo = KQuants.asymQuant(src[so + 64 * c + l], d1, m1, 31);
                    int hi = KQuants.asymQuant(src[so + 64 * c + 32 + l], d2, m2, 31);
                    dst.set(ValueLayout.JAVA_BYTE, off + 48 + 32 * c + l, (byte) ((lo & 0xF) | ((hi & 0xF) << 4)));
                    int h = u8(dst, off + 16 + l) | (lo >>> 4) << (2 * c) | (hi >>> 4) << (2 * c + 1);
                    dst.set(ValueLayout.JAVA_BYTE, off + 16 + l, (byte) h);
                }
            }
        }
    }
}
