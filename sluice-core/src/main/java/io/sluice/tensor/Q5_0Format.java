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
 * Q5_0 (ggml block_q5_0): blocks of 32 values in 22 bytes.
 * <pre>
 * offset 0  fp16 d        scale
 * offset 2  u32 qh        bit i = 5th (high) bit of value i, little-endian
 * offset 6  u8 qs[16]     value j      = d * (((qs[j] &amp; 0xF) | bit j of qh &lt;&lt; 4) - 16)
 *                         value j + 16 = d * (((qs[j] &gt;&gt; 4) | bit (j+16) of qh &lt;&lt; 4) - 16)
 * </pre>
 */
public final class Q5_0Format implements Format {
    static final int QK = 32;
    static final int BLOCK_BYTES = 22;

    @Override
    public GGMLType type() {
        return GGMLType.Q5_0;
    }

    @Override
    public NativeKernel nativeKernel() {
        return new NativeKernel(Activation.Q8_0, false, true);
    }

    @Override
    public void dequantize(MemorySegment src, long byteOffset, float[] dst, int dstOffset, int n) {
        FormatVectors.checkBlocks(n, QK, "Q5_0");
        for (int b = 0; b < n / QK; b++) {
            long off = byteOffset + (long) b * BLOCK_BYTES;
            float d = f16(src, off);
            int qh = src.get(LE_INT, off + 2);
            int o = dstOffset + b * QK;
            for (int j = 0; j < 16; j++) {
                int q = src.get(ValueLayout.JAVA_BYTE, off + 6 + j) & 0xFF;
                dst[o + j] = (((q & 0xF) | ((qh >>> j) & 1) << 4) - 16) * d;
                dst[o + j + 16] = (((q >>> 4) | ((qh >>> (j + 16)) & 1) << 4) - 16) * d;
            }
        }
    }

    @Override
    public float dot(MemorySegment src, long byteOffset, float[] x, int xOffset, int n) {
        FormatVectors.checkBlocks(n, QK, "Q5_0");
        int blocks = n / QK;
        if (!FormatVectors.ENABLED) return dotScalar(src, byteOffset, x, xOffset, blocks);
        FloatVector acc = FloatVector.zero(F);
        for (int b = 0; b < blocks; b++) {
            long off = byteOffset + (long) b * BLOCK_BYTES;
            int xo = xOffset + b * QK;
            int qh = src.get(LE_INT, off + 2);
            FloatVector s = FloatVector.zero(F);
            for (int j = 0; j < 16; j += L) {
                IntVector q = FormatVectors.u8(src, off + 6 + j);
                IntVector lo = q.and(0xF).or(FormatVectors.bits(qh, j, 4)).sub(16);
                IntVector hi = q.lanewise(VectorOperators.LSHR, 4).or(FormatVectors.bits(qh, j + 16, 4)).sub(16);
                s = FormatVectors.toFloat(lo).fma(FormatVectors.x(x, xo + j), s);
                s = FormatVectors.toFloat(hi).fma(FormatVectors.x(x, xo + j + 16), s);
            }
            acc = s.fma(FloatVector.broadcast(F, f16(src, off)), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    static float dotScalar(MemorySegment src, long byteOffset, float[] x, int xOffset, int blocks) {
        float sum = 0f;
        for (int b = 0; b < blocks; b++) {
            long off = byteOffset + (long) b * BLOCK_BYTES;
            int xo = xOffset + b * QK;
            int qh = src.get(LE_INT, off + 2);
            float s = 0f;
            for (int j = 0; j < 16; j++) {
                int q = src.get(ValueLayout.JAVA_BYTE, off + 6 + j) & 0xFF;
                s += (((q & 0xF) | ((qh >>> j) & 1) << 4) - 16) * x[xo + j];
                s += (((q >>> 4) | ((qh >>> (j + 16)) & 1) << 4) - 16) * x[xo + j + 16];
            }
            sum += s * f16(src, off);
        }
        return sum;
    }

    /** ggml's quantize_row_q5_0_ref: d = max / -16 (max = value of largest magnitude), q = min(31, trunc(x / d + 16.5)). */
    @Override
    public void quantize(float[] src, int srcOffset, int n, MemorySegment dst, long byteOffset) {
        FormatVectors.checkBlocks(n, QK, "Q5_0");
        for (int b = 0; b < n / QK; b++) {
            int so = srcOffset + b * QK;
            long off = byteOffset + (long) b * BLOCK_BYTES;
            float max = FormatVectors.extreme(src, so, QK);
            float d = max / -16;
            float id = d != 0f ? 1f / d : 0f;
            FormatVectors.putF16(dst, off, d);
            int qh = 0;
            for (int j = 0; j < 16; j++) {
                int q0 = Math.clamp((int) (src[so + j] * id + 16.5f), 0, 31);
                int q1 = Math.clamp((int) (src[so + j + 16] * id + 16.5f), 0, 31);
                dst.set(ValueLayout.JAVA_BYTE, off + 6 + j, (byte) ((q0 & 0xF) | ((q1 & 0xF) << 4)));
                qh |= (q0 >>> 4) << j;
                qh |= (q1 >>> 4) << (j + 16);
            }
            dst.set(LE_INT, off + 2, qh);
        }
    }
}
