package io.sluice.tensor;

import io.sluice.gguf.GGMLType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The grouped product against one {@link Matrix#matmul} per group on that group's gathered
 * input rows: the same kernels on the same activations, so the results must be identical (bit for
 * bit on the native kernels; the Java dots may differ in the last bits between calls, as the
 * Vector API sums lanes in another order once the JIT compiles them: a few ulps of a 256-term sum), for groups of many
 * tokens, of one, and of none.
 */
class GroupedMatmulTest {
    private static Matrix random(GGMLType type, int rows, int cols, long seed, Arena arena) {
        long rowBytes = type.byteSize(cols);
        MemorySegment seg = arena.allocate(rowBytes * rows, 64);
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] row = new float[cols];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) row[c] = (float) rnd.nextGaussian();
            Formats.of(type).quantize(row, 0, cols, seg, r * rowBytes);
        }
        return new Matrix("w", type, seg, rows, cols);
    }

    /** Experts as views of one 3-D tensor: groups × rows × cols. */
    private static Matrix[] experts(GGMLType type, int groups, int rows, int cols, long seed, Arena arena) {
        Matrix all = random(type, groups * rows, cols, seed, arena);
        Matrix[] m = new Matrix[groups];
        for (int g = 0; g < groups; g++) m[g] = all.rows(g * rows, rows, "w[" + g + "]");
        return m;
    }

    private static float[] gaussian(int n, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] x = new float[n];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
        return x;
    }

    /** Per group: its slots' input rows gathered, one ordinary matmul, the results put back at the slots. */
    private static float[] reference(float[] x, int cols, int[] src, int[] start, Matrix[] set) {
        int rows = set[0].rows(), slots = start[start.length - 1];
        float[] out = new float[slots * rows];
        for (int g = 0; g + 1 < start.length; g++) {
            int n = start[g + 1] - start[g];
            if (n == 0) continue;
            float[] in = new float[n * cols], res = new float[n * rows];
            for (int j = 0; j < n; j++) {
                int s = start[g] + j;
                System.arraycopy(x, (src == null ? s : src[s]) * cols, in, j * cols, cols);
            }
            set[g].matmul(in, res, n);
            System.arraycopy(res, 0, out, start[g] * rows, n * rows);
        }
        return out;
    }

    private static void same(GGMLType type, float[] want, float[] got, String what) {
        if (NativeKernels.supports(type)) {
            assertArrayEquals(want, got, what);
            return;
        }
        for (int i = 0; i < want.length; i++) assertEquals(want[i], got[i], 1e-5f * Math.max(1f, Math.abs(want[i])), what + " at " + i);
    }

    @ParameterizedTest
    @EnumSource(names = {"F32", "Q8_0", "Q4_0", "Q4_K", "Q6_K", "Q5_K"})
    void equalsOneMatmulPerGroup(GGMLType type) {
        int cols = 256, rows = 40, groups = 6, tokens = 9;
        // Token t goes to groups (t % 6) and ((t * 5 + 1) % 6) ... except group 4, which gets none;
        // group 1 gets most. Slots are grouped by group, tokens ascending within one.
        int[][] routes = new int[tokens][];
        for (int t = 0; t < tokens; t++) routes[t] = new int[]{t % 3 == 0 ? 1 : t % 6 == 4 ? 5 : t % 6, t % 2 == 0 ? 1 : 3};
        int[] start = new int[groups + 1];
        for (int[] r : routes) for (int g : r) start[g + 1]++;
        for (int g = 0; g < groups; g++) start[g + 1] += start[g];
        int[] src = new int[start[groups]], fill = start.clone();
        for (int g = 0; g < groups; g++) for (int t = 0; t < tokens; t++) for (int e : routes[t]) if (e == g) src[fill[g]++] = t;
        assertEquals(start[4], start[5], "group 4 has no slots");

        try (Arena arena = Arena.ofShared()) {
            Matrix[] gate = experts(type, groups, rows, cols, 1, arena), up = experts(type, groups, rows, cols, 2, arena);
            float[] x = gaussian(tokens * cols, 3);
            float[] g = new float[src.length * rows], u = new float[src.length * rows];
            GroupedMatmul.matmul(x, tokens, src, start, new Matrix[][]{gate, up}, new float[][]{g, u});
            same(type, reference(x, cols, src, start, gate), g, "gate, " + NativeKernels.status());
            same(type, reference(x, cols, src, start, up), u, "up");

            // Slot-ordered input (the down projection of the experts' hidden rows), a second call on the same experts.
            float[] h = gaussian(src.length * cols, 4), d = new float[src.length * rows];
            GroupedMatmul.matmul(h, src.length, null, start, new Matrix[][]{gate}, new float[][]{d});
            same(type, reference(h, cols, null, start, gate), d, "slot-ordered input");
        }
    }

    @Test
    void setsOfDifferentFormatsEachTakeTheirOwnPath() {
        int cols = 256, rows = 32;
        int[] start = {0, 2, 2, 5};
        int[] src = {0, 3, 1, 2, 3};
        try (Arena arena = Arena.ofShared()) {
            Matrix[] a = experts(GGMLType.Q4_K, 3, rows, cols, 5, arena), b = experts(GGMLType.Q5_0, 3, rows, cols, 6, arena);
            float[] x = gaussian(4 * cols, 7);
            float[] oa = new float[5 * rows], ob = new float[5 * rows];
            GroupedMatmul.matmul(x, 4, src, start, new Matrix[][]{a, b}, new float[][]{oa, ob});
            same(GGMLType.Q4_K, reference(x, cols, src, start, a), oa, "Q4_K set");
            same(GGMLType.Q5_0, reference(x, cols, src, start, b), ob, "Q5_0 set");
        }
    }

    @Test
    void rejectsInconsistentArguments() {
        try (Arena arena = Arena.ofShared()) {
            Matrix[] a = experts(GGMLType.Q8_0, 2, 16, 64, 1, arena);
            Matrix odd = random(GGMLType.Q8_0, 8, 64, 2, arena);
            float[] x = new float[2 * 64], out = new float[3 * 16];
            assertThrows(IllegalArgumentException.class, () -> GroupedMatmul.matmul(x, 2, new int[]{0, 1, 1}, new int[]{0, 1, 3},
                    new Matrix[][]{{a[0], odd}}, new float[][]{out}), "matrices of one set differ in shape");
            assertThrows(IndexOutOfBoundsException.class, () -> GroupedMatmul.matmul(x, 2, new int[]{0, 2, 1}, new int[]{0, 1, 3},
                    new Matrix[][]{a}, new float[][]{out}), "a slot reads a row beyond the input");
            assertThrows(IllegalArgumentException.class, () -> GroupedMatmul.matmul(x, 2, new int[]{0, 1, 1}, new int[]{0, 3, 1},
                    new Matrix[][]{a}, new float[][]{out}), "group boundaries decrease");
            assertThrows(IllegalArgumentException.class, () -> GroupedMatmul.matmul(x, 2, new int[]{0, 1, 1}, new int[]{0, 1, 3},
                    new Matrix[][]{{a[0], null}}, new float[][]{out}), "a group with slots has no matrix");
        }
    }
}
