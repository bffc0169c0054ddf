package io.sluice.tensor;

import io.sluice.gguf.GGMLType;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static io.sluice.tensor.FormatVectors.F;
import static io.sluice.tensor.FormatVectors.L;
import static io.sluice.tensor.FormatVectors.LE_INT;
import static io.sluice.tensor.FormatVectors.f16;

/**
 * Q5_1 (ggml block_q5_1): blocks of 32 values in 24 bytes.
 * <pre>
 * offset 0  fp16 d        scale
 * offset 2  fp16 m        minimum
 * offset 4  u32 qh        bit i = 5th (high) bit of value i, little-endian
 * offset 8  u8 qs[16]     value j      = d * ((qs[j] &amp; 0xF) | bit j of qh &lt;&lt; 4) + m
 *                         value j + 16 = d * ((qs[j] &gt;&gt; 4) | bit (j+16) of qh &lt;&lt; 4) + m
 * </pre>
 */
public final class Q5_1Format implements Format {
    static final int QK = 32;
    static final int BLOCK_BYTES = 24;

    @Override
    public GGMLType type() {
        return GGMLType.Q5_1;
    }

    @Override
    public NativeKernel nativeKernel() {
        return new NativeKernel(Activation.Q8_0, false, true);
    }

    @Override
    public void dequantize(MemorySegment src, long byteOffset, float[] dst, int dstOffset, int n) {
        FormatVectors.checkBlocks(n, QK, "Q5_1");
        for (int b = 0; b < n / QK; b++) {
            long off = byteOffset + (long) b * BLOCK_BYTES;
            float d = f16(src, off);
            float m = f16(src, off + 2);
            int qh = src.get(LE_INT, off + 4);
            int o = dstOffset + b * QK;
            for (int j = 0; j < 16; j++) {
                int q = src.get(ValueLayout.JAVA_BYTE, off + 8 + j) & 0xFF;
                dst[o + j] = ((q & 0xF) | ((qh >>> j) & 1) << 4) * d + m;
                dst[o + j + 16] = ((q >>> 4) | ((qh >>> (j + 16)) & 1) << 4) * d + m;
            }
        }
    }

    /** Uses sum((d*q + m) * x) = d * sum(q*x) + m * sum(x). */
    @Override
    public float dot(MemorySegment src, long byteOffset, float[] x, int xOffset, int n) {
        FormatVectors.checkBlocks(n, QK, "Q5_1");
        int blocks = n / QK;
        if (!FormatVectors.ENABLED) return dotScalar(src, byteOffset, x, xOffset, blocks);
        FloatVector acc = FloatVector.zero(F);
        for (int b = 0; b < blocks; b++) {
            long off = byteOffset + (long) b * BLOCK_BYTES;
            int xo = xOffset + b * QK;
            int qh = src.get(LE_INT, off + 4);
            FloatVector sq = FloatVector.zero(F);
            FloatVector sx = FloatVector.zero(F);
            for (int j = 0; j < 16; j += L) {
                IntVector q = FormatVectors.u8(src, off + 8 + j);
                IntVector lo = q.and(0xF).or(FormatVectors.bits(qh, j, 4));
                IntVector hi = q.lanewise(VectorOperators.LSHR, 4).or(FormatVectors.bits(qh, j + 16, 4));
                FloatVector x0 = FormatVectors.x(x, xo + j);
                FloatVector x1 = FormatVectors.x(x, xo + j + 16);
                sq = FormatVectors.toFloat(lo).fma(x0, sq);
                sq = FormatVectors.toFloat(hi).fma(x1, sq);
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
            int qh = src.get(LE_INT, off + 4);
            float sq = 0f;
            float sx = 0f;
            for (int j = 0; j < 16; j++) {
                int q = src.get(ValueLayout.JAVA_BYTE, off + 8 + j) & 0xFF;
                sq += ((q & 0xF) | ((qh >>> j) & 1) << 4) * x[xo + j];
                sq += ((q >>> 4) | ((qh >>> (j + 16)) & 1) << 4) * x[xo + j + 16];
                sx += x[xo + j] + x[xo + j + 16];
            }
            sum += sq * f16(src, off) + sx * f16(src, off + 2);
        }
        return sum;
    }

    /** ggml's quantize_row_q5_1_ref: d = (max - min) / 31, m = min, q = trunc((x - min) / d + 0.5). */
    @Override
    public void quantize(float[] src, int srcOffset, int n, MemorySegment dst, long byteOffset) {
        FormatVectors.checkBlocks(n, QK, "Q5_1");
        for (int b = 0; b < n / QK; b++) {
            int so = srcOffset + b * QK;
            long off = byteOffset + (long) b * BLOCK_BYTES;
            float min = Float.MAX_VALUE;
            float max = -Float.MAX_VALUE;
            for (int j = 0; j < QK; j++) {
                min = Math.min(min, src[so + j]);
                max = Math.max(max, src[so + j]);
            }
            float d = (max - min) / 31;
            float id = d != 0f ? 1f / d : 0f;
            FormatVectors.putF16(dst, off, d);
            FormatVectors.putF16(dst, off + 2, min);
            int qh = 0;
            for (int j = 0; j < 16; j++) {
                int q0 = Math.clamp((int) ((src[so + j] - min) * id + 0.5f), 0, 31);
                int q1 = Math.clamp((int) ((src[so + j + 16] - min) * id + 0.5f), 0, 31);
                dst.set(ValueLayout.JAVA_BYTE, off + 8 + j, (byte) ((q0 & 0xF) | ((q1 & 0xF) << 4)));
                qh |= (q0 >>> 4) << j;
                qh |= (q1 >>> 4) << (j + 16);
            }
            dst.set(LE_INT, off + 4, qh);
        }
    }
}
