package io.sluice.tensor;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Shared pieces of the format kernels: the vector species they use, little-endian layouts, and
 * loads that widen L stored bytes into L int or float lanes, L being the preferred float lane count.
 *
 * <p>The block kernels walk sub-blocks of 16 or 32 values in steps of L, so they need L to be 8 or
 * 16 (AVX2 / AVX-512). Anything else ({@link #ENABLED} false) takes each format's scalar path.
 */
final class FormatVectors {
    private FormatVectors() {
    }

    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    static final int L = F.length();
    static final boolean ENABLED = L == 8 || L == 16;
    static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());
    /** L byte lanes (only meaningful when ENABLED). */
    static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorShape.forBitSize(ENABLED ? L * 8 : 64));
    /** L short lanes (only meaningful when ENABLED). */
    static final VectorSpecies<Short> S = VectorSpecies.of(short.class, VectorShape.forBitSize(ENABLED ? L * 16 : 128));

    static final ValueLayout.OfShort LE_SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt LE_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    /** 0, 1, 2, ...: per-lane bit positions for expanding packed bit masks. */
    static final int[] IOTA = new int[64];

    static {
        for (int i = 0; i < IOTA.length; i++) IOTA[i] = i;
    }

    /** The fp16 value stored at {@code off}. */
    static float f16(MemorySegment s, long off) {
        return Float.float16ToFloat(s.get(LE_SHORT, off));
    }

    static void putF16(MemorySegment s, long off, float v) {
        s.set(LE_SHORT, off, Float.floatToFloat16(v));
    }

    /** L unsigned bytes at {@code off} as int lanes. */
    static IntVector u8(MemorySegment s, long off) {
        return (IntVector) ByteVector.fromMemorySegment(B, s, off, LE).convertShape(VectorOperators.ZERO_EXTEND_B2I, I, 0);
    }

    /** L signed bytes at {@code off} as float lanes. */
    static FloatVector s8f(MemorySegment s, long off) {
        return (FloatVector) ByteVector.fromMemorySegment(B, s, off, LE).convertShape(VectorOperators.B2F, F, 0);
    }

    /** L signed bytes at {@code off} as int lanes. */
    static IntVector s8(MemorySegment s, long off) {
        return (IntVector) ByteVector.fromMemorySegment(B, s, off, LE).convertShape(VectorOperators.B2I, I, 0);
    }

    /** L little-endian 16-bit values at {@code off}, zero-extended into int lanes. */
    static IntVector u16(MemorySegment s, long off) {
        return (IntVector) ShortVector.fromMemorySegment(S, s, off, LE).convertShape(VectorOperators.ZERO_EXTEND_S2I, I, 0);
    }

    static FloatVector toFloat(IntVector v) {
        return (FloatVector) v.convert(VectorOperators.I2F, 0);
    }

    /** Lanes k = 0..L-1 get bit (first + k) of {@code bits}, moved to bit position {@code to}. */
    static IntVector bits(int bits, int first, int to) {
        IntVector shifts = IntVector.fromArray(I, IOTA, first);
        return IntVector.broadcast(I, bits).lanewise(VectorOperators.LSHR, shifts).and(1).lanewise(VectorOperators.LSHL, to);
    }

    static FloatVector x(float[] x, int off) {
        return FloatVector.fromArray(F, x, off);
    }

    /** ggml's roundf: halves round away from zero. */
    static int roundAway(float v) {
        return v >= 0 ? Math.round(v) : -Math.round(-v);
    }

    /** Nearest integer (halves away from zero), clamped to [lo, hi]; NaN counts as 0. */
    static int clampRound(float v, int lo, int hi) {
        int r = roundAway(v);
        return r < lo ? lo : Math.min(r, hi);
    }

    /** The value of largest magnitude (first one on ties), with its sign: what ggml's symmetric quantizers scale by. */
    static float extreme(float[] x, int o, int n) {
        float best = 0f;
        for (int i = 0; i < n; i++) if (Math.abs(x[o + i]) > Math.abs(best)) best = x[o + i];
        return best;
    }

    static void checkBlocks(int n, int blockSize, String type) {
        if (n < 0 || n % blockSize != 0) {
            throw new IllegalArgumentException(type + ": element count " + n + " is not a multiple of the block size " + blockSize);
        }
    }
}
