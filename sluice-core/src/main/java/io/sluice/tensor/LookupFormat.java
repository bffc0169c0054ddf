package io.sluice.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;

import static io.sluice.tensor.FormatVectors.F;
import static io.sluice.tensor.FormatVectors.L;

/**
 * Shared by the formats whose values come out of lookup tables (non-linear levels, lattice
 * points, ternary digits), where per-value lookups do not map onto vector lanes: each block is
 * decoded into floats by the format ({@link #decode}, the same arithmetic as ggml's
 * dequantize_row_*), and the dot product multiplies a decoded block with vector FMAs.
 */
abstract class LookupFormat implements Format {
    private static final ThreadLocal<float[]> BLOCK = ThreadLocal.withInitial(() -> new float[256]);

    /** Decodes the block at {@code off} into dst[o .. o + blockValues()). */
    abstract void decode(MemorySegment src, long off, float[] dst, int o);

    @Override
    public final void dequantize(MemorySegment src, long byteOffset, float[] dst, int dstOffset, int n) {
        int bv = blockValues(), bb = blockBytes();
        FormatVectors.checkBlocks(n, bv, type().name());
        for (int b = 0; b < n / bv; b++) decode(src, byteOffset + (long) b * bb, dst, dstOffset + b * bv);
    }

    @Override
    public final float dot(MemorySegment src, long byteOffset, float[] x, int xOffset, int n) {
        int bv = blockValues(), bb = blockBytes();
        FormatVectors.checkBlocks(n, bv, type().name());
        float[] w = BLOCK.get();
        if (!FormatVectors.ENABLED) {
            float sum = 0f;
            for (int b = 0; b < n / bv; b++) {
                decode(src, byteOffset + (long) b * bb, w, 0);
                for (int i = 0; i < bv; i++) sum += w[i] * x[xOffset + b * bv + i];
            }
            return sum;
        }
        FloatVector acc = FloatVector.zero(F);
        for (int b = 0; b < n / bv; b++) {
            decode(src, byteOffset + (long) b * bb, w, 0);
            int xo = xOffset + b * bv;
            for (int i = 0; i < bv; i += L) acc = FloatVector.fromArray(F, w, i).fma(FloatVector.fromArray(F, x, xo + i), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    /**
     * The sign-magnitude grids (IQ2, IQ3): dst[o + j] = db * grid[p + j] negated where bit j of
     * {@code signs} is set, for the n values of one grid point.
     */
    static void signedPoint(float[] dst, int o, float db, byte[] grid, int p, int signs, int n) {
        for (int j = 0; j < n; j++) dst[o + j] = db * (grid[p + j] & 0xFF) * ((signs >>> j & 1) != 0 ? -1.f : 1.f);
    }

    static int u8(MemorySegment s, long off) {
        return KQuants.u8(s, off);
    }

    static int u16(MemorySegment s, long off) {
        return s.get(FormatVectors.LE_SHORT, off) & 0xFFFF;
    }

    static int u32(MemorySegment s, long off) {
        return s.get(FormatVectors.LE_INT, off);
    }
}
