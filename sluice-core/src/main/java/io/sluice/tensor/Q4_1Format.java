package io.sluice.tensor;

import io.sluice.gguf.GGMLType;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static io.sluice.tensor.FormatVectors.B;
import static io.sluice.tensor.FormatVectors.F;
import static io.sluice.tensor.FormatVectors.L;
import static io.sluice.tensor.FormatVectors.LE;
import static io.sluice.tensor.FormatVectors.f16;

/**
 * Q4_1 (ggml block_q4_1): blocks of 32 values in 20 bytes.
 * <pre>
 * offset 0  fp16 d        scale
 * offset 2  fp16 m        minimum
 * offset 4  u8 qs[16]     value j      = d * (qs[j] &amp; 0xF) + m
 *                         value j + 16 = d * (qs[j] &gt;&gt; 4) + m
 * </pre>
 */
public final class Q4_1Format implements Format {
    static final int QK = 32;
    static final int BLOCK_BYTES = 20;

    @Override
    public GGMLType type() {
        return GGMLType.Q4_1;
    }

    @Override
    public NativeKernel nativeKernel() {
        return new NativeKernel(Activation.Q8_0, false, true);
    }

    @Override
    public void dequantize(MemorySegment src, long byteOffset, float[] dst, int dstOffset, int n) {
        FormatVectors.checkBlocks(n, QK, "Q4_1");
        for (int b = 0; b < n / QK; b++) {
            long off = byteOffset + (long) b * BLOCK_BYTES;
            float d = f16(src, off);
            float m = f16(src, off + 2);
            int o = dstOffset + b * QK;
            for (int j = 0; j < 16; j++) {
                int q = src.get(ValueLayout.JAVA_BYTE, off + 4 + j) & 0xFF;
                dst[o + j] = (q & 0xF) * d + m;
                dst[o + j + 16] = (q >>> 4) * d + m;
            }
        }
    }

    /** Uses sum((d*q + m) * x) = d * sum(q*x) + m * sum(x). */
    @Override
    public float dot(MemorySegment src, long byteOffset, float[] x, int xOffset, int n) {
        FormatVectors.checkBlocks(n, QK, "Q4_1");
        int blocks = n / QK;
        if (!FormatVectors.ENABLED) return dotScalar(src, byteOffset, x, xOffset, blocks);
        FloatVector acc = FloatVector.zero(F);
        for (int b = 0; b < blocks; b++) {
            long off = byteOffset + (long) b * BLOCK_BYTES;
            int xo = xOffset + b * QK;
            FloatVector sq = FloatVector.zero(F);
            FloatVector sx = FloatVector.zero(F);
            for (int j = 0; j < 16; j += L) {
                ByteVector q = ByteVector.fromMemorySegment(B, src, off + 4 + j, LE);
                FloatVector lo = (FloatVector) q.and((byte) 0xF).convertShape(VectorOperators.B2F, F, 0);
                FloatVector hi = (FloatVector) q.lanewise(VectorOperators.LSHR, 4).convertShape(VectorOperators.B2F, F, 0);
                FloatVector x0 = FormatVectors.x(x, xo + j);
                FloatVector x1 = FormatVectors.x(x, xo + j + 16);
                sq = lo.fma(x0, sq);
                sq = hi.fma(x1, sq);
                sx = sx.add(x0).add(x1);
            }
            acc = sq.fma(FloatVector.broadcast(F, f16(src, off)), acc);
            acc = sx.fma(FloatVector.broadcast(F, f16(src, off + 2)), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    static float dotScalar(MemorySegment src, long byteOffset, float[] x, int xOffset, int blocks) {
        float sum = 0f;
        for (int b = 0; b < blocks; b++) {
            long off = byteOffset + (long) b * BLOCK_BYTES;
            int xo = xOffset + b * QK;
            float sq = 0f;
            float sx = 0f;
            for (int j = 0; j < 16; j++) {
                int q = src.get(ValueLayout.JAVA_BYTE, off + 4 + j) & 0xFF;
                sq += (q & 0xF) * x[xo + j] + (q >>> 4) * x[xo + j + 16];
                sx += x[xo + j] + x[xo + j + 16];
            }
            sum += sq * f16(src, off) + sx * f16(src, off + 2);
        }
        return sum;
    }

    /** ggml's quantize_row_q4_1_ref: d = (max - min) / 15, m = min, q = min(15, trunc((x - min) / d + 0.5)). */
    @Override
    public void quantize(float[] src, int srcOffset, int n, MemorySegment dst, long byteOffset) {
        FormatVectors.checkBlocks(n, QK, "Q4_1");
        for (int b = 0; b < n / QK; b++) {
            int so = srcOffset + b * QK;
            long off = byteOffset + (long) b * BLOCK_BYTES;
            float min = Float.MAX_VALUE;
            float max = -Float.MAX_VALUE;
            for (int j = 0; j < QK; j++) {
                min = Math.min(min, src[so + j]);
                max = Math.max(max, src[so + j]);
            }
            float d = (max - min) / 15;
            float id = d != 0f ? 1f / d : 0f;
            FormatVectors.putF16(dst, off, d);
            FormatVectors.putF16(dst, off + 2, min);
            for (int j = 0; j < 16; j++) {
                int q0 = Math.clamp((int) ((src[so + j] - min) * id + 0.5f), 0, 15);
                int q1 = Math.clamp((int) ((src[so + j + 16] - min) * id + 0.5f), 0, 15);
                dst.set(ValueLayout.JAVA_BYTE, off + 4 + j, (byte) (q0 | (q1 << 4)));
            }
        }
    }
}
