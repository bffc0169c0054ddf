package io.sluice.tensor;

import io.sluice.gguf.GGMLType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The native kernels against the Java ones: exact arithmetic against a Java reference that uses
 * the same quantized activations, closeness to the float-activation Java path, and the AVX2 and
 * VNNI kernel sets against each other.
 */
class NativeKernelsTest {
    private static final ValueLayout.OfFloat LE_FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @BeforeEach
    void requireNative() {
        Assumptions.assumeTrue(NativeKernels.available(), "native kernels not available: " + NativeKernels.status());
    }

    @AfterEach
    void restoreLevel() {
        NativeKernels.setLevel(Integer.MAX_VALUE); // the best the CPU has
    }

    /** A rows x cols matrix of random values quantized into {@code type} with the Java quantizer. */
    private static Matrix randomMatrix(GGMLType type, int rows, int cols, long seed, Arena arena) {
        long rowBytes = type.byteSize(cols);
        MemorySegment seg = arena.allocate(rowBytes * rows, 64);
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] row = new float[cols];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) row[c] = (float) rnd.nextGaussian() * (1 + r % 3);
            Formats.of(type).quantize(row, 0, cols, seg, r * rowBytes);
        }
        return new Matrix("w", type, seg, rows, cols);
    }

    /**
     * A matrix of random bytes (GgmlVectorsTest's blocks: any bit pattern, scales from fp16
     * subnormals to 65504), so every field value and the extreme scales reach the kernels. Float
     * formats and MXFP4 keep their exponents where products stay finite.
     */
    private static Matrix randomBlocks(GGMLType type, int rows, int cols, long seed, Arena arena) {
        long rowBytes = type.byteSize(cols);
        byte[] b = GgmlVectorsTest.blocks(type, (int) (rows * cols / type.blockSize), seed);
        for (int i = 0; i < b.length; i++) {
            if (type == GGMLType.BF16 && i % 2 == 1) b[i] = (byte) ((b[i] & 0x80) | (0x38 + (b[i] & 0x0F))); // |value| in 2^-15..2^17
            if (type == GGMLType.MXFP4 && i % 17 == 0) b[i] = (byte) (96 + (b[i] & 63));                     // scale 2^-31..2^32
        }
        MemorySegment seg = arena.allocate(rowBytes * rows, 64);
        MemorySegment.copy(MemorySegment.ofArray(b), 0, seg, 0, b.length);
        return new Matrix("w", type, seg, rows, cols);
    }

    /** Every format whose native kernel is declared (and, by {@link #everyDeclaredNativeKernelIsInTheLibrary}, present). */
    static java.util.stream.Stream<GGMLType> nativeFormats() {
        return java.util.Arrays.stream(GGMLType.values()).filter(t -> Formats.supports(t) && Formats.of(t).nativeKernel() != null);
    }

    private static float[] randomActivations(int n, int cols, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] x = new float[n * cols];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
        if (n > 2) for (int c = 0; c < cols; c++) x[2 * cols + c] = 0f; // an all-zero token: scale 0 must give 0, not NaN
        return x;
    }

    /** The activation values the native kernels actually multiply: read back from their blocks. */
    private static float[] dequantizedActivations(GGMLType type, float[] x, int n, int cols, Arena arena) {
        long stride = NativeKernels.activationBytes(type, cols);
        MemorySegment act = arena.allocate(stride * n, 64);
        NativeKernels.quantize(type, x, cols, 0, n, act, stride);
        Activation kind = Formats.of(type).nativeKernel().activation();
        float[] out = new float[n * cols];
        switch (kind) {
            case F32 -> {
                assertEquals(4L * cols, stride);
                for (int i = 0; i < n * cols; i++) out[i] = act.get(LE_FLOAT, 4L * i);
            }
            case BF16 -> {
                assertEquals(2L * cols, stride);
                for (int i = 0; i < n * cols; i++) out[i] = Half.bf16ToF32(act.get(FormatVectors.LE_SHORT, 2L * i));
            }
            case Q8_0, Q8_K -> {
                boolean k = kind == Activation.Q8_K;
                int block = k ? 256 : 32, blockBytes = k ? 292 : 72, scaleAt = k ? 288 : 64;
                assertEquals((long) cols / block * blockBytes, stride);
                for (int t = 0; t < n; t++) {
                    for (int b = 0; b < cols / block; b++) {
                        long off = t * stride + (long) b * blockBytes;
                        float d = act.get(LE_FLOAT, off + scaleAt);
                        for (int i = 0; i < block; i++) out[t * cols + b * block + i] = d * act.get(ValueLayout.JAVA_BYTE, off + i);
                    }
                }
            }
        }
        return out;
    }

    @ParameterizedTest
    @MethodSource("nativeFormats")
    void matchesJavaOnTheSameQuantizedActivations(GGMLType type) {
        // 37 rows: the x16 kernels with a padded last group (and the row-by-row kernels on the file where
        // the format has them); 48 rows: three x16 groups. 11 tokens: an 8-token tile (two of 4 on AVX2)
        // and a 3-token tail. Quantized gaussian rows, then random blocks (every field value, extreme scales).
        for (boolean random : new boolean[]{false, true}) {
            for (int rows : new int[]{37, 48}) checkExact(type, rows, 11, false, random);
            if (Formats.of(type).nativeKernel().rowKernel()) checkExact(type, 37, 11, true, random);
        }
    }

    @org.junit.jupiter.api.Test
    void everyDeclaredNativeKernelIsInTheLibrary() {
        assertEquals("", NativeKernels.mismatches(), "formats whose declared native kernel the library lacks");
        for (GGMLType t : GGMLType.values()) {
            boolean declared = Formats.supports(t) && Formats.of(t).nativeKernel() != null;
            assertEquals(declared, NativeKernels.supports(t), t.toString());
        }
    }

    @ParameterizedTest
    @MethodSource("nativeFormats")
    void interleavedLayoutForDecodeAndPrefill(GGMLType type) {
        Assumptions.assumeTrue(Formats.of(type).nativeKernel().interleaved());
        long group = NativeKernels.repackedBytes(type, 16, 768);
        assertTrue(group > 0 && group % 16 == 0, "x16 bytes " + group);
        // the copy stays close to the file's size (decoding reads it once per token); TQ1_0's is at 2 bits, not 1.69
        double bound = type == GGMLType.TQ1_0 ? 1.23 : 1.1;
        assertTrue(group <= type.byteSize(768) * 16 * bound, type + ": x16 copy " + group + " bytes for " + type.byteSize(768) * 16 + " in the file");
        assertEquals(group * 3, NativeKernels.repackedBytes(type, 40, 768), "a last group of 8 rows is padded to 16");
        assertEquals(0, NativeKernels.repackedBytes(type, 16, 768 + 16), "columns must fill whole blocks of the layout");
        for (int level : new int[]{3, 2, 1}) {
            if (NativeKernels.setLevel(level) != level) continue;
            // 40 rows: two groups and a padded one; 64: four x16 groups. 1 token: decode; 70: a full 64-token tile and a tail.
            for (int rows : new int[]{40, 64}) {
                for (int n : new int[]{1, 70}) checkExact(type, rows, n, false, rows == 40);
            }
            // 1000 rows: the threads' ranges hold several groups, which one-token kernels may read side by side
            for (int n : new int[]{1, 2}) checkExact(type, 1000, n, false, true);
        }
    }

    @ParameterizedTest
    @MethodSource("nativeFormats")
    void decodeOnWholeGroupsMatchesTheOneGroupTile(GGMLType type) {
        // At one or two tokens a range of whole groups may go several groups side by side (SL_X16G_KERNEL);
        // 15 rows of a group (a cut group) always take the one-group tile. Each row must be the same float
        // either way: 10 groups (4 + 3 + 3 side by side), every group's first 15 rows compared exactly.
        Assumptions.assumeTrue(Formats.of(type).nativeKernel().interleaved());
        int g = NativeKernels.GROUP_ROWS, groups = 10, rows = g * groups, cols = 768;
        try (Arena arena = Arena.ofShared()) {
            Matrix m = randomBlocks(type, rows, cols, 21, arena);
            MemorySegment packed = m.nativeRoute();
            assertTrue(packed != null && packed != MemorySegment.NULL, type + ": no interleaved copy");
            long stride = NativeKernels.activationBytes(type, cols);
            MemorySegment act = arena.allocate(stride * 2, 64);
            for (int level : new int[]{3, 2, 1}) {
                if (NativeKernels.setLevel(level) != level) continue;
                for (int n = 1; n <= 2; n++) {
                    NativeKernels.quantize(type, randomActivations(n, cols, 22), cols, 0, n, act, stride);
                    float[] whole = new float[n * rows], tile = new float[n * rows];
                    NativeKernels.matmulPacked(type, packed, 0, rows, cols, act, stride, n, whole, rows);
                    for (int k = 0; k < groups; k++) NativeKernels.matmulPacked(type, packed, g * k, g * k + g - 1, cols, act, stride, n, tile, rows);
                    for (int t = 0; t < n; t++)
                        for (int r = 0; r < rows; r++)
                            if (r % g != g - 1) assertEquals(tile[t * rows + r], whole[t * rows + r], 0f, type + " level " + level + ", " + n + " tokens, row " + r + " token " + t);
                    assertTrue(norm(whole) > 0);
                }
            }
        }
    }

    private static void checkExact(GGMLType type, int rows, int n, boolean fileRows, boolean randomBlocks) {
        int cols = 768;
        try (Arena arena = Arena.ofShared()) {
            Matrix m = randomBlocks ? randomBlocks(type, rows, cols, 1, arena) : randomMatrix(type, rows, cols, 1, arena);
            if (fileRows) m = m.rowKernelsOnly();
            float[] x = randomActivations(n, cols, 2);
            float[] out = new float[n * rows];
            m.matmul(x, out, n);

            float[] xq = dequantizedActivations(type, x, n, cols, arena);
            float[] w = new float[cols];
            for (int r = 0; r < rows; r++) {
                m.row(r, w, 0);
                for (int t = 0; t < n; t++) {
                    double ref = 0, mag = 0;
                    for (int c = 0; c < cols; c++) {
                        ref += (double) w[c] * xq[t * cols + c];
                        mag += Math.abs((double) w[c] * xq[t * cols + c]);
                    }
                    // Integer sums are exact; only the float scaling and summation order differ.
                    assertEquals(ref, out[t * rows + r], 1e-5 * mag + 1e-6, type + (randomBlocks ? " random blocks, " : " ") + rows + " rows, row " + r + " token " + t + " of " + n);
                }
            }
            if (n > 2) for (int r = 0; r < rows; r++) assertEquals(0f, out[2 * rows + r], "zero token, row " + r);
        }
    }

    @ParameterizedTest
    @MethodSource("nativeFormats")
    void closeToTheFloatActivationJavaPath(GGMLType type) {
        int rows = 64, cols = 1024, n = 5;
        try (Arena arena = Arena.ofShared()) {
            Matrix m = randomMatrix(type, rows, cols, 3, arena);
            float[] x = randomActivations(n, cols, 4);
            float[] nat = new float[n * rows], java = new float[n * rows];
            m.matmul(x, nat, n);
            m.javaOnly().matmul(x, java, n);
            double err = 0, norm = 0;
            for (int i = 0; i < nat.length; i++) {
                err += (nat[i] - java[i]) * (double) (nat[i] - java[i]);
                norm += java[i] * (double) java[i];
            }
            // 8-bit activations: about 0.5% relative error overall (llama.cpp's trade-off too).
            assertTrue(Math.sqrt(err / norm) < 0.02, type + ": relative error " + Math.sqrt(err / norm));
            assertTrue(norm > 0);
        }
    }

    @org.junit.jupiter.api.Test
    void matmulAllGivesEachMatrixsOwnMatmul() {
        // Packed (48 rows) and row-kernel (37, 8 rows) matrices, formats sharing activations and a pair that cannot.
        GGMLType[][] sets = {{GGMLType.Q4_0, GGMLType.Q8_0, GGMLType.Q4_0}, {GGMLType.Q4_K, GGMLType.Q6_K, GGMLType.Q4_K}, {GGMLType.Q4_0, GGMLType.Q4_K, GGMLType.Q8_0}};
        int[] rows = {48, 37, 8};
        int cols = 512;
        for (GGMLType[] types : sets) {
            for (int n : new int[]{1, 9}) {
                try (Arena arena = Arena.ofShared()) {
                    Matrix[] ms = new Matrix[3];
                    float[][] outs = new float[3][], want = new float[3][];
                    for (int i = 0; i < 3; i++) {
                        ms[i] = randomMatrix(types[i], rows[i], cols, 10 + i, arena);
                        outs[i] = new float[n * rows[i]];
                        want[i] = new float[n * rows[i]];
                    }
                    float[] x = randomActivations(Math.max(n, 3), cols, 11);
                    Matrix.matmulAll(x, n, ms, outs);
                    for (int i = 0; i < 3; i++) {
                        ms[i].matmul(x, want[i], n);
                        assertArrayEquals(want[i], outs[i], java.util.Arrays.toString(types) + " matrix " + i + ", " + n + " tokens");
                        assertTrue(norm(want[i]) > 0);
                    }
                }
            }
        }
    }

    private static double norm(float[] v) {
        double s = 0;
        for (float f : v) s += f * (double) f;
        return s;
    }

    @ParameterizedTest
    @MethodSource("nativeFormats")
    void vectorizedQuantizationMatchesTheScalarReference(GGMLType type) {
        int cols = 512, n = 5;
        float[] x = randomActivations(n, cols, 8);
        x[3 * cols + 7] = 1e-30f; // tiny and huge values, exact ties for the rounding
        x[3 * cols + 8] = 3e30f;
        for (int c = 0; c < cols; c++) x[4 * cols + c] = (c % 7 - 3) * 0.5f;
        long stride = NativeKernels.activationBytes(type, cols);
        try (Arena arena = Arena.ofShared()) {
            MemorySegment ref = arena.allocate(stride * n, 64);
            NativeKernels.quantizeReference(type, x, cols, 0, n, ref, stride);
            for (int level : new int[]{3, 2, 1}) {
                if (NativeKernels.setLevel(level) != level) continue;
                MemorySegment got = arena.allocate(stride * n, 64);
                NativeKernels.quantize(type, x, cols, 0, n, got, stride);
                assertEquals(-1L, ref.mismatch(got), type + " at level " + level);
            }
        }
    }

    @ParameterizedTest
    @MethodSource("nativeFormats")
    void kernelSetsAgree(GGMLType type) {
        Assumptions.assumeTrue(NativeKernels.setLevel(2) == 2, "CPU has no AVX512-VNNI");
        for (int rows : new int[]{33, 48}) compareLevels(type, rows, false);
        if (Formats.of(type).nativeKernel().rowKernel()) compareLevels(type, 33, true);
    }

    /**
     * The AVX2 and AVX512-VNNI sets do the same integer sums and the same float operations in the
     * same order: equal results. With AVX512-BF16, BF16 weights go through vdpbf16ps (its own
     * rounding of pair sums), within float rounding of the others; every other format is identical.
     */
    private static void compareLevels(GGMLType type, int rows, boolean fileRows) {
        int cols = 512, n = 6;
        try (Arena arena = Arena.ofShared()) {
            Matrix m = randomBlocks(type, rows, cols, 5, arena);
            if (fileRows) m = m.rowKernelsOnly();
            float[] x = randomActivations(n, cols, 6);
            assertEquals(1, NativeKernels.setLevel(1));
            float[] avx2 = new float[n * rows];
            m.matmul(x, avx2, n);
            for (int level = 2; level <= 3; level++) {
                if (NativeKernels.setLevel(level) != level) continue;
                float[] got = new float[n * rows];
                m.matmul(x, got, n);
                if (type == GGMLType.BF16 && level == 3) {
                    for (int i = 0; i < got.length; i++) assertEquals(avx2[i], got[i], 1e-4 * Math.abs(avx2[i]) + 1e-3, "BF16 with AVX512-BF16, value " + i);
                } else {
                    assertArrayEquals(avx2, got, type + " at level " + level);
                }
            }
        }
    }
}
