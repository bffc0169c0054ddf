package io.sluice.tensor;

import io.sluice.gguf.GGMLType;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * Products of many small matrices, each with its own group of tokens, as one parallel operation:
 * a mixture-of-experts layer, where a step's tokens are grouped by the experts the router chose
 * and each chosen expert's weights are read once for all of its tokens.
 *
 * <p>The rows of the product are <em>slots</em>: slots {@code [start[g], start[g+1])} belong to
 * group g and take row {@code src[s]} of x as input (row s itself when src is null), so a token
 * routed to k experts fills k slots. For every matrix set i (the experts' gate and up
 * projections, say) and every group g with slots, {@code outs[i][s * rows_i + r] = sets[i][g]
 * row r · input(s)}. The 16-row groups of all matrices of all groups with slots are spread over
 * the threads together (one join per call, whether one expert has 16 tokens or 16 experts have
 * one each), and each input row is quantized once however many experts read it.
 */
public final class GroupedMatmul {
    private GroupedMatmul() {
    }

    /**
     * @param x     xRows input rows of cols values (cols = every matrix's column count)
     * @param src   the x row of each slot, or null for slot s = row s (then xRows = slots)
     * @param start group boundaries in slots: start[0] = 0, non-decreasing, start[groups] = slots
     * @param sets  sets[i][g]: the matrix of set i for group g (null allowed where g has no slots);
     *              the matrices of one set have one row count
     * @param outs  one output per set, slots × rows of that set
     */
    public static void matmul(float[] x, int xRows, int[] src, int[] start, Matrix[][] sets, float[][] outs) {
        int groups = start.length - 1, slots = start[groups];
        if (sets.length != outs.length) throw new IllegalArgumentException("one output per matrix set");
        if (slots == 0 || sets.length == 0) return;
        int[] active = activeGroups(start);
        int cols = -1;
        int[] rows = new int[sets.length];
        MemorySegment[][] routes = new MemorySegment[sets.length][active.length];
        boolean[] nativeSet = new boolean[sets.length];
        for (int i = 0; i < sets.length; i++) {
            if (sets[i].length != groups) throw new IllegalArgumentException("set " + i + " has " + sets[i].length + " matrices for " + groups + " groups");
            nativeSet[i] = true;
            for (int a = 0; a < active.length; a++) {
                Matrix m = sets[i][active[a]];
                if (m == null) throw new IllegalArgumentException("set " + i + " has no matrix for group " + active[a] + ", which has slots");
                if (cols < 0) cols = m.cols();
                if (a == 0) rows[i] = m.rows();
                if (m.cols() != cols || m.rows() != rows[i]) {
                    throw new IllegalArgumentException(m.name() + ": " + m.rows() + "x" + m.cols() + " among matrices of " + rows[i] + "x" + cols);
                }
                // On the calling thread, before the parallel loop: a matrix used for the first time is repacked here.
                routes[i][a] = m.nativeRoute();
                nativeSet[i] = nativeSet[i] && routes[i][a] != null && NativeKernels.sameActivations(m.type(), sets[i][active[0]].type());
            }
            if ((long) slots * rows[i] > outs[i].length) throw new IndexOutOfBoundsException("output " + i + " too small for " + slots + " slots");
        }
        long inputs = src == null ? slots : xRows;
        if (inputs * cols > x.length) throw new IndexOutOfBoundsException("input too small for " + inputs + " rows of " + cols);
        if (src != null) {
            if (src.length < slots) throw new IndexOutOfBoundsException("fewer source rows than slots");
            for (int s = 0; s < slots; s++) if (src[s] < 0 || src[s] >= xRows) throw new IndexOutOfBoundsException("slot " + s + " reads row " + src[s] + " of " + xRows);
        }
        boolean fused = true;
        GGMLType t0 = sets[0][active[0]].type();
        for (int i = 0; i < sets.length; i++) fused = fused && nativeSet[i] && NativeKernels.sameActivations(t0, sets[i][active[0]].type());
        if (fused && NativeKernels.activationBytes(t0, cols) > 0) {
            int[] all = new int[sets.length];
            Arrays.setAll(all, i -> i);
            nativeProduct(x, xRows, src, start, active, sets, routes, rows, outs, cols, all);
            return;
        }
        for (int i = 0; i < sets.length; i++) {
            if (nativeSet[i] && NativeKernels.activationBytes(sets[i][active[0]].type(), cols) > 0) {
                nativeProduct(x, xRows, src, start, active, sets, routes, rows, outs, cols, new int[]{i});
            } else {
                javaProduct(x, src, start, active, sets[i], rows[i], outs[i], cols);
            }
        }
    }

    private static int[] activeGroups(int[] start) {
        int groups = start.length - 1, n = 0;
        if (start[0] != 0) throw new IllegalArgumentException("slots start at 0");
        for (int g = 0; g < groups; g++) {
            if (start[g + 1] < start[g]) throw new IllegalArgumentException("group boundaries decrease at group " + g);
            if (start[g + 1] > start[g]) n++;
        }
        int[] active = new int[n];
        for (int g = 0, a = 0; g < groups; g++) if (start[g + 1] > start[g]) active[a++] = g;
        return active;
    }

    /** The sets listed in {@code which}, all on native kernels taking one activation form. */
    private static void nativeProduct(float[] x, int xRows, int[] src, int[] start, int[] active, Matrix[][] sets,
                                      MemorySegment[][] routes, int[] rows, float[][] outs, int cols, int[] which) {
        GGMLType type = sets[which[0]][active[0]].type();
        long stride = NativeKernels.activationBytes(type, cols);
        int slots = start[start.length - 1];
        Buffers buf = BUFFERS.get();
        MemorySegment act;
        if (src == null) {
            act = buf.slots(stride * slots);
            Matrix.quantizeActivations(type, x, cols, slots, act, stride);
        } else {
            MemorySegment q = buf.rows(stride * xRows);
            Matrix.quantizeActivations(type, x, cols, xRows, q, stride);
            act = buf.slots(stride * slots);
            for (int s = 0; s < slots; s++) MemorySegment.copy(q, src[s] * stride, act, s * stride, stride);
        }
        // Cells (group, set) expert-major, so that an expert's gate and up follow each other and
        // share its tokens' activations in cache; each cell is cut into 16-row units.
        int g16 = NativeKernels.GROUP_ROWS, cells = active.length * which.length;
        int[] unitStart = new int[cells + 1];
        for (int c = 0; c < cells; c++) unitStart[c + 1] = unitStart[c] + (rows[which[c % which.length]] + g16 - 1) / g16;
        Parallel.forRange(unitStart[cells], (u0, u1) -> {
            int c = cellOf(unitStart, u0);
            for (int u = u0; u < u1; c++) {
                int end = Math.min(u1, unitStart[c + 1]);
                int a = c / which.length, i = which[c % which.length], g = active[a];
                Matrix m = sets[i][g];
                int r0 = (u - unitStart[c]) * g16, r1 = Math.min((end - unitStart[c]) * g16, rows[i]);
                int s0 = start[g], n = start[g + 1] - s0;
                MemorySegment in = act.asSlice(s0 * stride, n * stride);
                MemorySegment route = routes[i][a];
                if (route != MemorySegment.NULL) {
                    NativeKernels.matmulPacked(m.type(), route, r0, r1, cols, in, stride, n, outs[i], s0 * rows[i], rows[i]);
                } else {
                    NativeKernels.matmul(m.type(), m.data(), m.rowBytes(), r0, r1, cols, in, stride, n, outs[i], s0 * rows[i], rows[i]);
                }
                u = end;
            }
        });
    }

    /** One set on the Java dot products (formats without a native kernel, or none loaded). */
    private static void javaProduct(float[] x, int[] src, int[] start, int[] active, Matrix[] set, int rows, float[] out, int cols) {
        int g16 = NativeKernels.GROUP_ROWS, per = (rows + g16 - 1) / g16;
        Parallel.forRange(active.length * per, (u0, u1) -> {
            for (int u = u0; u < u1; u++) {
                int g = active[u / per];
                Matrix m = set[g];
                int r0 = (u % per) * g16, r1 = Math.min(r0 + g16, rows);
                for (int s = start[g]; s < start[g + 1]; s++) {
                    int xOff = (src == null ? s : src[s]) * cols;
                    for (int r = r0; r < r1; r++) out[s * rows + r] = m.dotRow(r, x, xOff);
                }
            }
        });
    }

    /** The cell holding unit u: the last c with unitStart[c] &lt;= u (cells of no units skipped). */
    private static int cellOf(int[] unitStart, int u) {
        int lo = 0, hi = unitStart.length - 2;
        while (lo < hi) {
            int mid = (lo + hi + 1) >>> 1;
            if (unitStart[mid] <= u) lo = mid;
            else hi = mid - 1;
        }
        return lo;
    }

    /** Per-thread native buffers for quantized activations: one per input row, and one per slot. */
    private static final ThreadLocal<Buffers> BUFFERS = ThreadLocal.withInitial(Buffers::new);

    private static final class Buffers {
        private MemorySegment rows = MemorySegment.NULL, slots = MemorySegment.NULL;

        MemorySegment rows(long bytes) {
            if (rows.byteSize() < bytes) rows = Arena.ofAuto().allocate(Math.max(bytes, rows.byteSize() * 3 / 2), 64);
            return rows;
        }

        MemorySegment slots(long bytes) {
            if (slots.byteSize() < bytes) slots = Arena.ofAuto().allocate(Math.max(bytes, slots.byteSize() * 3 / 2), 64);
            return slots;
        }
    }
}
