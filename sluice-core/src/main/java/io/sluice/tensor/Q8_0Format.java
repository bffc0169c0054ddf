package io.sluice.tensor;

import io.sluice.gguf.GGMLType;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static io.sluice.tensor.FormatVectors.F;
import static io.sluice.tensor.FormatVectors.L;
import static io.sluice.tensor.FormatVectors.f16;

/**
 * Q8_0 (ggml block_q8_0): blocks of 32 values in 34 bytes.
 * <pre>
 * offset 0  fp16 d        scale
 * offset 2  int8 q[32]    value i = d * q[i]
 * </pre>
 */
public final class Q8_0Format implements Format {
    static final int QK = 32;
    static final int BLOCK_BYTES = 34;

    @Override
    public GGMLType type() {
        return GGMLType.Q8_0;
    }

    @Override
    public NativeKernel nativeKernel() {
        return new NativeKernel(Activation.Q8_0, true, true);
    }

    @Override
    public void dequantize(MemorySegment src, long byteOffset, float[] dst, int dstOffset, int n) {
        FormatVectors.checkBlocks(n, QK, "Q8_0");
        for (int b = 0; b < n / QK; b++) {
            long off = byteOffset + (long) b * BLOCK_BYTES;
            float d = f16(src, off);
            int o = dstOffset + b * QK;
            for (int j = 0; j < QK; j++) dst[o + j] = src.get(ValueLayout.JAVA_BYTE, off + 2 + j) * d;
        }
    }

    @Override
    public float dot(MemorySegment src, long byteOffset, float[] x, int xOffset, int n) {
        FormatVectors.checkBlocks(n, QK, "Q8_0");
        int blocks = n / QK;
        if (!FormatVectors.ENABLED) return dotScalar(src, byteOffset, x, xOffset, blocks);
        FloatVector acc = FloatVector.zero(F);
        for (int b = 0; b < blocks; b++) {
            long off = byteOffset + (long) b * BLOCK_BYTES;
            int xo = xOffset + b * QK;
            FloatVector s = FloatVector.zero(F);
            for (int j = 0; j < QK; j += L) {
                s = FormatVectors.s8f(src, off + 2 + j).fma(FormatVectors.x(x, xo + j), s);
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
            float s = 0f;
            for (int j = 0; j < QK; j++) s += src.get(ValueLayout.JAVA_BYTE, off + 2 + j) * x[xo + j];
            sum += s * f16(src, off);
        }
        return sum;
    }

    /** ggml's quantize_row_q8_0_ref: d = absmax / 127, q = round(x / d). Allocation free. */
    @Override
    public void quantize(float[] src, int srcOffset, int n, MemorySegment dst, long byteOffset) {
        FormatVectors.checkBlocks(n, QK, "Q8_0");
        for (int b = 0; b < n / QK; b++) {
            int so = srcOffset + b * QK;
            long off = byteOffset + (long) b * BLOCK_BYTES;
            float amax = 0f;
            for (int j = 0; j < QK; j++) amax = Math.max(amax, Math.abs(src[so + j]));
            float d = amax / 127;
            float id = d != 0f ? 1f / d : 0f;
            FormatVectors.putF16(dst, off, d);
            for (int j = 0; j < QK; j++) {
                dst.set(ValueLayout.JAVA_BYTE, off + 2 + j, (byte) FormatVectors.clampRound(src[so + j] * id, -128, 127));
            }
        }
    }
}
