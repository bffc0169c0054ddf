package io.sluice.tensor;

import io.sluice.gguf.GGMLType;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;

import static io.sluice.tensor.FormatVectors.F;
import static io.sluice.tensor.FormatVectors.L;
import static io.sluice.tensor.FormatVectors.LE_SHORT;

/** IEEE half precision: each value is 2 little-endian bytes (1 sign, 5 exponent, 10 mantissa bits). */
public final class F16Format implements Format {
    private static final int EXP_REBIAS = (127 - 15) << 23;

    @Override
    public GGMLType type() {
        return GGMLType.F16;
    }

    @Override
    public NativeKernel nativeKernel() {
        return new NativeKernel(Activation.F32, false, true);
    }

    @Override
    public void dequantize(MemorySegment src, long byteOffset, float[] dst, int dstOffset, int n) {
        for (int i = 0; i < n; i++) dst[dstOffset + i] = Float.float16ToFloat(src.get(LE_SHORT, byteOffset + 2L * i));
    }

    @Override
    public float dot(MemorySegment src, long byteOffset, float[] x, int xOffset, int n) {
        int i = 0;
        float sum = 0f;
        if (FormatVectors.ENABLED) {
            FloatVector acc = FloatVector.zero(F);
            for (int bound = n - n % L; i < bound; i += L) {
                FloatVector w = toFloats(FormatVectors.u16(src, byteOffset + 2L * i));
                acc = w.fma(FormatVectors.x(x, xOffset + i), acc);
            }
            sum = acc.reduceLanes(VectorOperators.ADD);
        }
        for (; i < n; i++) sum += Float.float16ToFloat(src.get(LE_SHORT, byteOffset + 2L * i)) * x[xOffset + i];
        return sum;
    }

    /**
     * Widens fp16 bit patterns (zero-extended in int lanes) to floats exactly, without a lookup table:
     * normal numbers by rebiasing the exponent, subnormals as integer * 2^-24, inf/NaN by forcing the
     * exponent field to all ones; the sign bit is copied last.
     */
    static FloatVector toFloats(IntVector h) {
        IntVector em = h.and(0x7FFF);
        IntVector normal = em.lanewise(VectorOperators.LSHL, 13).add(EXP_REBIAS);
        normal = normal.add(EXP_REBIAS, em.compare(VectorOperators.GE, 0x7C00)); // exponent 31 + 2*112 = 255
        FloatVector subnormal = FormatVectors.toFloat(em).mul(0x1p-24f);
        FloatVector magnitude = normal.reinterpretAsFloats().blend(subnormal, em.compare(VectorOperators.LT, 0x400).cast(F));
        IntVector sign = h.and(0x8000).lanewise(VectorOperators.LSHL, 16);
        return magnitude.reinterpretAsInts().or(sign).reinterpretAsFloats();
    }

    @Override
    public void quantize(float[] src, int srcOffset, int n, MemorySegment dst, long byteOffset) {
        for (int i = 0; i < n; i++) dst.set(LE_SHORT, byteOffset + 2L * i, Float.floatToFloat16(src[srcOffset + i]));
    }
}
