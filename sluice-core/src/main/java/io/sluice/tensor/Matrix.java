package io.sluice.tensor;

import io.sluice.gguf.GGMLType;
import io.sluice.gguf.GGUFFile;
import io.sluice.gguf.TensorInfo;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * A 2-D weight tensor of {@code rows} rows of {@code cols} values, stored in its own format in
 * the file's mapping (never copied). out = W·x computes one dot product per row.
 */
public final class Matrix {
    private final String name;
    private final Format format;
    private final MemorySegment data;
    private final int rows;
    private final int cols;
    private final long rowBytes;
    private boolean useNative = true;
    /** Whether the native kernels may make and read the interleaved copy ({@code -Dsluice.repack}, tests). */
    private boolean repack = REPACK;

    public Matrix(String name, GGMLType type, MemorySegment data, int rows, int cols) {
        this.name = name;
        this.format = Formats.of(type);
        this.data = data;
        this.rows = rows;
        this.cols = cols;
        this.rowBytes = type.byteSize(cols);
        if (data.byteSize() < rowBytes * rows) throw new IllegalArgumentException(name + ": data too small for " + rows + "x" + cols);
    }

    public static Matrix of(GGUFFile file, TensorInfo t) {
        long cols = t.dims()[0];
        long rows = t.rows();
        if (cols > Integer.MAX_VALUE || rows > Integer.MAX_VALUE) throw new IllegalArgumentException(t.name() + " is too large");
        if (!Formats.supports(t.type())) {
            throw new UnsupportedOperationException(file.path() + ": tensor '" + t.name() + "' has type " + t.type() + ", which Sluice does not compute");
        }
        return new Matrix(t.name(), t.type(), file.data(t), (int) rows, (int) cols);
    }

    public String name() { return name; }
    public int rows() { return rows; }
    public int cols() { return cols; }
    public GGMLType type() { return format.type(); }
    public Format format() { return format; }
    public MemorySegment data() { return data; }
    public long rowBytes() { return rowBytes; }

    /**
     * Rows [first, first + count) as a matrix over the same mapped bytes, nothing copied: the parts
     * of a fused tensor (e.g. Q, K and V of one attn_qkv) become matrices of their own.
     */
    public Matrix rows(int first, int count, String partName) {
        if (first < 0 || count <= 0 || (long) first + count > rows) {
            throw new IllegalArgumentException(name + ": rows " + first + ".." + ((long) first + count) + " outside its " + rows + " rows");
        }
        Matrix m = new Matrix(partName, format.type(), data.asSlice(first * rowBytes, count * rowBytes), count, cols);
        m.useNative = useNative;
        m.repack = repack;
        return m;
    }

    /** Dequantizes row r into dst[off..off+cols). */
    public void row(int r, float[] dst, int off) {
        format.dequantize(data, r * rowBytes, dst, off, cols);
    }

    public float dotRow(int r, float[] x, int xOff) {
        return format.dot(data, r * rowBytes, x, xOff, cols);
    }

    /**
     * out[t*rows + r] = row r · x[t*cols ..] for t &lt; n. Rows are split across threads; each row is
     * read once per step and applied to all n inputs while it is in cache. Uses the format's native
     * kernel on its quantized activations where there is one (on the interleaved copy if the format
     * has one, else on the file's rows), else the Java dots.
     */
    public void matmul(float[] x, float[] out, int n) {
        if (n <= 0) return;
        if ((long) n * cols > x.length || (long) n * rows > out.length) throw new IndexOutOfBoundsException(name + ": matmul buffers too small for " + n + " tokens");
        GGMLType type = format.type();
        MemorySegment packed = nativeRoute();
        if (packed != null) {
            long stride = NativeKernels.activationBytes(type, cols);
            MemorySegment act = ACTIVATIONS.get().segment(stride * n);
            quantizeActivations(type, x, cols, n, act, stride);
            if (packed != MemorySegment.NULL) {
                int g = NativeKernels.GROUP_ROWS;
                Parallel.forRange((rows + g - 1) / g, (s, e) -> NativeKernels.matmulPacked(type, packed, g * s, Math.min(g * e, rows), cols, act, stride, n, out, rows));
            } else {
                Parallel.forRange(rows, 4, (s, e) -> NativeKernels.matmul(type, data, rowBytes, s, e, cols, act, stride, n, out, rows));
            }
            return;
        }
        Parallel.forRange(rows, 4, (start, end) -> {
            for (int r = start; r < end; r++) {
                long off = r * rowBytes;
                for (int t = 0; t < n; t++) {
                    out[t * rows + r] = format.dot(data, off, x, t * cols, cols);
                }
            }
        });
    }

    /**
     * How the native kernels compute this matrix: its interleaved copy, {@code MemorySegment.NULL}
     * for the row kernels on the file, or null when Java computes it (no native kernel, or one that
     * needs the interleaved copy while there is none).
     */
    MemorySegment nativeRoute() {
        if (!useNative || !NativeKernels.supports(format.type())) return null;
        MemorySegment packed = repacked();
        if (packed != null) return packed;
        return NativeKernels.hasRowKernel(format.type()) ? MemorySegment.NULL : null;
    }

    static void quantizeActivations(GGMLType type, float[] x, int cols, int n, MemorySegment act, long stride) {
        if (n >= 8) Parallel.forRange(n, 4, (s, e) -> NativeKernels.quantize(type, x, cols, s, e, act, stride));
        else NativeKernels.quantize(type, x, cols, 0, n, act, stride);
    }

    /**
     * outs[i] = ms[i]·x for every matrix, like {@link #matmul} on each, as one parallel operation:
     * the activations are quantized once and all matrices' rows are split across the threads
     * together (one join instead of one per matrix). For projections of the same input, such as
     * attention Q/K/V or the feed-forward gate and up. Falls back to one matmul per matrix when
     * their native kernels cannot share the activations.
     */
    public static void matmulAll(float[] x, int n, Matrix[] ms, float[][] outs) {
        if (ms.length != outs.length) throw new IllegalArgumentException("one output per matrix");
        if (n <= 0 || ms.length == 0) return;
        Matrix first = ms[0];
        GGMLType t0 = first.format.type();
        MemorySegment[] routes = new MemorySegment[ms.length];
        boolean fused = true;
        for (int i = 0; i < ms.length; i++) {
            Matrix m = ms[i];
            if ((long) n * m.cols > x.length || (long) n * m.rows > outs[i].length) {
                throw new IndexOutOfBoundsException(m.name + ": matmul buffers too small for " + n + " tokens");
            }
            routes[i] = m.nativeRoute();
            fused = fused && routes[i] != null && m.cols == first.cols && NativeKernels.sameActivations(t0, m.format.type());
        }
        long stride = fused ? NativeKernels.activationBytes(t0, first.cols) : 0;
        if (!fused || stride == 0) {
            for (int i = 0; i < ms.length; i++) ms[i].matmul(x, outs[i], n);
            return;
        }
        int cols = first.cols;
        MemorySegment act = ACTIVATIONS.get().segment(stride * n);
        quantizeActivations(t0, x, cols, n, act, stride);
        // Work units: groups of 16 rows of each matrix in turn (the last one may be shorter).
        int g = NativeKernels.GROUP_ROWS;
        int[] unitStart = new int[ms.length + 1];
        for (int i = 0; i < ms.length; i++) unitStart[i + 1] = unitStart[i] + (ms[i].rows + g - 1) / g;
        Parallel.forRange(unitStart[ms.length], (s, e) -> {
            for (int i = 0; i < ms.length; i++) {
                int us = Math.max(s, unitStart[i]) - unitStart[i], ue = Math.min(e, unitStart[i + 1]) - unitStart[i];
                if (us >= ue) continue;
                Matrix m = ms[i];
                int r0 = us * g, r1 = Math.min(ue * g, m.rows);
                if (routes[i] != MemorySegment.NULL) NativeKernels.matmulPacked(m.format.type(), routes[i], r0, r1, cols, act, stride, n, outs[i], m.rows);
                else NativeKernels.matmul(m.format.type(), m.data, m.rowBytes, r0, r1, cols, act, stride, n, outs[i], m.rows);
            }
        });
    }

    /**
     * The 16-row interleaved copy the native kernels read fastest (as llama.cpp repacks Q4_0 for
     * its CPU kernels), made on first use so that matrices only ever read by row, like the token
     * embedding, are not copied. Null when the format has no such layout or with
     * {@code -Dsluice.repack=false}. The copy lives off-heap; the mapped original's pages are then
     * released from the process (Linux), so only {@link #row} reads fault them back in.
     */
    private MemorySegment repacked() {
        MemorySegment p = packed;
        if (p == null) {
            synchronized (this) {
                if (packed == null) {
                    long bytes = repack ? NativeKernels.repackedBytes(format.type(), rows, cols) : 0;
                    if (bytes == 0) {
                        packed = MemorySegment.NULL;
                    } else {
                        // Anonymous mmap, not Arena.allocate: that counts against -XX:MaxDirectMemorySize, whose
                        // default is the heap limit, so any model whose copies outgrew -Xmx failed its first pass.
                        MemorySegment dst = ZeroPages.allocateStreamed(Arena.ofAuto(), bytes);
                        int groups = (rows + NativeKernels.GROUP_ROWS - 1) / NativeKernels.GROUP_ROWS;
                        Parallel.forRange(groups, (s, e) -> NativeKernels.repack(format.type(), data, rowBytes, rows, cols, s, e, dst));
                        packed = dst;
                        // The kernels now read only the copy: keep about one copy of the weights resident.
                        MappedPages.release(data);
                    }
                }
                p = packed;
            }
        }
        return p == MemorySegment.NULL ? null : p;
    }

    private volatile MemorySegment packed;

    /** {@code -Dsluice.repack=false}: kernels read the mapped file only (less memory, slower; see docs/PERFORMANCE.md). */
    private static final boolean REPACK = Boolean.parseBoolean(System.getProperty("sluice.repack", "true"));

    /**
     * Drops this matrix's mapped pages from the process (they stay in the page cache and are read
     * back on the next use): how a cold expert leaves the resident set. Returns the bytes released.
     */
    public long releasePages() {
        return MappedPages.release(data);
    }

    /** Turns the native kernels off for this matrix (tests compare both paths). */
    public Matrix javaOnly() {
        Matrix m = new Matrix(name, format.type(), data, rows, cols);
        m.useNative = false;
        return m;
    }

    /**
     * A view whose native kernels read the file's rows, never an interleaved copy: for weights that
     * should stay in the page cache rather than be copied (experts streamed under a memory budget),
     * and for tests comparing both.
     */
    public Matrix rowKernelsOnly() {
        Matrix m = new Matrix(name, format.type(), data, rows, cols);
        m.useNative = useNative;
        m.repack = false;
        return m;
    }

    /** Per-thread native buffer for quantized activations, grown on demand (not per call). */
    private static final ThreadLocal<ActivationBuffer> ACTIVATIONS = ThreadLocal.withInitial(ActivationBuffer::new);

    private static final class ActivationBuffer {
        private MemorySegment seg = MemorySegment.NULL;

        MemorySegment segment(long bytes) {
            if (seg.byteSize() < bytes) seg = Arena.ofAuto().allocate(Math.max(bytes, seg.byteSize() * 3 / 2), 64);
            return seg;
        }
    }
}
