package io.sluice.gguf;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes GGUF version 3 files: metadata in insertion order, tensor infos, then each tensor's data
 * padded to the alignment (32, or {@code general.alignment} when set). Tensor data is streamed
 * from its source when {@link #write} runs, so a file of many GB never has to fit in memory.
 *
 * <p>Files follow what llama.cpp's reader demands: non-empty unique keys, {@code general.alignment}
 * as a UINT32, tensor names shorter than 64 bytes, tensors stored back to back in the order added.
 * Arrays of arrays are written as the format describes them, but llama.cpp itself cannot read them.
 *
 * <p>Quantizing floats is not this package's job (gguf sits below tensor): pass a {@link TensorSource}
 * that quantizes while writing, or a segment already holding the encoded bytes.
 */
public final class GGUFWriter {
    public static final int VERSION = 3;
    /** ggml's GGML_MAX_NAME is 64 bytes including the terminating NUL. */
    public static final int MAX_TENSOR_NAME_BYTES = 63;
    private static final String ALIGNMENT_KEY = "general.alignment";
    private static final int CHUNK = 1 << 20;
    private static final byte[] ZEROS = new byte[4096];

    /** Produces a tensor's encoded bytes, exactly {@link GGMLType#byteSize} of them, when the file is written. */
    @FunctionalInterface
    public interface TensorSource {
        void writeTo(OutputStream out) throws IOException;
    }

    private record Pending(TensorInfo info, TensorSource source) {
    }

    private final Map<String, GGUFValue> metadata = new LinkedHashMap<>();
    private final Map<String, Pending> tensors = new LinkedHashMap<>();
    /** Where the next tensor's data goes, relative to the data section. */
    private long nextOffset;

    public GGUFWriter() {
    }

    /**
     * A writer holding everything {@code file} holds, to modify and write elsewhere. Tensor data is
     * read from the file's mapping during {@link #write}, so keep the file open until then.
     */
    public static GGUFWriter copyOf(GGUFFile file) {
        GGUFWriter w = new GGUFWriter();
        file.metadata().forEach((k, v) -> w.put(k, k.equals(ALIGNMENT_KEY) ? GGUFValue.u32(v.asLong()) : v));
        List<TensorInfo> inFileOrder = new java.util.ArrayList<>(file.tensors().values());
        inFileOrder.sort(java.util.Comparator.comparingLong(TensorInfo::offset));
        for (TensorInfo t : inFileOrder) w.addTensor(t.name(), t.type(), t.dims(), file.data(t));
        return w;
    }

    /** Sets (or replaces, keeping its position) one metadata value. */
    public GGUFWriter put(String key, GGUFValue value) {
        if (key == null || key.isEmpty()) throw new IllegalArgumentException("metadata key must not be empty");
        if (value == null) throw new IllegalArgumentException("metadata '" + key + "': value is null");
        check(key, value, 0);
        if (key.equals(ALIGNMENT_KEY)) {
            if (value.type() != GGUFValueType.UINT32) throw new IllegalArgumentException(ALIGNMENT_KEY + " must be a UINT32, is " + value.type());
            checkAlignment(value.asLong());
        }
        if (!tensors.isEmpty() && key.equals(ALIGNMENT_KEY)) {
            throw new IllegalStateException("set " + ALIGNMENT_KEY + " before adding tensors");
        }
        metadata.put(key, value);
        return this;
    }

    public GGUFWriter putString(String key, String v) { return put(key, GGUFValue.string(v)); }
    public GGUFWriter putU8(String key, int v) { return put(key, GGUFValue.of(GGUFValueType.UINT8, (byte) checkRange(key, v, 0, 0xFF))); }
    public GGUFWriter putI8(String key, byte v) { return put(key, GGUFValue.of(GGUFValueType.INT8, v)); }
    public GGUFWriter putU16(String key, int v) { return put(key, GGUFValue.of(GGUFValueType.UINT16, (short) checkRange(key, v, 0, 0xFFFF))); }
    public GGUFWriter putI16(String key, short v) { return put(key, GGUFValue.of(GGUFValueType.INT16, v)); }
    public GGUFWriter putU32(String key, long v) { return put(key, GGUFValue.of(GGUFValueType.UINT32, (int) checkRange(key, v, 0, 0xFFFF_FFFFL))); }
    public GGUFWriter putI32(String key, int v) { return put(key, GGUFValue.i32(v)); }
    /** v is read as unsigned (values above Long.MAX_VALUE are negative longs). */
    public GGUFWriter putU64(String key, long v) { return put(key, GGUFValue.of(GGUFValueType.UINT64, v)); }
    public GGUFWriter putI64(String key, long v) { return put(key, GGUFValue.of(GGUFValueType.INT64, v)); }
    public GGUFWriter putF32(String key, float v) { return put(key, GGUFValue.f32(v)); }
    public GGUFWriter putF64(String key, double v) { return put(key, GGUFValue.of(GGUFValueType.FLOAT64, v)); }
    public GGUFWriter putBool(String key, boolean v) { return put(key, GGUFValue.bool(v)); }
    public GGUFWriter putArray(String key, String[] v) { return put(key, GGUFValue.array(GGUFValueType.STRING, v.clone())); }
    public GGUFWriter putArray(String key, float[] v) { return put(key, GGUFValue.array(GGUFValueType.FLOAT32, v.clone())); }
    /** An INT32 array. */
    public GGUFWriter putArray(String key, int[] v) { return put(key, GGUFValue.array(GGUFValueType.INT32, v.clone())); }
    /** An INT64 array. */
    public GGUFWriter putArray(String key, long[] v) { return put(key, GGUFValue.array(GGUFValueType.INT64, v.clone())); }
    public GGUFWriter putArray(String key, boolean[] v) { return put(key, GGUFValue.array(GGUFValueType.BOOL, v.clone())); }

    /** Sets {@code general.alignment} (a power of two; files default to 32). */
    public GGUFWriter alignment(int alignment) {
        checkAlignment(alignment);
        return put(ALIGNMENT_KEY, GGUFValue.u32(alignment));
    }

    public long alignment() {
        GGUFValue a = metadata.get(ALIGNMENT_KEY);
        return a == null ? GGUFFile.DEFAULT_ALIGNMENT : a.asLong();
    }

    public Map<String, GGUFValue> metadata() {
        return Collections.unmodifiableMap(metadata);
    }

    /** Tensor infos in file order, with the offsets they will have. */
    public List<TensorInfo> tensors() {
        return tensors.values().stream().map(Pending::info).toList();
    }

    public GGUFWriter addTensor(String name, GGMLType type, long[] dims, byte[] data) {
        byte[] copy = data.clone();
        return addTensor(name, type, dims, copy.length, out -> out.write(copy));
    }

    /** The segment must stay readable until {@link #write} has run (it is read then, not copied now). */
    public GGUFWriter addTensor(String name, GGMLType type, long[] dims, MemorySegment data) {
        return addTensor(name, type, dims, data.byteSize(), out -> {
            byte[] buf = new byte[(int) Math.min(CHUNK, data.byteSize())];
            for (long at = 0; at < data.byteSize(); at += buf.length) {
                int n = (int) Math.min(buf.length, data.byteSize() - at);
                MemorySegment.copy(data, ValueLayout.JAVA_BYTE, at, buf, 0, n);
                out.write(buf, 0, n);
            }
        });
    }

    /** The source is called once, during {@link #write}, and must write exactly the tensor's byte size. */
    public GGUFWriter addTensor(String name, GGMLType type, long[] dims, TensorSource source) {
        return addTensor(name, type, dims, -1, source);
    }

    private GGUFWriter addTensor(String name, GGMLType type, long[] dims, long dataBytes, TensorSource source) {
        if (name == null) throw new IllegalArgumentException("tensor name is null");
        String what = "tensor '" + name + "': ";
        if (name.getBytes(StandardCharsets.UTF_8).length > MAX_TENSOR_NAME_BYTES) {
            throw new IllegalArgumentException(what + "name is longer than " + MAX_TENSOR_NAME_BYTES + " bytes");
        }
        if (tensors.containsKey(name)) throw new IllegalArgumentException(what + "duplicate tensor name");
        if (type == null || source == null) throw new IllegalArgumentException(what + "type and data are required");
        if (dims.length < 1 || dims.length > GGUFFile.MAX_DIMS) {
            throw new IllegalArgumentException(what + dims.length + " dimensions (1.." + GGUFFile.MAX_DIMS + " allowed)");
        }
        long elements = 1;
        for (long d : dims) {
            if (d < 0) throw new IllegalArgumentException(what + "negative dimension " + d);
            try {
                elements = Math.multiplyExact(elements, d);
            } catch (ArithmeticException e) {
                throw new IllegalArgumentException(what + "element count overflows");
            }
        }
        if (dims[0] % type.blockSize != 0) {
            throw new IllegalArgumentException(what + "row length " + dims[0] + " is not a multiple of " + type + "'s block size " + type.blockSize);
        }
        long size;
        try {
            size = type.byteSize(elements);
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException(what + "byte size overflows");
        }
        if (dataBytes >= 0 && dataBytes != size) {
            throw new IllegalArgumentException(what + "data has " + dataBytes + " bytes, a " + type + " tensor of shape "
                    + java.util.Arrays.toString(dims) + " needs " + size);
        }
        tensors.put(name, new Pending(new TensorInfo(name, type, dims.clone(), nextOffset), source));
        nextOffset = GGUFFile.alignUp(nextOffset + size, alignment());
        return this;
    }

    /**
     * Writes the file. It is written beside {@code path} under a temporary name and moved into place
     * once complete, so a failure never leaves a half-written file at {@code path}.
     */
    public void write(Path path) throws IOException {
        Path abs = path.toAbsolutePath();
        Path tmp = abs.resolveSibling(abs.getFileName() + ".tmp-" + ProcessHandle.current().pid() + "-" + System.nanoTime());
        boolean done = false;
        try {
            try (OutputStream out = Files.newOutputStream(tmp)) {
                write(out);
            }
            try {
                Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING);
            }
            done = true;
        } finally {
            if (!done) Files.deleteIfExists(tmp);
        }
    }

    /** Streams the whole file to {@code out} (not closed). */
    public void write(OutputStream out) throws IOException {
        long alignment = alignment();
        Sink sink = new Sink(new BufferedOutputStream(out, CHUNK));
        sink.i32(GGUFFile.MAGIC);
        sink.i32(VERSION);
        sink.i64(tensors.size());
        sink.i64(metadata.size());
        for (Map.Entry<String, GGUFValue> e : metadata.entrySet()) {
            sink.string(e.getKey());
            sink.i32(e.getValue().type().id);
            sink.value(e.getValue());
        }
        for (Pending p : tensors.values()) {
            TensorInfo t = p.info;
            sink.string(t.name());
            sink.i32(t.dims().length);
            for (long d : t.dims()) sink.i64(d);
            sink.i32(t.type().id);
            sink.i64(t.offset());
        }
        if (!tensors.isEmpty()) sink.pad(alignment); // like ggml: a file without tensors has no data section
        long dataStart = sink.written;
        for (Pending p : tensors.values()) {
            TensorInfo t = p.info;
            if (sink.written - dataStart != t.offset()) throw new IllegalStateException("layout bug at tensor '" + t.name() + "'");
            Counted counted = new Counted(sink, t.byteSize());
            p.source.writeTo(counted);
            if (counted.count != t.byteSize()) {
                throw new IOException("tensor '" + t.name() + "': its source wrote " + counted.count + " bytes, expected " + t.byteSize());
            }
            sink.pad(alignment); // ggml also pads after the last tensor and reads that padding
        }
        sink.flush();
    }

    private static void checkAlignment(long a) {
        if (a <= 0 || Long.bitCount(a) != 1 || a > GGUFFile.MAX_ALIGNMENT) {
            throw new IllegalArgumentException("alignment " + a + " is not a power of two in 1.." + GGUFFile.MAX_ALIGNMENT);
        }
    }

    private static long checkRange(String key, long v, long min, long max) {
        if (v < min || v > max) throw new IllegalArgumentException("metadata '" + key + "': " + v + " is outside " + min + ".." + max);
        return v;
    }

    /** The Java object must be what the declared type says, so that the bytes written are the ones meant. */
    private static void check(String key, GGUFValue v, int depth) {
        String what = "metadata '" + key + "': ";
        if (v.type() == null) throw new IllegalArgumentException(what + "type is null");
        if (!v.isArray()) {
            if (!scalarClass(v.type()).isInstance(v.value())) {
                throw new IllegalArgumentException(what + v.type() + " needs a " + scalarClass(v.type()).getSimpleName()
                        + ", got " + (v.value() == null ? "null" : v.value().getClass().getSimpleName()));
            }
            return;
        }
        if (depth >= GGUFFile.MAX_ARRAY_NESTING) throw new IllegalArgumentException(what + "arrays nested deeper than " + GGUFFile.MAX_ARRAY_NESTING);
        GGUFValueType et = v.elementType();
        if (et == null) throw new IllegalArgumentException(what + "array without element type");
        Class<?> want = switch (et) {
            case UINT8, INT8 -> byte[].class;
            case UINT16, INT16 -> short[].class;
            case UINT32, INT32 -> int[].class;
            case UINT64, INT64 -> long[].class;
            case FLOAT32 -> float[].class;
            case FLOAT64 -> double[].class;
            case BOOL -> boolean[].class;
            case STRING -> String[].class;
            case ARRAY -> GGUFValue[].class;
        };
        if (!want.isInstance(v.value())) {
            throw new IllegalArgumentException(what + "array of " + et + " needs a " + want.getSimpleName() + ", got "
                    + (v.value() == null ? "null" : v.value().getClass().getSimpleName()));
        }
        if (v.value() instanceof String[] a) {
            for (String s : a) if (s == null) throw new IllegalArgumentException(what + "null string in array");
        }
        if (v.value() instanceof GGUFValue[] a) {
            for (GGUFValue e : a) {
                if (e == null || !e.isArray()) throw new IllegalArgumentException(what + "an array of ARRAY must hold array values");
                check(key, e, depth + 1);
            }
        }
    }

    private static Class<?> scalarClass(GGUFValueType t) {
        return switch (t) {
            case UINT8, INT8 -> Byte.class;
            case UINT16, INT16 -> Short.class;
            case UINT32, INT32 -> Integer.class;
            case UINT64, INT64 -> Long.class;
            case FLOAT32 -> Float.class;
            case FLOAT64 -> Double.class;
            case BOOL -> Boolean.class;
            case STRING -> String.class;
            case ARRAY -> GGUFValue.class; // unreachable: arrays are handled apart
        };
    }

    /** Little-endian encoder that counts what it has written. */
    private static final class Sink {
        final OutputStream out;
        final ByteBuffer buf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        long written;

        Sink(OutputStream out) {
            this.out = out;
        }

        void bytes(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
            written += len;
        }

        void fixed(int n) throws IOException {
            bytes(buf.array(), 0, n);
            buf.clear();
        }

        void i8(byte v) throws IOException { buf.put(v); fixed(1); }
        void i16(short v) throws IOException { buf.putShort(v); fixed(2); }
        void i32(int v) throws IOException { buf.putInt(v); fixed(4); }
        void i64(long v) throws IOException { buf.putLong(v); fixed(8); }

        void string(String s) throws IOException {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            i64(b.length);
            bytes(b, 0, b.length);
        }

        void pad(long alignment) throws IOException {
            long n = GGUFFile.alignUp(written, alignment) - written;
            while (n > 0) {
                int k = (int) Math.min(n, ZEROS.length);
                bytes(ZEROS, 0, k);
                n -= k;
            }
        }

        void value(GGUFValue v) throws IOException {
            switch (v.type()) {
                case UINT8, INT8 -> i8((Byte) v.value());
                case UINT16, INT16 -> i16((Short) v.value());
                case UINT32, INT32 -> i32((Integer) v.value());
                case UINT64, INT64 -> i64((Long) v.value());
                case FLOAT32 -> i32(Float.floatToRawIntBits((Float) v.value()));
                case FLOAT64 -> i64(Double.doubleToRawLongBits((Double) v.value()));
                case BOOL -> i8((byte) ((Boolean) v.value() ? 1 : 0));
                case STRING -> string((String) v.value());
                case ARRAY -> array(v);
            }
        }

        void array(GGUFValue v) throws IOException {
            i32(v.elementType().id);
            i64(v.length());
            switch (v.value()) {
                case byte[] a -> bytes(a, 0, a.length);
                case short[] a -> { for (short x : a) i16(x); }
                case int[] a -> { for (int x : a) i32(x); }
                case long[] a -> { for (long x : a) i64(x); }
                case float[] a -> { for (float x : a) i32(Float.floatToRawIntBits(x)); }
                case double[] a -> { for (double x : a) i64(Double.doubleToRawLongBits(x)); }
                case boolean[] a -> { for (boolean x : a) i8((byte) (x ? 1 : 0)); }
                case String[] a -> { for (String x : a) string(x); }
                case GGUFValue[] a -> { for (GGUFValue x : a) array(x); }
                default -> throw new IllegalStateException("unexpected array " + v.value().getClass());
            }
        }

        void flush() throws IOException {
            out.flush();
        }
    }

    /** Passes a tensor source's bytes through, refusing any beyond the tensor's size. */
    private static final class Counted extends OutputStream {
        final Sink sink;
        final long limit;
        long count;

        Counted(Sink sink, long limit) {
            this.sink = sink;
            this.limit = limit;
        }

        @Override
        public void write(int b) throws IOException {
            write(new byte[]{(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            if (len > limit - count) throw new IOException("tensor source wrote more than the tensor's " + limit + " bytes");
            sink.bytes(b, off, len);
            count += len;
        }

        @Override
        public void close() {
            // the file stream belongs to the writer
        }
    }
}
