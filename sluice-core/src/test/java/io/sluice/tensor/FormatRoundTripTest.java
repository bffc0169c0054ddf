package io.sluice.tensor;

import io.sluice.gguf.GGMLType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** quantize -> dequantize accuracy, dot consistency, offsets and bounds for every format. */
class FormatRoundTripTest {
    private static final byte SENTINEL = 0x5A;

    /**
     * Relative RMS error bounds for gaussian data, set a little above what the quantizers measure
     * (printed by the test); a wrong layout or a scale off by a factor lands far above them. On the
     * same kind of data llama.cpp's quantizers (importance weights all 1) measure IQ4_NL 0.074,
     * IQ4_XS 0.075, IQ3_S 0.138, IQ3_XXS 0.182, IQ2_S 0.250, IQ2_XS 0.298, IQ2_XXS 0.346, IQ1_M
     * 0.451, IQ1_S 0.485, TQ 0.811 (ternary formats are for ternary weights), MXFP4 0.113: Sluice's
     * nearest-grid i-quant quantizers land within 1.26x of theirs, the others reproduce them.
     */
    static Stream<Arguments> bounds() {
        return Stream.of(
                Arguments.of(GGMLType.F32, 0.0),
                Arguments.of(GGMLType.F16, 0.0003),
                Arguments.of(GGMLType.BF16, 0.002),
                Arguments.of(GGMLType.Q8_0, 0.006),
                Arguments.of(GGMLType.Q4_0, 0.10),
                Arguments.of(GGMLType.Q4_1, 0.10),
                Arguments.of(GGMLType.Q5_0, 0.05),
                Arguments.of(GGMLType.Q5_1, 0.05),
                Arguments.of(GGMLType.Q2_K, 0.40),
                Arguments.of(GGMLType.Q3_K, 0.19),
                Arguments.of(GGMLType.Q4_K, 0.095),
                Arguments.of(GGMLType.Q5_K, 0.046),
                Arguments.of(GGMLType.Q6_K, 0.023),
                Arguments.of(GGMLType.IQ4_NL, 0.085),
                Arguments.of(GGMLType.IQ4_XS, 0.085),
                Arguments.of(GGMLType.IQ3_S, 0.18),
                Arguments.of(GGMLType.IQ3_XXS, 0.235),
                Arguments.of(GGMLType.IQ2_S, 0.345),
                Arguments.of(GGMLType.IQ2_XS, 0.39),
                Arguments.of(GGMLType.IQ2_XXS, 0.44),
                Arguments.of(GGMLType.IQ1_M, 0.51),
                Arguments.of(GGMLType.IQ1_S, 0.61),
                Arguments.of(GGMLType.TQ2_0, 0.85),
                Arguments.of(GGMLType.TQ1_0, 0.85),
                Arguments.of(GGMLType.MXFP4, 0.13));
    }

    static float[] gaussian(int n, long seed) {
        Random rnd = new Random(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) rnd.nextGaussian() * 0.02f;
        return v;
    }

    @ParameterizedTest
    @MethodSource("bounds")
    void roundTripErrorWithinBound(GGMLType type, double bound) {
        Format f = Formats.of(type);
        int n = 16 * 256;
        float[] src = gaussian(n + 64, type.id);
        int srcOffset = 32;
        long byteOffset = 7; // deliberately unaligned
        long bytes = type.byteSize(n);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(bytes + 64);
            seg.fill(SENTINEL);
            f.quantize(src, srcOffset, n, seg, byteOffset);
            for (long i = 0; i < byteOffset; i++) assertEquals(SENTINEL, seg.get(ValueLayout.JAVA_BYTE, i), "byte before the row written");
            for (long i = byteOffset + bytes; i < seg.byteSize(); i++) assertEquals(SENTINEL, seg.get(ValueLayout.JAVA_BYTE, i), "byte after the row written");

            float[] out = new float[n + 10];
            java.util.Arrays.fill(out, Float.NaN);
            f.dequantize(seg, byteOffset, out, 5, n);
            assertTrue(Float.isNaN(out[4]) && Float.isNaN(out[n + 5]), "dequantize wrote outside its range");
            double err = 0, ref = 0;
            for (int i = 0; i < n; i++) {
                double e = out[5 + i] - src[srcOffset + i];
                err += e * e;
                ref += (double) src[srcOffset + i] * src[srcOffset + i];
            }
            double rel = Math.sqrt(err / ref);
            System.out.printf("round trip %-5s rel rms error %.5f (bound %.4f)%n", type, rel, bound);
            assertTrue(rel <= bound, type + ": relative RMS error " + rel + " > " + bound);
        }
    }

    @ParameterizedTest
    @MethodSource("bounds")
    void dotEqualsDequantizeThenDot(GGMLType type, double ignored) {
        Format f = Formats.of(type);
        int block = type.blockSize == 1 ? 1 : type.blockSize;
        Random rnd = new Random(42);
        for (int blocks : new int[] {1, 2, 3, 17}) {
            int n = type.blockSize == 1 ? 16 * blocks + 3 : blocks * block; // plain floats: odd lengths exercise the tail
            float[] src = gaussian(n, 7 + blocks);
            long byteOffset = 13;
            MemorySegment seg = MemorySegment.ofArray(new byte[(int) (type.byteSize(n) + 2 * byteOffset)]);
            f.quantize(src, 0, n, seg, byteOffset);
            float[] w = new float[n];
            f.dequantize(seg, byteOffset, w, 0, n);
            int xOffset = 3;
            float[] x = new float[n + xOffset];
            for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
            double want = 0, mag = 0;
            for (int i = 0; i < n; i++) {
                want += (double) w[i] * x[xOffset + i];
                mag += Math.abs((double) w[i] * x[xOffset + i]);
            }
            float got = f.dot(seg, byteOffset, x, xOffset, n);
            assertEquals(want, got, 1e-4 * mag, type + " dot over " + n + " values");
            Float scalar = scalarDot(type, seg, byteOffset, x, xOffset, n);
            if (scalar != null) assertEquals(want, scalar, 1e-4 * mag, type + " scalar dot over " + n + " values");
        }
    }

    /** The scalar fallbacks (used when the CPU's vector width is not 256/512 bits) must agree too. */
    private static Float scalarDot(GGMLType type, MemorySegment s, long off, float[] x, int xo, int n) {
        int b = n / type.blockSize;
        return switch (type) {
            case Q8_0 -> Q8_0Format.dotScalar(s, off, x, xo, b);
            case Q4_0 -> Q4_0Format.dotScalar(s, off, x, xo, b);
            case Q4_1 -> Q4_1Format.dotScalar(s, off, x, xo, b);
            case Q5_0 -> Q5_0Format.dotScalar(s, off, x, xo, b);
            case Q5_1 -> Q5_1Format.dotScalar(s, off, x, xo, b);
            case Q2_K -> Q2_KFormat.dotScalar(s, off, x, xo, b);
            case Q3_K -> Q3_KFormat.LAYOUT.dotScalar(s, off, x, xo, b);
            case Q4_K -> Q4_KFormat.dotScalar(s, off, x, xo, b);
            case Q5_K -> Q5_KFormat.dotScalar(s, off, x, xo, b);
            case Q6_K -> Q6_KFormat.LAYOUT.dotScalar(s, off, x, xo, b);
            default -> null;
        };
    }

    /** Values already on a legacy format's grid must survive quantize -> dequantize exactly. */
    @Test
    void legacyFormatsReproduceGridValuesExactly() {
        Random rnd = new Random(3);
        float[] q8 = new float[64], q4 = new float[64], q5 = new float[64], q41 = new float[64], q51 = new float[64];
        for (int i = 0; i < 64; i++) {
            q8[i] = (rnd.nextInt(255) - 127) * 0x1p-4f;
            q4[i] = (rnd.nextInt(15) - 7) * 0.5f;   // -7..7, plus a -8 per block below
            q5[i] = (rnd.nextInt(31) - 15) * 0.25f; // -15..15, plus a -16 per block below
            q41[i] = -1f + rnd.nextInt(16) * 0.25f;
            q51[i] = -2f + rnd.nextInt(32) * 0.125f;
        }
        for (int b = 0; b < 2; b++) {
            q8[32 * b + 3] = 127 * 0x1p-4f; // pins d = amax / 127 = 1/16
            q4[32 * b + 5] = -8 * 0.5f;     // largest magnitude is negative -> d = 0.5
            q5[32 * b + 9] = -16 * 0.25f;
            q41[32 * b] = -1f;              // min
            q41[32 * b + 1] = -1f + 15 * 0.25f; // max
            q51[32 * b] = -2f;
            q51[32 * b + 1] = -2f + 31 * 0.125f;
        }
        assertExact(GGMLType.Q8_0, q8);
        assertExact(GGMLType.Q4_0, q4);
        assertExact(GGMLType.Q5_0, q5);
        assertExact(GGMLType.Q4_1, q41);
        assertExact(GGMLType.Q5_1, q51);
    }

    private static void assertExact(GGMLType type, float[] src) {
        Format f = Formats.of(type);
        MemorySegment seg = MemorySegment.ofArray(new byte[(int) type.byteSize(src.length)]);
        f.quantize(src, 0, src.length, seg, 0);
        float[] out = new float[src.length];
        f.dequantize(seg, 0, out, 0, src.length);
        for (int i = 0; i < src.length; i++) assertEquals(src[i], out[i], type + " value " + i);
    }

    /** Ternary values (BitNet b1.58 weights: -d, 0, d per block) survive TQ1_0 and TQ2_0 exactly. */
    @ParameterizedTest
    @EnumSource(value = GGMLType.class, names = {"TQ1_0", "TQ2_0"})
    void ternaryWeightsRoundTripExactly(GGMLType type) {
        Random rnd = new Random(5);
        int n = 4 * 256;
        float[] src = new float[n];
        for (int b = 0; b < 4; b++) {
            float d = 0.125f * (b + 1);
            for (int i = 0; i < 256; i++) src[256 * b + i] = (rnd.nextInt(3) - 1) * d;
            src[256 * b + 7] = d; // the block's absmax is d
        }
        assertExact(type, src);
    }

    /** Constant and all-zero blocks must not produce NaN/inf (division by a zero scale). */
    @ParameterizedTest
    @EnumSource(value = GGMLType.class, names = {"F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_NL", "IQ4_XS", "IQ3_S", "IQ3_XXS", "IQ2_S", "IQ2_XS", "IQ2_XXS", "IQ1_M", "IQ1_S", "TQ2_0", "TQ1_0", "MXFP4"})
    void degenerateBlocks(GGMLType type) {
        Format f = Formats.of(type);
        int n = 256;
        for (float c : new float[] {0f, 0.5f, -0.25f}) {
            float[] src = new float[n];
            java.util.Arrays.fill(src, c);
            MemorySegment seg = MemorySegment.ofArray(new byte[(int) type.byteSize(n)]);
            f.quantize(src, 0, n, seg, 0);
            float[] out = new float[n];
            f.dequantize(seg, 0, out, 0, n);
            for (int i = 0; i < n; i++) assertEquals(c, out[i], Math.abs(c) * 0.15 + 1e-7, type + " constant " + c + " value " + i);
        }
    }

    @ParameterizedTest
    @EnumSource(value = GGMLType.class, names = {"Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_NL", "IQ4_XS", "IQ3_S", "IQ3_XXS", "IQ2_S", "IQ2_XS", "IQ2_XXS", "IQ1_M", "IQ1_S", "TQ2_0", "TQ1_0", "MXFP4"})
    void partialBlocksAreRejected(GGMLType type) {
        Format f = Formats.of(type);
        MemorySegment seg = MemorySegment.ofArray(new byte[4096]);
        float[] x = new float[1024];
        int n = type.blockSize + 1;
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> f.dot(seg, 0, x, 0, n));
        assertTrue(e.getMessage().contains("block size"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> f.dequantize(seg, 0, x, 0, n));
        assertThrows(IllegalArgumentException.class, () -> f.quantize(x, 0, n, seg, 0));
    }

    @Test
    void tableCoversEveryComputedType() {
        for (GGMLType t : new GGMLType[] {GGMLType.F32, GGMLType.F16, GGMLType.BF16, GGMLType.Q8_0, GGMLType.Q4_0, GGMLType.Q4_1,
                GGMLType.Q5_0, GGMLType.Q5_1, GGMLType.Q2_K, GGMLType.Q3_K, GGMLType.Q4_K, GGMLType.Q5_K, GGMLType.Q6_K,
                GGMLType.IQ4_NL, GGMLType.IQ4_XS, GGMLType.IQ3_S, GGMLType.IQ3_XXS, GGMLType.IQ2_S, GGMLType.IQ2_XS,
                GGMLType.IQ2_XXS, GGMLType.IQ1_M, GGMLType.IQ1_S, GGMLType.TQ2_0, GGMLType.TQ1_0, GGMLType.MXFP4}) {
            assertTrue(Formats.supports(t), t + " missing");
            assertEquals(t, Formats.of(t).type());
        }
        UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class, () -> Formats.of(GGMLType.NVFP4));
        assertTrue(e.getMessage().contains("NVFP4"), e.getMessage());
        assertEquals(4096 / 256 * 144, Formats.rowBytes(GGMLType.Q4_K, 4096));
        assertEquals(34 * 2, Formats.rowBytes(GGMLType.Q8_0, 64));
        assertThrows(IllegalArgumentException.class, () -> Formats.rowBytes(GGMLType.Q4_0, 33));
    }
}
