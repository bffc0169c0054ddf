package io.sluice.gguf;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/** Builds GGUF bytes field by field, so tests can write files no well-behaved writer would. */
final class RawGGUF {
    static final int U8 = 0, U32 = 4, I32 = 5, BOOL = 7, STRING = 8, ARRAY = 9, U64 = 10;

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    /** Magic, version 3 and the two counts. */
    static RawGGUF header(long nTensors, long nKv) {
        return new RawGGUF().u32(GGUFFile.MAGIC).u32(3).u64(nTensors).u64(nKv);
    }

    RawGGUF u8(int v) {
        out.write(v);
        return this;
    }

    RawGGUF u32(int v) {
        out.writeBytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(v).array());
        return this;
    }

    RawGGUF u64(long v) {
        out.writeBytes(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v).array());
        return this;
    }

    RawGGUF str(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        u64(b.length);
        out.writeBytes(b);
        return this;
    }

    RawGGUF kvU32(String key, int v) {
        return str(key).u32(U32).u32(v);
    }

    RawGGUF kvStr(String key, String v) {
        return str(key).u32(STRING).str(v);
    }

    /** A tensor info: name, dims, ggml type id, offset in the data section. */
    RawGGUF tensor(String name, long[] dims, int type, long offset) {
        str(name).u32(dims.length);
        for (long d : dims) u64(d);
        return u32(type).u64(offset);
    }

    RawGGUF padTo(int alignment) {
        while (out.size() % alignment != 0) out.write(0);
        return this;
    }

    RawGGUF zeros(int n) {
        out.writeBytes(new byte[n]);
        return this;
    }

    int size() {
        return out.size();
    }

    byte[] bytes() {
        return out.toByteArray();
    }
}
