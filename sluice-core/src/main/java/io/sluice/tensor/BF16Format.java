package io.sluice.tensor;

import io.sluice.gguf.GGMLType;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;

import static io.sluice.tensor.FormatVectors.F;
import static io.sluice.tensor.FormatVectors.L;
import static io.sluice.tensor.FormatVectors.LE_SHORT;

/** bfloat16: each value is 2 little-endian bytes holding the upper 16 bits of a float32. */
public final class BF16Format implements Format {

    @Override
    public GGMLType type() {
        return GGMLType.BF16;
    }

    @Override
    public NativeKernel nativeKernel() {
        return new NativeKernel(Activation.BF16, false, true);
    }

    @Override
    public void dequantize(MemorySegment src, long byteOffset, float[] dst, int dstOffset, int n) {
        for (int i = 0; i < n; i++) dst[dstOffset + i] = Half.bf16ToF32(src.get(LE_SHORT, byteOffset + 2L * i));
    }

    @Override
    public float dot(MemorySegment src, long byteOffset, float[] x, int xOffset, int n) {
        int i = 0;
        float sum = 0f;
        if (FormatVectors.ENABLED) {
            FloatVector acc = FloatVector.zero(F);
            for (int bound = n - n % L; i < bound; i += L) {
                FloatVector w = FormatVectors.u16(src, byteOffset + 2L * i).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
                acc = w.fma(FormatVectors.x(x, xOffset + i), acc);
            }
            sum = acc.reduceLanes(VectorOperators.ADD);
        }
        for (; i < n; i++) sum += Half.bf16ToF32(src.get(LE_SHORT, byteOffset + 2L * i)) * x[xOffset + i];
        return sum;
    }

    @Override
    public void quantize(float[] src, int srcOffset, int n, MemorySegment dst, long byteOffset) {
        for (int i = 0; i < n; i++) dst.set(LE_SHORT, byteOffset + 2L * i, Half.f32ToBf16(src[srcOffset + i]));
    }
}
