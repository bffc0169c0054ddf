package io.sluice.tensor;

import io.sluice.gguf.GGMLType;

import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Locale;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The optional native accelerator (src/main/c, built by the Maven build where gcc exists):
 * matmul kernels on quantized activations for the formats whose {@link Format#nativeKernel()}
 * says so, with AVX2, AVX512-VNNI and AVX512-BF16 variants picked at run time. Without the library, on a CPU
 * without AVX2, or with {@code -Dsluice.native=false}, {@link #available()} is false and
 * {@link Matrix} uses the pure Java kernels. {@code -Dsluice.native.path=FILE} loads a library
 * from a file. A format whose declaration the library does not match (an older library, a
 * kernel not written yet) is computed in Java; {@link #mismatches()} names them.
 */
public final class NativeKernels {
    private static final MethodHandle ACT_BYTES, QUANTIZE, QUANTIZE_REF, MATMUL, SET_LEVEL, LEVEL, REPACKED_BYTES, REPACK, MATMUL_PACKED, FORMAT_INFO;
    private static final String STATUS;
    /** Per type id: the format declares a native kernel and the library provides exactly that. */
    private static final boolean[] MATCHES = new boolean[64];
    private static final String MISMATCHES;
    /** The loaded library, or null: other packages' kernels (model.nn's attention) find their symbols in it. */
    private static final SymbolLookup LIBRARY;

    /** The kernel set in use, cached: checked on every matmul. */
    private static volatile int level;

    static {
        MethodHandle actBytes = null, quantize = null, quantizeRef = null, matmul = null, setLevel = null, getLevel = null, repackedBytes = null, repack = null, matmulPacked = null, formatInfo = null;
        String status;
        SymbolLookup library = null;
        try {
            SymbolLookup lib = load();
            library = lib;
            if (lib == null) {
                status = Boolean.parseBoolean(System.getProperty("sluice.native", "true")) ? "no native library for this platform" : "disabled by -Dsluice.native=false";
            } else {
                Linker linker = Linker.nativeLinker();
                // critical: no thread-state transition, and heap arrays may be passed directly.
                Linker.Option critical = Linker.Option.critical(true);
                actBytes = linker.downcallHandle(lib.findOrThrow("sl_act_bytes"), FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_INT), critical);
                quantize = linker.downcallHandle(lib.findOrThrow("sl_quantize"),
                        FunctionDescriptor.ofVoid(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_LONG), critical);
                quantizeRef = linker.downcallHandle(lib.findOrThrow("sl_quantize_reference"),
                        FunctionDescriptor.ofVoid(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_LONG), critical);
                matmul = linker.downcallHandle(lib.findOrThrow("sl_matmul"),
                        FunctionDescriptor.ofVoid(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG), critical);
                repackedBytes = linker.downcallHandle(lib.findOrThrow("sl_repacked_bytes"), FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT), critical);
                repack = linker.downcallHandle(lib.findOrThrow("sl_repack"),
                        FunctionDescriptor.ofVoid(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS), critical);
                matmulPacked = linker.downcallHandle(lib.findOrThrow("sl_matmul_x16"),
                        FunctionDescriptor.ofVoid(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG), critical);
                formatInfo = linker.downcallHandle(lib.findOrThrow("sl_format_info"), FunctionDescriptor.of(JAVA_INT, JAVA_INT), critical);
                setGrids(linker.downcallHandle(lib.findOrThrow("sl_set_grid"), FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), critical));
                setLevel = linker.downcallHandle(lib.findOrThrow("sl_set_level"), FunctionDescriptor.of(JAVA_INT, JAVA_INT));
                getLevel = linker.downcallHandle(lib.findOrThrow("sl_level"), FunctionDescriptor.of(JAVA_INT));
                int l = (int) getLevel.invokeExact();
                status = l == 0 ? "CPU lacks AVX2/FMA/F16C" : "native " + levelName(l);
            }
        } catch (Throwable t) {
            actBytes = quantize = quantizeRef = matmul = setLevel = getLevel = repackedBytes = repack = matmulPacked = formatInfo = null;
            library = null;
            status = "native library failed to load: " + t;
        }
        LIBRARY = library;
        ACT_BYTES = actBytes;
        QUANTIZE = quantize;
        QUANTIZE_REF = quantizeRef;
        MATMUL = matmul;
        SET_LEVEL = setLevel;
        LEVEL = getLevel;
        REPACKED_BYTES = repackedBytes;
        REPACK = repack;
        MATMUL_PACKED = matmulPacked;
        FORMAT_INFO = formatInfo;
        STATUS = status;
        level = queryLevel();
        StringBuilder bad = new StringBuilder();
        for (GGMLType t : GGMLType.values()) {
            NativeKernel k = Formats.supports(t) ? Formats.of(t).nativeKernel() : null;
            if (k == null || FORMAT_INFO == null) continue;
            int info = formatInfo(t);
            if (info == infoOf(k)) MATCHES[t.id] = true;
            else bad.append(bad.isEmpty() ? "" : ", ").append(t).append(" (declared ").append(k).append(", library ").append(info).append(')');
        }
        MISMATCHES = bad.toString();
    }

    /** sl_format_info's encoding of a declaration: activation id | 16 (row kernel) | 32 (x16 layout). */
    private static int infoOf(NativeKernel k) {
        return k.activation().ordinal() | (k.rowKernel() ? 16 : 0) | (k.interleaved() ? 32 : 0);
    }

    private static int formatInfo(GGMLType t) {
        try {
            return (int) FORMAT_INFO.invokeExact(t.id);
        } catch (Throwable e) {
            throw new IllegalStateException(e);
        }
    }

    /** Formats whose declared native kernel the loaded library does not provide as declared ("" when none). */
    public static String mismatches() {
        return MISMATCHES;
    }

    private NativeKernels() {
    }

    /** A function of the loaded native library (for kernels bound outside this package), or empty without one. */
    public static java.util.Optional<MemorySegment> symbol(String name) {
        return LIBRARY == null ? java.util.Optional.empty() : LIBRARY.find(name);
    }

    /** Hands the i-quants' lattice points to the library (Java holds the only copy of the data). */
    private static void setGrids(MethodHandle setGrid) throws Throwable {
        byte[][] grids = {IQGrids.IQ2XXS, IQGrids.IQ2XS, IQGrids.IQ2S, IQGrids.IQ3XXS, IQGrids.IQ3S, IQGrids.IQ1S};
        int[] widths = {8, 8, 8, 4, 4, 8};
        for (int i = 0; i < grids.length; i++) {
            int r = (int) setGrid.invokeExact(i, MemorySegment.ofArray(grids[i]), grids[i].length / widths[i], widths[i]);
            if (r != 0) throw new IllegalStateException("the native library refused grid " + i);
        }
    }

    private static SymbolLookup load() throws Exception {
        if (!Boolean.parseBoolean(System.getProperty("sluice.native", "true"))) return null;
        String explicit = System.getProperty("sluice.native.path");
        if (explicit != null) return SymbolLookup.libraryLookup(Path.of(explicit), Arena.global());
        String arch = System.getProperty("os.arch").toLowerCase(Locale.ROOT);
        String os = System.getProperty("os.name").toLowerCase(Locale.ROOT);
        if (!os.contains("linux") || !(arch.equals("amd64") || arch.equals("x86_64"))) return null;
        try (InputStream in = NativeKernels.class.getResourceAsStream("/native/linux-x86_64/libsluice.so")) {
            if (in == null) return null;
            Path tmp = Files.createTempFile("libsluice-", ".so");
            tmp.toFile().deleteOnExit();
            Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
            return SymbolLookup.libraryLookup(tmp, Arena.global());
        }
    }

    private static String levelName(int l) {
        return switch (l) {
            case 1 -> "avx2";
            case 2 -> "avx512-vnni";
            case 3 -> "avx512-bf16";
            default -> "none";
        };
    }

    /** Whether native kernels are in use. */
    public static boolean available() {
        return level() > 0;
    }

    /** A one-line description for logs and benchmarks, e.g. "native avx512-vnni" or why there is none. */
    public static String status() {
        return available() ? "native " + levelName(level()) : STATUS.startsWith("native") ? "java (CPU lacks AVX2/FMA/F16C)" : "java (" + STATUS + ")";
    }

    /** 0 = none, 1 = AVX2, 2 = AVX512-VNNI, 3 = AVX512-VNNI with AVX512-BF16 (only BF16 weights differ). */
    public static int level() {
        return level;
    }

    private static int queryLevel() {
        if (LEVEL == null) return 0;
        try {
            return (int) LEVEL.invokeExact();
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** Selects a kernel set (for tests and benchmarks: 0 turns the native path off); returns the one in use. */
    public static int setLevel(int want) {
        if (SET_LEVEL == null) return 0;
        try {
            level = (int) SET_LEVEL.invokeExact(want);
            return level;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** Whether there is a native kernel for weights of this type (declared by its format and present in the library). */
    public static boolean supports(GGMLType type) {
        return available() && MATCHES[type.id];
    }

    /** Whether the native kernel of this type reads rows straight from the file (no interleaved copy needed). */
    public static boolean hasRowKernel(GGMLType type) {
        return supports(type) && Formats.of(type).nativeKernel().rowKernel();
    }

    /** Whether weights of types a and b take the same activations (one quantization can feed both); both must be supported. */
    public static boolean sameActivations(GGMLType a, GGMLType b) {
        return Formats.of(a).nativeKernel().activation() == Formats.of(b).nativeKernel().activation();
    }

    /** Bytes of quantized activations per token of {@code cols} values for weights of {@code type}; 0 if unsupported. */
    public static long activationBytes(GGMLType type, int cols) {
        if (ACT_BYTES == null) return 0;
        try {
            return (long) ACT_BYTES.invokeExact(type.id, cols);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** Quantizes tokens [t0, t1) of x (token t at x[t*cols]) into dst (token t at t*stride bytes). */
    public static void quantize(GGMLType type, float[] x, int cols, int t0, int t1, MemorySegment dst, long stride) {
        if (t1 > t0 && ((long) t1 * cols > x.length || t1 * stride > dst.byteSize())) throw new IndexOutOfBoundsException("activations out of range");
        try {
            QUANTIZE.invokeExact(type.id, MemorySegment.ofArray(x), (long) cols, cols, t0, t1, dst, stride);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** {@link #quantize} by the plain C reference (scalar) code, which the vectorized one must match exactly; for tests. */
    public static void quantizeReference(GGMLType type, float[] x, int cols, int t0, int t1, MemorySegment dst, long stride) {
        if (t1 > t0 && ((long) t1 * cols > x.length || t1 * stride > dst.byteSize())) throw new IndexOutOfBoundsException("activations out of range");
        try {
            QUANTIZE_REF.invokeExact(type.id, MemorySegment.ofArray(x), (long) cols, cols, t0, t1, dst, stride);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /**
     * out[t*outStride + r] = row r of the weights · token t, for r in [r0, r1), t &lt; ntok. The
     * activations must come from {@link #quantize} for the same type and column count.
     */
    public static void matmul(GGMLType type, MemorySegment w, long rowBytes, int r0, int r1, int cols,
                              MemorySegment act, long actStride, int ntok, float[] out, int outStride) {
        matmul(type, w, rowBytes, r0, r1, cols, act, actStride, ntok, out, 0, outStride);
    }

    /**
     * As {@link #matmul(GGMLType, MemorySegment, long, int, int, int, MemorySegment, long, int, float[], int)}
     * with the results from out[outOff] on (token t, row r at outOff + t*outStride + r): a group of
     * tokens, such as those one expert serves, writes its own part of a shared output.
     */
    public static void matmul(GGMLType type, MemorySegment w, long rowBytes, int r0, int r1, int cols,
                              MemorySegment act, long actStride, int ntok, float[] out, int outOff, int outStride) {
        if ((long) r1 * rowBytes > w.byteSize() || ntok * actStride > act.byteSize() || outOff < 0
                || (ntok > 0 && outOff + (long) (ntok - 1) * outStride + r1 > out.length)) {
            throw new IndexOutOfBoundsException("matmul operands out of range");
        }
        try {
            MATMUL.invokeExact(type.id, w, rowBytes, r0, r1, cols, act, actStride, ntok, output(out, outOff), (long) outStride);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    private static MemorySegment output(float[] out, int outOff) {
        MemorySegment s = MemorySegment.ofArray(out);
        return outOff == 0 ? s : s.asSlice(4L * outOff);
    }

    /** Rows per group of the interleaved layout ({@link #repack}). */
    public static final int GROUP_ROWS = 16;

    /**
     * Bytes of the 16-row interleaved ("x16") copy of a rows x cols matrix of this type, which the
     * fastest kernels read (its layout is the format's, described in src/main/c), the last group
     * padded with zero rows; 0 when there is none (the format has no such layout, or cols do not
     * fill its blocks), and the row-by-row kernels, if any, read the file.
     */
    public static long repackedBytes(GGMLType type, int rows, int cols) {
        if (REPACKED_BYTES == null || !available()) return 0;
        try {
            return (long) REPACKED_BYTES.invokeExact(type.id, rows, cols);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** Writes row groups [g0, g1) (16 rows each; rows from {@code rows} on as zero padding) of the x16 copy of the weights w into dst. */
    public static void repack(GGMLType type, MemorySegment w, long rowBytes, int rows, int cols, int g0, int g1, MemorySegment dst) {
        long groupBytes = repackedBytes(type, GROUP_ROWS, cols);
        if (groupBytes == 0 || rows * rowBytes > w.byteSize() || g1 * groupBytes > dst.byteSize() || g0 < 0 || g1 > (rows + GROUP_ROWS - 1) / GROUP_ROWS) {
            throw new IndexOutOfBoundsException("repack out of range");
        }
        try {
            REPACK.invokeExact(type.id, w, rowBytes, rows, cols, g0, g1, dst);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** {@link #matmul} on the x16 copy: r0 must be a multiple of 16 (r1 is the matrix's row count or a multiple of 16). */
    public static void matmulPacked(GGMLType type, MemorySegment packed, int r0, int r1, int cols,
                                    MemorySegment act, long actStride, int ntok, float[] out, int outStride) {
        matmulPacked(type, packed, r0, r1, cols, act, actStride, ntok, out, 0, outStride);
    }

    /** {@link #matmulPacked(GGMLType, MemorySegment, int, int, int, MemorySegment, long, int, float[], int)} with the results from out[outOff] on. */
    public static void matmulPacked(GGMLType type, MemorySegment packed, int r0, int r1, int cols,
                                    MemorySegment act, long actStride, int ntok, float[] out, int outOff, int outStride) {
        if (r0 % GROUP_ROWS != 0 || r0 > r1 || (long) (r1 + GROUP_ROWS - 1) / GROUP_ROWS * repackedBytes(type, GROUP_ROWS, cols) > packed.byteSize() || ntok * actStride > act.byteSize()
                || outOff < 0 || (ntok > 0 && outOff + (long) (ntok - 1) * outStride + r1 > out.length)) {
            throw new IndexOutOfBoundsException("matmul operands out of range");
        }
        try {
            MATMUL_PACKED.invokeExact(type.id, packed, r0, r1, cols, act, actStride, ntok, output(out, outOff), (long) outStride);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }
}
