package io.sluice.tensor;

import io.sluice.gguf.GGMLType;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/** Plain little-endian float32. */
public final class F32Format implements Format {
    static final ValueLayout.OfFloat LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    @Override
    public GGMLType type() {
        return GGMLType.F32;
    }

    @Override
    public void dequantize(MemorySegment src, long byteOffset, float[] dst, int dstOffset, int n) {
        MemorySegment.copy(src, LE, byteOffset, dst, dstOffset, n);
    }

    @Override
    public float dot(MemorySegment src, long byteOffset, float[] x, int xOffset, int n) {
        FloatVector acc = FloatVector.zero(S);
        int i = 0;
        int bound = S.loopBound(n);
        for (; i < bound; i += S.length()) {
            FloatVector w = FloatVector.fromMemorySegment(S, src, byteOffset + 4L * i, ByteOrder.LITTLE_ENDIAN);
            acc = w.fma(FloatVector.fromArray(S, x, xOffset + i), acc);
        }
        float sum = acc.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) sum += src.get(LE, byteOffset + 4L * i) * x[xOffset + i];
        return sum;
    }

    @Override
    public void quantize(float[] src, int srcOffset, int n, MemorySegment dst, long byteOffset) {
        MemorySegment.copy(src, srcOffset, dst, LE, byteOffset, n);
    }
}
