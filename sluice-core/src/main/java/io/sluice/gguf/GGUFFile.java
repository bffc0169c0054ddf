package io.sluice.gguf;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A GGUF file (versions 2 and 3), memory-mapped with the FFM API. Metadata and tensor infos are
 * parsed onto the heap; tensor data stays in the mapping and is handed out as slices of it.
 *
 * <p>Every count, length and offset read from the file is checked against the bytes that are
 * really there before anything is allocated, heap use for metadata is capped (see
 * {@link #defaultHeapBudget}), and array nesting is limited, so a corrupt or hostile file fails with
 * one {@link GGUFException} naming the file and the problem, never with an OutOfMemoryError, a
 * StackOverflowError or a hang. Tensors must lie inside the file without overlapping; unlike ggml,
 * their order and gaps between them are not prescribed. As in ggml, a bool byte other than 0 is
 * true and a tensor with 0 dimensions is a scalar (read as shape [1]).
 */
public final class GGUFFile implements AutoCloseable {
    public static final int MAGIC = 0x46554747; // "GGUF" read as a little-endian int
    public static final int DEFAULT_ALIGNMENT = 32;
    public static final int MAX_DIMS = 4;
    /** Deeper nesting is only ever an attack on the recursion (ggml itself allows none). */
    static final int MAX_ARRAY_NESTING = 16;
    /** Larger values are only ever an attack on the parser's memory. */
    static final long MAX_ALIGNMENT = 1L << 30;
    static final long MAX_STRING_BYTES = 1L << 30;
    /** ggml keeps tensor names in 64-byte fields (63 bytes and a NUL); no real file has longer ones. */
    static final long MAX_NAME_BYTES = 63;
    /** Metadata keys are short dotted names; a longer one is corruption, not data. */
    static final long MAX_KEY_BYTES = 1 << 16;
    static final long MAX_ARRAY_LENGTH = Integer.MAX_VALUE - 16;

    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final Path path;
    private final Arena arena;
    private final MemorySegment file;
    private final int version;
    private final Map<String, GGUFValue> metadata;
    private final Map<String, TensorInfo> tensors;
    private final long alignment;
    private final long dataOffset;
    /** Whether the mapping was advised to take 2 MiB pages ({@link HugeMapping}). */
    private boolean hugePages;

    private GGUFFile(Path path, Arena arena, MemorySegment file, int version, Map<String, GGUFValue> metadata,
                     Map<String, TensorInfo> tensors, long alignment, long dataOffset) {
        this.path = path;
        this.arena = arena;
        this.file = file;
        this.version = version;
        this.metadata = metadata;
        this.tensors = tensors;
        this.alignment = alignment;
        this.dataOffset = dataOffset;
    }

    /** Maps and parses {@code path}. Throws GGUFException for any unreadable or invalid file. */
    public static GGUFFile open(Path path) {
        return open(path, defaultHeapBudget());
    }

    /**
     * Metadata lives on the heap, and a hostile file could declare millions of tiny strings or
     * nested arrays whose Java objects outweigh their bytes in the file. Parsing charges an
     * estimate of every allocation against this budget and fails cleanly when it runs out.
     * Real files need a few tens of MB at most (large vocabularies).
     */
    static long defaultHeapBudget() {
        return Math.max(64L << 20, Runtime.getRuntime().maxMemory() / 4);
    }

    /** As {@link #open(Path)}, with an explicit heap budget for metadata (tests use small ones). */
    static GGUFFile open(Path path, long heapBudget) {
        Arena arena = Arena.ofShared();
        try {
            MemorySegment seg;
            try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
                seg = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
            }
            boolean huge = HugeMapping.advise(seg); // 2 MiB pages for what is faulted in from now on (the experts' stream)
            GGUFFile f = parse(path, arena, seg, heapBudget);
            f.hugePages = huge;
            return f;
        } catch (NoSuchFileException e) {
            arena.close();
            throw new GGUFException(path + ": file not found", e);
        } catch (AccessDeniedException e) {
            arena.close();
            throw new GGUFException(path + ": permission denied", e);
        } catch (IOException e) {
            arena.close();
            throw new GGUFException(path + ": cannot read file: " + e, e);
        } catch (GGUFException e) {
            arena.close();
            throw e;
        } catch (RuntimeException e) { // any slip of the checks below still becomes a clear error
            arena.close();
            throw new GGUFException(path + ": invalid GGUF file: " + e, e);
        }
    }

    private static GGUFFile parse(Path path, Arena arena, MemorySegment seg, long heapBudget) {
        Cursor c = new Cursor(path, seg, heapBudget);
        if (seg.byteSize() < 4) throw c.fail("file too short to be GGUF (" + seg.byteSize() + " bytes)");
        int magic = c.i32("the magic");
        if (magic != MAGIC) throw c.failAt(0, "bad magic '" + printable(seg.asSlice(0, 4)) + "', not a GGUF file");
        c.context = "header";
        int version = c.i32("the version");
        if (version != 2 && version != 3) throw c.failAt(4, versionProblem(version));
        long nTensors = c.i64("the tensor count");
        long nKv = c.i64("the metadata count");
        // Smallest encodings: a key/value is 8 (key length) + 4 (type) + 1 (a u8) bytes, a tensor info
        // 8 (name length) + 4 (n_dims) + 4 (type) + 8 (offset). Counts beyond that cannot be real.
        if (nKv < 0 || nKv > c.remaining() / 13) {
            throw c.failAt(16, "metadata count " + Long.toUnsignedString(nKv) + " cannot fit in the "
                    + c.remaining() + " bytes left (corrupt or truncated file)");
        }
        if (nTensors < 0 || nTensors > (c.remaining() - 13 * nKv) / 24) {
            throw c.failAt(8, "tensor count " + Long.toUnsignedString(nTensors) + " cannot fit in the "
                    + c.remaining() + " bytes left (corrupt or truncated file)");
        }

        Map<String, GGUFValue> metadata = new LinkedHashMap<>();
        for (long i = 0; i < nKv; i++) {
            long at = c.pos;
            c.context = "metadata #" + i;
            String key = c.string("key", MAX_KEY_BYTES);
            if (key.isEmpty()) throw c.failAt(at, "empty metadata key");
            c.context = "metadata '" + key + "'";
            if (metadata.containsKey(key)) throw c.failAt(at, "duplicate metadata key");
            c.charge(64 + 2L * key.length());
            int typeId = c.i32("value type");
            GGUFValueType type = GGUFValueType.fromId(typeId);
            if (type == null) throw c.fail("unknown value type " + typeId);
            metadata.put(key, c.value(type));
        }

        c.context = "metadata 'general.alignment'";
        long alignment = DEFAULT_ALIGNMENT;
        GGUFValue a = metadata.get("general.alignment");
        if (a != null) {
            if (!a.isInteger()) throw c.fail("must be an integer, is " + a.type());
            alignment = a.asLong();
            if (alignment <= 0 || Long.bitCount(alignment) != 1 || alignment > MAX_ALIGNMENT) {
                throw c.fail("alignment " + Long.toUnsignedString(alignment) + " is not a power of two in 1.." + MAX_ALIGNMENT);
            }
        }

        Map<String, TensorInfo> byName = new LinkedHashMap<>();
        for (long i = 0; i < nTensors; i++) {
            long at = c.pos;
            c.context = "tensor #" + i;
            String name = c.string("name", MAX_NAME_BYTES);
            c.context = "tensor '" + name + "'";
            if (byName.containsKey(name)) throw c.failAt(at, "duplicate tensor name");
            c.charge(160 + 2L * name.length());
            TensorInfo info = tensorInfo(c, name, alignment);
            byName.put(name, info);
        }

        c.context = "data section";
        long dataOffset = nTensors > 0 ? alignUp(c.pos, alignment) : c.pos; // as ggml: no tensors, no padding
        long dataSize = seg.byteSize() - dataOffset;
        if (nTensors > 0 && dataSize < 0) {
            throw c.fail("truncated: tensor data would start at byte " + dataOffset + " but the file has " + seg.byteSize() + " bytes");
        }
        checkLayout(c, byName.values(), Math.max(0, dataSize));
        return new GGUFFile(path, arena, seg, version, Collections.unmodifiableMap(metadata),
                Collections.unmodifiableMap(byName), alignment, dataOffset);
    }

    private static String versionProblem(int version) {
        String v = Integer.toUnsignedString(version);
        if (version == 1) return "GGUF version 1 is not supported (an obsolete format): convert the model again with a current llama.cpp";
        if (version != 0 && (version & 0xFFFF) == 0) {
            return "unsupported GGUF version " + v + ": looks like a big-endian file, only little-endian GGUF is supported";
        }
        return "unsupported GGUF version " + v + " (supported: 2, 3)";
    }

    private static TensorInfo tensorInfo(Cursor c, String name, long alignment) {
        long at = c.pos;
        int nDims = c.i32("dimension count");
        if (nDims < 0 || nDims > MAX_DIMS) {
            throw c.failAt(at, "has " + Integer.toUnsignedString(nDims) + " dimensions (at most " + MAX_DIMS + " allowed)");
        }
        // ggml treats missing dimensions as 1, so a 0-dimensional tensor is a scalar: give it one axis of 1.
        long[] dims = new long[Math.max(1, nDims)];
        dims[0] = 1;
        long elements = 1;
        for (int d = 0; d < nDims; d++) {
            dims[d] = c.i64("a dimension");
            if (dims[d] < 0) throw c.fail("dimension " + d + " is negative (" + dims[d] + ")");
            if (dims[d] != 0 && elements > Long.MAX_VALUE / dims[d]) {
                throw c.fail("element count overflows: shape " + Arrays.toString(Arrays.copyOf(dims, d + 1)) + "...");
            }
            elements *= dims[d];
        }
        at = c.pos;
        int typeId = c.i32("tensor type");
        GGMLType type = GGMLType.fromId(typeId);
        if (type == null) {
            throw c.failAt(at, "unknown tensor type " + typeId + (GGMLType.isRemovedId(typeId)
                    ? " (a type ggml has removed from GGUF)" : " (not a ggml type this version of Sluice knows)"));
        }
        if (dims[0] % type.blockSize != 0) {
            throw c.failAt(at, "row length " + dims[0] + " is not a multiple of " + type + "'s block size " + type.blockSize);
        }
        if (elements / type.blockSize > Long.MAX_VALUE / type.typeSize) {
            throw c.failAt(at, "byte size overflows: shape " + Arrays.toString(dims) + " of " + type);
        }
        at = c.pos;
        long offset = c.i64("data offset");
        if (offset < 0) throw c.failAt(at, "data offset " + Long.toUnsignedString(offset) + " lies outside the file");
        if (offset % alignment != 0) throw c.failAt(at, "data offset " + offset + " is not aligned to " + alignment);
        return new TensorInfo(name, type, dims, offset);
    }

    /** Every tensor's bytes must lie inside the data section, and no two tensors may share bytes. */
    private static void checkLayout(Cursor c, Collection<TensorInfo> infos, long dataSize) {
        List<TensorInfo> sorted = new ArrayList<>(infos);
        sorted.sort(Comparator.comparingLong(TensorInfo::offset));
        long end = 0;
        TensorInfo prev = null;
        for (TensorInfo t : sorted) {
            long size = t.byteSize();
            if (t.offset() > dataSize || size > dataSize - t.offset()) {
                throw c.fail("tensor '" + t.name() + "' data (" + size + " bytes at offset " + t.offset()
                        + ") lies outside the file (data section is " + dataSize + " bytes): truncated file?");
            }
            if (t.offset() < end) throw c.fail("tensor '" + t.name() + "' overlaps tensor '" + prev.name() + "'");
            if (size > 0) {
                end = t.offset() + size;
                prev = t;
            }
        }
    }

    private static String printable(MemorySegment bytes) {
        StringBuilder sb = new StringBuilder();
        for (byte b : bytes.toArray(ValueLayout.JAVA_BYTE)) {
            sb.append(b >= 0x20 && b < 0x7f ? String.valueOf((char) b) : String.format("\\x%02x", b & 0xff));
        }
        return sb.toString();
    }

    static long alignUp(long x, long alignment) {
        return (x + alignment - 1) / alignment * alignment;
    }

    public Path path() { return path; }
    public int version() { return version; }
    public long alignment() { return alignment; }
    public long dataOffset() { return dataOffset; }
    public long fileSize() { return file.byteSize(); }
    public Map<String, GGUFValue> metadata() { return metadata; }
    public Map<String, TensorInfo> tensors() { return tensors; }

    public boolean has(String key) { return metadata.containsKey(key); }

    public GGUFValue get(String key) { return metadata.get(key); }

    public String getString(String key, String dflt) {
        GGUFValue v = metadata.get(key);
        return v == null ? dflt : typed(key, v, GGUFValueType.STRING).asString();
    }

    public String requireString(String key) {
        return typed(key, require(key), GGUFValueType.STRING).asString();
    }

    public long getLong(String key, long dflt) {
        GGUFValue v = metadata.get(key);
        return v == null ? dflt : number(key, v).asLong();
    }

    public int getInt(String key, int dflt) {
        GGUFValue v = metadata.get(key);
        if (v == null) return dflt;
        long x = number(key, v).asLong();
        if (x < Integer.MIN_VALUE || x > Integer.MAX_VALUE) throw new GGUFException(path + ": metadata '" + key + "' value " + x + " is out of range");
        return (int) x;
    }

    public int requireInt(String key) {
        require(key);
        return getInt(key, 0);
    }

    public float getFloat(String key, float dflt) {
        GGUFValue v = metadata.get(key);
        return v == null ? dflt : (float) number(key, v).asDouble();
    }

    public boolean getBoolean(String key, boolean dflt) {
        GGUFValue v = metadata.get(key);
        return v == null ? dflt : number(key, v).asBoolean();
    }

    /** A STRING array, or null when the key is absent. */
    public String[] getStringArray(String key) {
        GGUFValue v = metadata.get(key);
        return v == null ? null : array(key, v, GGUFValueType.STRING).asStringArray();
    }

    /** A FLOAT32 array, or null when the key is absent. */
    public float[] getFloatArray(String key) {
        GGUFValue v = metadata.get(key);
        return v == null ? null : array(key, v, GGUFValueType.FLOAT32).asFloatArray();
    }

    /** Any integer or bool array as a fresh int[] (files store token types etc. in various widths), or null when absent. */
    public int[] getIntArray(String key) {
        GGUFValue v = metadata.get(key);
        if (v == null) return null;
        if (!v.isArray()) throw new GGUFException(path + ": metadata '" + key + "' is " + v.type() + ", expected an integer array");
        try {
            return v.toIntArray();
        } catch (IllegalStateException | ArithmeticException e) {
            throw new GGUFException(path + ": metadata '" + key + "': cannot read as int array (" + e.getMessage() + ")", e);
        }
    }

    private GGUFValue array(String key, GGUFValue v, GGUFValueType element) {
        if (!v.isArray() || v.elementType() != element) {
            throw new GGUFException(path + ": metadata '" + key + "' is " + (v.isArray() ? "an array of " + v.elementType() : v.type())
                    + ", expected an array of " + element);
        }
        return v;
    }

    public GGUFValue require(String key) {
        GGUFValue v = metadata.get(key);
        if (v == null) throw new GGUFException(path + ": missing metadata key '" + key + "'");
        return v;
    }

    private GGUFValue typed(String key, GGUFValue v, GGUFValueType want) {
        if (v.type() != want) throw new GGUFException(path + ": metadata '" + key + "' is " + v.type() + ", expected " + want);
        return v;
    }

    private GGUFValue number(String key, GGUFValue v) {
        if (v.isArray() || v.type() == GGUFValueType.STRING) {
            throw new GGUFException(path + ": metadata '" + key + "' is " + v.type() + ", expected a number");
        }
        return v;
    }

    public TensorInfo tensor(String name) {
        return tensors.get(name);
    }

    public TensorInfo requireTensor(String name) {
        TensorInfo t = tensors.get(name);
        if (t == null) throw new GGUFException(path + ": missing tensor '" + name + "'");
        return t;
    }

    /** The tensor's bytes, a slice of the mapping (never copied). */
    public MemorySegment data(TensorInfo t) {
        long size = t.byteSize();
        if (t.offset() < 0 || t.offset() > file.byteSize() - dataOffset || size > file.byteSize() - dataOffset - t.offset()) {
            throw new IllegalArgumentException("tensor '" + t.name() + "' does not lie in " + path);
        }
        return file.asSlice(dataOffset + t.offset(), size);
    }

    /** Whether the mapping was advised to take 2 MiB pages (see {@link HugeMapping}). */
    boolean hugePagesAdvised() {
        return hugePages;
    }

    @Override
    public void close() {
        arena.close();
    }

    @Override
    public String toString() {
        return "GGUFFile[" + path + ", v" + version + ", " + metadata.size() + " keys, " + tensors.size() + " tensors]";
    }

    /** Bounds-checked little-endian reader over the mapped header. */
    private static final class Cursor {
        final Path path;
        final MemorySegment seg;
        long pos;
        final long heapBudget;
        long heapLeft;
        /** What is being read, for messages: "header", "metadata 'key'", "tensor 'name'". */
        String context = "";

        Cursor(Path path, MemorySegment seg, long heapBudget) {
            this.path = path;
            this.seg = seg;
            this.heapBudget = heapBudget;
            this.heapLeft = heapBudget;
        }

        long remaining() {
            return seg.byteSize() - pos;
        }

        GGUFException fail(String msg) {
            return failAt(pos, msg);
        }

        GGUFException failAt(long at, String msg) {
            return new GGUFException(path + ": " + (context.isEmpty() ? "" : context + ": ") + msg + " (at byte " + at + ")");
        }

        void need(long n, String what) {
            if (n > remaining()) throw fail("truncated: " + what + " needs " + n + " bytes, " + remaining() + " left");
        }

        /** Reserves an estimated {@code bytes} of heap for what is about to be allocated. */
        void charge(long bytes) {
            heapLeft -= bytes;
            if (heapLeft < 0) {
                throw fail("metadata needs more heap than the " + Math.max(1, heapBudget >> 20)
                        + " MiB allowed (too many or too large values; raise -Xmx if the file is genuine)");
            }
        }

        byte i8(String what) { need(1, what); return seg.get(ValueLayout.JAVA_BYTE, pos++); }
        short i16(String what) { need(2, what); short v = seg.get(I16, pos); pos += 2; return v; }
        int i32(String what) { need(4, what); int v = seg.get(I32, pos); pos += 4; return v; }
        long i64(String what) { need(8, what); long v = seg.get(I64, pos); pos += 8; return v; }

        String string(String what) {
            return string(what, MAX_STRING_BYTES);
        }

        String string(String what, long maxBytes) {
            long at = pos;
            long len = i64(what + " length");
            if (len < 0 || len > remaining()) {
                throw failAt(at, what + " length " + Long.toUnsignedString(len) + " exceeds the " + remaining()
                        + " bytes left in the file (corrupt or truncated file)");
            }
            if (len > maxBytes) throw failAt(at, what + " of " + len + " bytes is longer than the " + maxBytes + " byte limit");
            if (len == 0) return "";
            charge(48 + 3 * len); // the byte[] copy plus a String of up to 2 bytes per char
            String s = new String(seg.asSlice(pos, len).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
            pos += len;
            return s;
        }

        GGUFValue value(GGUFValueType type) {
            return switch (type) {
                case UINT8, INT8 -> GGUFValue.of(type, i8("a value"));
                case UINT16, INT16 -> GGUFValue.of(type, i16("a value"));
                case UINT32, INT32 -> GGUFValue.of(type, i32("a value"));
                case UINT64, INT64 -> GGUFValue.of(type, i64("a value"));
                case FLOAT32 -> GGUFValue.of(type, Float.intBitsToFloat(i32("a value")));
                case FLOAT64 -> GGUFValue.of(type, Double.longBitsToDouble(i64("a value")));
                case BOOL -> GGUFValue.of(type, i8("a value") != 0); // any non-zero byte is true, as in ggml
                case STRING -> GGUFValue.of(type, string("string"));
                case ARRAY -> array(1);
            };
        }

        GGUFValue array(int depth) {
            if (depth > MAX_ARRAY_NESTING) throw fail("arrays nested deeper than " + MAX_ARRAY_NESTING + " levels");
            int typeId = i32("array element type");
            GGUFValueType et = GGUFValueType.fromId(typeId);
            if (et == null) throw failAt(pos - 4, "array has unknown element type " + typeId);
            long at = pos;
            long n = i64("array length");
            // Smallest encoding per element: its fixed size, 8 for a string length, 12 for a nested array header.
            long min = et.size > 0 ? et.size : (et == GGUFValueType.STRING ? 8 : 12);
            if (n < 0 || n > remaining() / min) {
                throw failAt(at, "array of " + Long.toUnsignedString(n) + " " + et + " elements cannot fit in the "
                        + remaining() + " bytes left in the file (corrupt or truncated file)");
            }
            if (n > MAX_ARRAY_LENGTH) throw failAt(at, "array of " + n + " elements is longer than the " + MAX_ARRAY_LENGTH + " element limit");
            int len = (int) n;
            charge(16 + n * (et.size > 0 ? et.size : 8));
            Object arr;
            switch (et) {
                case UINT8, INT8 -> arr = bulk(len, ValueLayout.JAVA_BYTE, new byte[len]);
                case UINT16, INT16 -> arr = bulk(len, I16, new short[len]);
                case UINT32, INT32 -> arr = bulk(len, I32, new int[len]);
                case UINT64, INT64 -> arr = bulk(len, I64, new long[len]);
                case FLOAT32 -> arr = bulk(len, F32, new float[len]);
                case FLOAT64 -> arr = bulk(len, F64, new double[len]);
                case BOOL -> {
                    boolean[] a = new boolean[len];
                    for (int i = 0; i < len; i++) a[i] = seg.get(ValueLayout.JAVA_BYTE, pos + i) != 0;
                    pos += len;
                    arr = a;
                }
                case STRING -> {
                    String[] a = new String[len];
                    for (int i = 0; i < len; i++) a[i] = string("string");
                    arr = a;
                }
                case ARRAY -> {
                    charge(48 * n); // each element is a GGUFValue wrapping its own array
                    GGUFValue[] a = new GGUFValue[len];
                    for (int i = 0; i < len; i++) a[i] = array(depth + 1);
                    arr = a;
                }
                default -> throw new AssertionError(et);
            }
            return GGUFValue.array(et, arr);
        }

        /** Copies len fixed-size little-endian elements (already bounds-checked by the caller) into dst. */
        private Object bulk(int len, ValueLayout layout, Object dst) {
            MemorySegment.copy(seg, layout, pos, dst, 0, len);
            pos += len * layout.byteSize();
            return dst;
        }
    }
}
