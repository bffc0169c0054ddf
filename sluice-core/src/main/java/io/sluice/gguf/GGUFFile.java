package io.sluice.gguf;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
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
 * really there before anything is allocated, so a corrupt or hostile file fails with a
 * {@link GGUFException} naming the file and the problem, never with an OutOfMemoryError.
 */
public final class GGUFFile implements AutoCloseable {
    public static final int MAGIC = 0x46554747; // "GGUF" read as a little-endian int
    public static final int DEFAULT_ALIGNMENT = 32;
    public static final int MAX_DIMS = 4;
    private static final int MAX_ARRAY_NESTING = 16;

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
        Arena arena = Arena.ofShared();
        try {
            MemorySegment seg;
            try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
                seg = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
            }
            GGUFFile f = parse(path, arena, seg);
            return f;
        } catch (IOException e) {
            arena.close();
            throw new GGUFException(path + ": cannot read file: " + e.getMessage(), e);
        } catch (GGUFException e) {
            arena.close();
            throw e;
        } catch (RuntimeException e) { // any slip of the checks below still becomes a clear error
            arena.close();
            throw new GGUFException(path + ": invalid GGUF file: " + e, e);
        }
    }

    private static GGUFFile parse(Path path, Arena arena, MemorySegment seg) {
        Cursor c = new Cursor(path, seg);
        if (seg.byteSize() < 4) throw c.fail("file too short to be GGUF (" + seg.byteSize() + " bytes)");
        int magic = c.i32();
        if (magic != MAGIC) throw c.fail(String.format("bad magic 0x%08x, not a GGUF file", magic));
        int version = c.i32();
        if (version != 2 && version != 3) {
            throw c.fail("unsupported GGUF version " + Integer.toUnsignedString(version) + " (supported: 2, 3)");
        }
        long nTensors = c.i64();
        long nKv = c.i64();
        // A tensor info takes at least 8+1+4+4+8 bytes and a key/value at least 8+1+4+1: bounds counts by the file.
        if (nTensors < 0 || nTensors > c.remaining() / 25) throw c.fail("tensor count " + Long.toUnsignedString(nTensors) + " does not fit in the file");
        if (nKv < 0 || nKv > c.remaining() / 14) throw c.fail("metadata count " + Long.toUnsignedString(nKv) + " does not fit in the file");

        Map<String, GGUFValue> metadata = new LinkedHashMap<>();
        for (long i = 0; i < nKv; i++) {
            long at = c.pos;
            String key = c.string();
            int typeId = c.i32();
            GGUFValueType type = GGUFValueType.fromId(typeId);
            if (type == null) throw c.fail("metadata key '" + key + "' has unknown value type " + typeId);
            GGUFValue v = c.value(type, 0);
            if (metadata.putIfAbsent(key, v) != null) throw c.failAt(at, "duplicate metadata key '" + key + "'");
        }

        long alignment = DEFAULT_ALIGNMENT;
        GGUFValue a = metadata.get("general.alignment");
        if (a != null) {
            if (a.isArray() || a.type() == GGUFValueType.STRING || a.type() == GGUFValueType.FLOAT32
                    || a.type() == GGUFValueType.FLOAT64 || a.type() == GGUFValueType.BOOL) {
                throw c.fail("general.alignment must be an integer, is " + a.type());
            }
            alignment = a.asLong();
            if (alignment <= 0 || Long.bitCount(alignment) != 1 || alignment > (1 << 30)) {
                throw c.fail("general.alignment " + alignment + " is not a power of two");
            }
        }

        List<TensorInfo> infos = new ArrayList<>();
        Map<String, TensorInfo> byName = new LinkedHashMap<>();
        for (long i = 0; i < nTensors; i++) {
            String name = c.string();
            int nDims = c.i32();
            if (nDims < 1 || nDims > MAX_DIMS) throw c.fail("tensor '" + name + "' has " + Integer.toUnsignedString(nDims) + " dimensions (1.." + MAX_DIMS + " allowed)");
            long[] dims = new long[nDims];
            long elements = 1;
            for (int d = 0; d < nDims; d++) {
                dims[d] = c.i64();
                if (dims[d] < 0) throw c.fail("tensor '" + name + "' has a negative dimension");
                try {
                    elements = Math.multiplyExact(elements, dims[d]);
                } catch (ArithmeticException e) {
                    throw c.fail("tensor '" + name + "' dimensions overflow");
                }
            }
            int typeId = c.i32();
            GGMLType type = GGMLType.fromId(typeId);
            if (type == null) throw c.fail("tensor '" + name + "' has unknown tensor type " + typeId);
            if (dims[0] % type.blockSize != 0) {
                throw c.fail("tensor '" + name + "' row length " + dims[0] + " is not a multiple of " + type + "'s block size " + type.blockSize);
            }
            long offset = c.i64();
            if (offset < 0 || offset % alignment != 0) throw c.fail("tensor '" + name + "' offset " + offset + " is not aligned to " + alignment);
            TensorInfo info = new TensorInfo(name, type, dims, offset);
            try {
                info.byteSize();
            } catch (ArithmeticException e) {
                throw c.fail("tensor '" + name + "' size overflows");
            }
            if (byName.putIfAbsent(name, info) != null) throw c.fail("duplicate tensor name '" + name + "'");
            infos.add(info);
        }

        long dataOffset = alignUp(c.pos, alignment);
        long dataSize = seg.byteSize() - dataOffset;
        List<TensorInfo> sorted = new ArrayList<>(infos);
        sorted.sort(Comparator.comparingLong(TensorInfo::offset));
        long end = 0;
        TensorInfo prev = null;
        for (TensorInfo t : sorted) {
            long size = t.byteSize();
            if (t.offset() < end) throw c.fail("tensor '" + t.name() + "' overlaps tensor '" + prev.name() + "'");
            if (t.offset() > dataSize || size > dataSize - t.offset()) {
                throw c.fail("tensor '" + t.name() + "' data (" + size + " bytes at offset " + t.offset()
                        + ") lies outside the file (data section is " + Math.max(0, dataSize) + " bytes): truncated file?");
            }
            end = t.offset() + size;
            prev = t;
        }
        return new GGUFFile(path, arena, seg, version, Collections.unmodifiableMap(metadata),
                Collections.unmodifiableMap(byName), alignment, dataOffset);
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
        return file.asSlice(dataOffset + t.offset(), t.byteSize());
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

        Cursor(Path path, MemorySegment seg) {
            this.path = path;
            this.seg = seg;
        }

        long remaining() {
            return seg.byteSize() - pos;
        }

        GGUFException fail(String msg) {
            return failAt(pos, msg);
        }

        GGUFException failAt(long at, String msg) {
            return new GGUFException(path + ": " + msg + " (at byte " + at + ")");
        }

        void need(long n, String what) {
            if (n < 0 || n > remaining()) throw fail("truncated: " + what + " needs " + (n < 0 ? Long.toUnsignedString(n) : n) + " bytes, " + remaining() + " left");
        }

        byte i8() { need(1, "a byte"); return seg.get(ValueLayout.JAVA_BYTE, pos++); }
        short i16() { need(2, "a 16-bit value"); short v = seg.get(I16, pos); pos += 2; return v; }
        int i32() { need(4, "a 32-bit value"); int v = seg.get(I32, pos); pos += 4; return v; }
        long i64() { need(8, "a 64-bit value"); long v = seg.get(I64, pos); pos += 8; return v; }
        float f32() { need(4, "a float"); float v = seg.get(F32, pos); pos += 4; return v; }
        double f64() { need(8, "a double"); double v = seg.get(F64, pos); pos += 8; return v; }

        String string() {
            long len = i64();
            need(len, "a string");
            if (len > Integer.MAX_VALUE - 16) throw fail("string of " + len + " bytes is too long");
            byte[] b = seg.asSlice(pos, len).toArray(ValueLayout.JAVA_BYTE);
            pos += len;
            return new String(b, StandardCharsets.UTF_8);
        }

        GGUFValue value(GGUFValueType type, int depth) {
            return switch (type) {
                case UINT8, INT8 -> GGUFValue.of(type, i8());
                case UINT16, INT16 -> GGUFValue.of(type, i16());
                case UINT32, INT32 -> GGUFValue.of(type, i32());
                case UINT64, INT64 -> GGUFValue.of(type, i64());
                case FLOAT32 -> GGUFValue.of(type, f32());
                case FLOAT64 -> GGUFValue.of(type, f64());
                case BOOL -> GGUFValue.of(type, bool());
                case STRING -> GGUFValue.of(type, string());
                case ARRAY -> array(depth + 1);
            };
        }

        boolean bool() {
            byte b = i8();
            if (b != 0 && b != 1) throw failAt(pos - 1, "bool value " + b + " is neither 0 nor 1");
            return b == 1;
        }

        GGUFValue array(int depth) {
            if (depth > MAX_ARRAY_NESTING) throw fail("arrays nested deeper than " + MAX_ARRAY_NESTING);
            int typeId = i32();
            GGUFValueType et = GGUFValueType.fromId(typeId);
            if (et == null) throw fail("array has unknown element type " + typeId);
            long n = i64();
            // Smallest encoding per element: its fixed size, 8 for a string length, 12 for a nested array header.
            long min = et.size > 0 ? et.size : (et == GGUFValueType.STRING ? 8 : 12);
            if (n < 0 || n > remaining() / min) throw fail("array of " + Long.toUnsignedString(n) + " " + et + " elements does not fit in the file");
            int len = (int) n;
            Object arr;
            switch (et) {
                case UINT8, INT8 -> { byte[] a = seg.asSlice(pos, len).toArray(ValueLayout.JAVA_BYTE); pos += len; arr = a; }
                case BOOL -> { boolean[] a = new boolean[len]; for (int i = 0; i < len; i++) a[i] = bool(); arr = a; }
                case UINT16, INT16 -> { short[] a = new short[len]; for (int i = 0; i < len; i++) a[i] = i16(); arr = a; }
                case UINT32, INT32 -> { int[] a = new int[len]; for (int i = 0; i < len; i++) a[i] = i32(); arr = a; }
                case UINT64, INT64 -> { long[] a = new long[len]; for (int i = 0; i < len; i++) a[i] = i64(); arr = a; }
                case FLOAT32 -> { float[] a = new float[len]; for (int i = 0; i < len; i++) a[i] = f32(); arr = a; }
                case FLOAT64 -> { double[] a = new double[len]; for (int i = 0; i < len; i++) a[i] = f64(); arr = a; }
                case STRING -> { String[] a = new String[len]; for (int i = 0; i < len; i++) a[i] = string(); arr = a; }
                case ARRAY -> { GGUFValue[] a = new GGUFValue[len]; for (int i = 0; i < len; i++) a[i] = array(depth + 1); arr = a; }
                default -> throw new AssertionError(et);
            }
            return GGUFValue.array(et, arr);
        }
    }
}
