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
 * Q4_0 (ggml block_q4_0): blocks of 32 values in 18 bytes.
 * <pre>
 * offset 0  fp16 d        scale
 * offset 2  u8 qs[16]     value j      = d * ((qs[j] &amp; 0xF) - 8)
 *                         value j + 16 = d * ((qs[j] &gt;&gt; 4) - 8)
 * </pre>
 */
public final class Q4_0Format implements Format {
    static final int QK = 32;
    static final int BLOCK_BYTES = 18;

    @Override
    public GGMLType type() {
        return GGMLType.Q4_0;
    }

    @Override
    public NativeKernel nativeKernel() {
        return new NativeKernel(Activation.Q8_0, true, true);
    }

    @Override
    public void dequantize(MemorySegment src, long byteOffset, float[] dst, int dstOffset, int n) {
        FormatVectors.checkBlocks(n, QK, "Q4_0");
        for (int b = 0; b < n / QK; b++) {
            long off = byteOffset + (long) b * BLOCK_BYTES;
            float d = f16(src, off);
            int o = dstOffset + b * QK;
            for (int j = 0; j < 16; j++) {
                int q = src.get(ValueLayout.JAVA_BYTE, off + 2 + j) & 0xFF;
                dst[o + j] = ((q & 0xF) - 8) * d;
                dst[o + j + 16] = ((q >>> 4) - 8) * d;
            }
        }
    }

    @Override
    public float dot(MemorySegment src, long byteOffset, float[] x, int xOffset, int n) {
        FormatVectors.checkBlocks(n, QK, "Q4_0");
        int blocks = n / QK;
        if (!FormatVectors.ENABLED) return dotScalar(src, byteOffset, x, xOffset, blocks);
        FloatVector acc = FloatVector.zero(F);
        for (int b = 0; b < blocks; b++) {
            long off = byteOffset + (long) b * BLOCK_BYTES;
            int xo = xOffset + b * QK;
            FloatVector s = FloatVector.zero(F);
            for (int j = 0; j < 16; j += L) {
                ByteVector q = ByteVector.fromMemorySegment(B, src, off + 2 + j, LE);
                FloatVector lo = (FloatVector) q.and((byte) 0xF).sub((byte) 8).convertShape(VectorOperators.B2F, F, 0);
                FloatVector hi = (FloatVector) q.lanewise(VectorOperators.LSHR, 4).sub((byte) 8).convertShape(VectorOperators.B2F, F, 0);
                s = lo.fma(FormatVectors.x(x, xo + j), s);
                s = hi.fma(FormatVectors.x(x, xo + j + 16), s);
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
            for (int j = 0; j < 16; j++) {
                int q = src.get(ValueLayout.JAVA_BYTE, off + 2 + j) & 0xFF;
                s += ((q & 0xF) - 8) * x[xo + j] + ((q >>> 4) - 8) * x[xo + j + 16];
            }
            sum += s * f16(src, off);
        }
        return sum;
    }

    /**
     * ggml's quantize_row_q4_0_ref: the value of largest magnitude maps to -8 exactly,
     * d = max / -8, q = min(15, trunc(x / d + 8.5)).
     */
    @Override
    public void quantize(float[] src, int srcOffset, int n, MemorySegment dst, long byteOffset) {
        FormatVectors.checkBlocks(n, QK, "Q4_0");
        for (int b = 0; b < n / QK; b++) {
            int so = srcOffset + b * QK;
            long off = byteOffset + (long) b * BLOCK_BYTES;
            float max = FormatVectors.extreme(src, so, QK);
            float d = max / -8;
            float id = d != 0f ? 1f / d : 0f;
            FormatVectors.putF16(dst, off, d);
            for (int j = 0; j < 16; j++) {
                int q0 = nibble(src[so + j] * id);
                int q1 = nibble(src[so + j + 16] * id);
                dst.set(ValueLayout.JAVA_BYTE, off + 2 + j, (byte) (q0 | (q1 << 4)));
            }
        }
    }

    private static int nibble(float scaled) {
        return Math.clamp((int) (scaled + 8.5f), 0, 15);
    }
}
