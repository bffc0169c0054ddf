package io.sluice.gguf;

import io.sluice.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

class GGUFRoundTripTest {
    @TempDir
    Path dir;

    /** One value of every scalar type, with awkward bit patterns (sign bits, NaN payloads, -0.0). */
    static Map<String, GGUFValue> everyType() {
        Map<String, GGUFValue> m = new LinkedHashMap<>();
        m.put("u8", GGUFValue.of(GGUFValueType.UINT8, (byte) 0xFE));
        m.put("i8", GGUFValue.of(GGUFValueType.INT8, (byte) -128));
        m.put("u16", GGUFValue.of(GGUFValueType.UINT16, (short) 0xFFFE));
        m.put("i16", GGUFValue.of(GGUFValueType.INT16, (short) -12345));
        m.put("u32", GGUFValue.u32(0xFFFF_FFF0L));
        m.put("i32", GGUFValue.i32(Integer.MIN_VALUE));
        m.put("u64", GGUFValue.of(GGUFValueType.UINT64, -2L));
        m.put("i64", GGUFValue.of(GGUFValueType.INT64, Long.MIN_VALUE + 7));
        m.put("f32", GGUFValue.f32(-0.0f));
        m.put("f32.nan", GGUFValue.f32(Float.intBitsToFloat(0x7fc0_1234)));
        m.put("f64", GGUFValue.of(GGUFValueType.FLOAT64, Math.PI));
        m.put("bool.t", GGUFValue.bool(true));
        m.put("bool.f", GGUFValue.bool(false));
        m.put("str", GGUFValue.string("hello"));
        m.put("str.empty", GGUFValue.string(""));
        m.put("str.unicode", GGUFValue.string("héllo wörld — 日本語 🦙\u0000tail\n"));
        m.put("ключ.ü.🔑", GGUFValue.string("unicode key"));
        m.put("arr.u8", GGUFValue.array(GGUFValueType.UINT8, new byte[]{0, 1, (byte) 255}));
        m.put("arr.i8", GGUFValue.array(GGUFValueType.INT8, new byte[]{-1, 2}));
        m.put("arr.u16", GGUFValue.array(GGUFValueType.UINT16, new short[]{(short) 65535, 3}));
        m.put("arr.i16", GGUFValue.array(GGUFValueType.INT16, new short[]{-3}));
        m.put("arr.u32", GGUFValue.array(GGUFValueType.UINT32, new int[]{-1, 0, 5}));
        m.put("arr.i32", GGUFValue.array(GGUFValueType.INT32, new int[]{Integer.MAX_VALUE, -9}));
        m.put("arr.u64", GGUFValue.array(GGUFValueType.UINT64, new long[]{-1L}));
        m.put("arr.i64", GGUFValue.array(GGUFValueType.INT64, new long[]{Long.MAX_VALUE, 0}));
        m.put("arr.f32", GGUFValue.array(GGUFValueType.FLOAT32, new float[]{1.5f, Float.NEGATIVE_INFINITY, Float.NaN}));
        m.put("arr.f64", GGUFValue.array(GGUFValueType.FLOAT64, new double[]{-1e300, Double.MIN_VALUE}));
        m.put("arr.bool", GGUFValue.array(GGUFValueType.BOOL, new boolean[]{true, false, true}));
        m.put("arr.str", GGUFValue.array(GGUFValueType.STRING, new String[]{"a", "", "Ω≈ç", "🦙🦙"}));
        m.put("arr.empty.str", GGUFValue.array(GGUFValueType.STRING, new String[0]));
        m.put("arr.empty.f32", GGUFValue.array(GGUFValueType.FLOAT32, new float[0]));
        m.put("arr.empty.arr", GGUFValue.array(GGUFValueType.ARRAY, new GGUFValue[0]));
        m.put("arr.nested", GGUFValue.array(GGUFValueType.ARRAY, new GGUFValue[]{
                GGUFValue.array(GGUFValueType.INT32, new int[]{1, 2}),
                GGUFValue.array(GGUFValueType.STRING, new String[]{"x"}),
                GGUFValue.array(GGUFValueType.FLOAT32, new float[0]),
                GGUFValue.array(GGUFValueType.ARRAY, new GGUFValue[]{
                        GGUFValue.array(GGUFValueType.BOOL, new boolean[]{false})})}));
        return m;
    }

    static byte[] randomBytes(Random r, int n) {
        byte[] b = new byte[n];
        r.nextBytes(b);
        return b;
    }

    @Test
    void everyValueTypeAndSeveralTensorsRoundTrip() throws IOException {
        Random r = new Random(1);
        GGUFWriter w = new GGUFWriter();
        everyType().forEach(w::put);
        w.putString("general.architecture", "llama").putU32("llama.block_count", 2).putI32("neg", -5)
                .putF32("eps", 1e-5f).putBool("flag", true)
                .putArray("tokens", new String[]{"<s>", "</s>", "▁the"})
                .putArray("scores", new float[]{0f, -1.25f, 3f}).putArray("types", new int[]{1, 3, 6});
        byte[] f32 = randomBytes(r, 4 * 8 * 3);
        byte[] q8 = randomBytes(r, 34 * 2 * 5);
        byte[] f16 = randomBytes(r, 2 * 7);
        byte[] q4k = randomBytes(r, 144 * 2);
        byte[] i8 = randomBytes(r, 3);
        w.addTensor("a.f32", GGMLType.F32, new long[]{8, 3}, f32);
        w.addTensor("b.q8_0", GGMLType.Q8_0, new long[]{64, 5}, q8);
        w.addTensor("c.f16", GGMLType.F16, new long[]{7}, f16);
        w.addTensor("d.q4_k", GGMLType.Q4_K, new long[]{256, 1, 2, 1}, q4k);
        w.addTensor("e.i8", GGMLType.I8, new long[]{3}, i8);
        w.addTensor("f.empty", GGMLType.F32, new long[]{0, 4}, new byte[0]);
        w.addTensor("g.unicode.ü", GGMLType.F32, new long[]{1}, new byte[]{1, 2, 3, 4});
        Path p = dir.resolve("all.gguf");
        w.write(p);

        try (GGUFFile f = GGUFFile.open(p)) {
            assertEquals(3, f.version());
            assertEquals(w.metadata(), f.metadata());
            assertEquals(new ArrayList<>(w.metadata().keySet()), new ArrayList<>(f.metadata().keySet()), "metadata order kept");
            assertEquals(List.of("a.f32", "b.q8_0", "c.f16", "d.q4_k", "e.i8", "f.empty", "g.unicode.ü"), new ArrayList<>(f.tensors().keySet()));
            assertArrayEquals(f32, bytes(f, "a.f32"));
            assertArrayEquals(q8, bytes(f, "b.q8_0"));
            assertArrayEquals(f16, bytes(f, "c.f16"));
            assertArrayEquals(q4k, bytes(f, "d.q4_k"));
            assertArrayEquals(i8, bytes(f, "e.i8"));
            assertArrayEquals(new byte[0], bytes(f, "f.empty"));
            assertArrayEquals(new long[]{256, 1, 2, 1}, f.requireTensor("d.q4_k").dims());
            assertEquals(GGMLType.Q8_0, f.requireTensor("b.q8_0").type());
            for (TensorInfo t : f.tensors().values()) {
                assertEquals(0, t.offset() % 32, t.name());
                assertArrayEquals(w.tensors().stream().filter(x -> x.name().equals(t.name())).findFirst().orElseThrow().dims(), t.dims());
            }
            assertEquals(0, f.dataOffset() % 32);
            assertEquals("héllo wörld — 日本語 🦙\u0000tail\n", f.getString("str.unicode", null));
            assertEquals(0xFFFF_FFF0L, f.getLong("u32", 0));
            assertEquals(-2L, f.get("u64").asLong());
            assertEquals(-5, f.getInt("neg", 0));
            assertEquals(1e-5f, f.getFloat("eps", 0));
            assertTrue(f.getBoolean("flag", false));
            assertArrayEquals(new String[]{"<s>", "</s>", "▁the"}, f.get("tokens").asStringArray());
            assertEquals(Float.floatToRawIntBits(Float.intBitsToFloat(0x7fc0_1234)),
                    Float.floatToRawIntBits((Float) f.get("f32.nan").value()), "NaN payload kept");
            assertNull(f.get("general.alignment"), "the writer adds no alignment key unless asked");
        }
    }

    private static byte[] bytes(GGUFFile f, String name) {
        return f.data(f.requireTensor(name)).toArray(ValueLayout.JAVA_BYTE);
    }

    @Test
    void customAlignmentIsWrittenAndHonoured() throws IOException {
        for (int alignment : new int[]{1, 8, 64, 4096}) {
            GGUFWriter w = new GGUFWriter().alignment(alignment).putString("k", "v");
            byte[] a = randomBytes(new Random(alignment), 4 * 3);
            byte[] b = randomBytes(new Random(-alignment), 2 * 5);
            w.addTensor("a", GGMLType.F32, new long[]{3}, a).addTensor("b", GGMLType.F16, new long[]{5}, b);
            Path p = dir.resolve("align" + alignment + ".gguf");
            w.write(p);
            try (GGUFFile f = GGUFFile.open(p)) {
                assertEquals(alignment, f.alignment());
                assertEquals(GGUFValue.u32(alignment), f.get("general.alignment"));
                assertEquals(0, f.dataOffset() % alignment);
                TensorInfo tb = f.requireTensor("b");
                assertEquals(GGUFFile.alignUp(12, alignment), tb.offset(), "b follows a, padded to the alignment");
                assertArrayEquals(a, bytes(f, "a"));
                assertArrayEquals(b, bytes(f, "b"));
                // ggml reads the padding after the last tensor too, so it must be in the file.
                assertEquals(f.dataOffset() + GGUFFile.alignUp(tb.offset() + tb.byteSize(), alignment), Files.size(p));
            }
        }
    }

    @Test
    void segmentAndStreamingSourcesWriteTheirBytes() throws IOException {
        float[] values = {1f, -2f, 3.5f, 0f, 1e-8f, -0f, 7f, 8f};
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(4L * values.length);
            for (int i = 0; i < values.length; i++) seg.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), i, values[i]);
            GGUFWriter w = new GGUFWriter()
                    .addTensor("seg", GGMLType.F32, new long[]{4, 2}, seg)
                    .addTensor("stream", GGMLType.F32, new long[]{8}, out -> {
                        ByteBuffer bb = ByteBuffer.allocate(32).order(ByteOrder.LITTLE_ENDIAN);
                        for (float v : values) bb.putFloat(-v);
                        out.write(bb.array());
                    });
            Path p = dir.resolve("src.gguf");
            w.write(p);
            try (GGUFFile f = GGUFFile.open(p)) {
                MemorySegment a = f.data(f.requireTensor("seg"));
                MemorySegment b = f.data(f.requireTensor("stream"));
                for (int i = 0; i < values.length; i++) {
                    assertEquals(values[i], a.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), i));
                    assertEquals(-values[i], b.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), i));
                }
            }
        }
    }

    @Test
    void aSourceWritingTheWrongByteCountFailsAndLeavesNoFile() {
        Path p = dir.resolve("bad.gguf");
        GGUFWriter few = new GGUFWriter().addTensor("t", GGMLType.F32, new long[]{4}, out -> out.write(new byte[15]));
        IOException e = assertThrows(IOException.class, () -> few.write(p));
        assertTrue(e.getMessage().contains("wrote 15 bytes, expected 16"), e.getMessage());
        GGUFWriter many = new GGUFWriter().addTensor("t", GGMLType.F32, new long[]{4}, out -> out.write(new byte[17]));
        e = assertThrows(IOException.class, () -> many.write(p));
        assertTrue(e.getMessage().contains("more than"), e.getMessage());
        assertFalse(Files.exists(p));
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            assertFalse(ds.iterator().hasNext(), "temporary file removed");
        } catch (IOException ex) {
            fail(ex);
        }
    }

    @Test
    void writerRejectsWhatReadersWouldReject() {
        GGUFWriter w = new GGUFWriter();
        assertThrows(IllegalArgumentException.class, () -> w.put("", GGUFValue.string("x")));
        assertThrows(IllegalArgumentException.class, () -> w.put("k", GGUFValue.of(GGUFValueType.UINT32, 5L)), "Long for a UINT32");
        assertThrows(IllegalArgumentException.class, () -> w.put("k", GGUFValue.array(GGUFValueType.INT32, new long[1])));
        assertThrows(IllegalArgumentException.class, () -> w.put("k", GGUFValue.array(GGUFValueType.STRING, new String[]{null})));
        assertThrows(IllegalArgumentException.class, () -> w.put("k", GGUFValue.array(GGUFValueType.ARRAY, new GGUFValue[]{GGUFValue.i32(1)})));
        assertThrows(IllegalArgumentException.class, () -> w.putU32("k", -1));
        assertThrows(IllegalArgumentException.class, () -> w.alignment(48));
        assertThrows(IllegalArgumentException.class, () -> w.put("general.alignment", GGUFValue.i32(32)), "ggml wants a UINT32");
        assertThrows(IllegalArgumentException.class, () -> w.addTensor("x".repeat(64), GGMLType.F32, new long[]{1}, new byte[4]));
        assertThrows(IllegalArgumentException.class, () -> w.addTensor("q", GGMLType.Q4_0, new long[]{16}, new byte[9]), "row not a block multiple");
        assertThrows(IllegalArgumentException.class, () -> w.addTensor("s", GGMLType.F32, new long[]{2}, new byte[7]), "wrong data size");
        assertThrows(IllegalArgumentException.class, () -> w.addTensor("o", GGMLType.F32, new long[]{1L << 40, 1L << 40}, out -> { }));
        assertThrows(IllegalArgumentException.class, () -> w.addTensor("d", GGMLType.F32, new long[]{1, 1, 1, 1, 1}, new byte[4]));
        w.addTensor("t", GGMLType.F32, new long[]{1}, new byte[4]);
        assertThrows(IllegalArgumentException.class, () -> w.addTensor("t", GGMLType.F32, new long[]{1}, new byte[4]), "duplicate");
        assertThrows(IllegalStateException.class, () -> w.alignment(64), "alignment fixed once tensors are laid out");
    }

    @Test
    void nestingUpToTheLimitRoundTripsAndBeyondIsRefused() throws IOException {
        GGUFValue v = GGUFValue.array(GGUFValueType.INT32, new int[]{42});
        for (int depth = 1; depth < GGUFFile.MAX_ARRAY_NESTING; depth++) v = GGUFValue.array(GGUFValueType.ARRAY, new GGUFValue[]{v});
        Path p = dir.resolve("deep.gguf");
        new GGUFWriter().put("deep", v).write(p);
        try (GGUFFile f = GGUFFile.open(p)) {
            assertEquals(v, f.get("deep"));
        }
        GGUFValue deeper = GGUFValue.array(GGUFValueType.ARRAY, new GGUFValue[]{v});
        assertThrows(IllegalArgumentException.class, () -> new GGUFWriter().put("deeper", deeper));
    }

    @Test
    void streamAndFileOutputAreTheSameBytes() throws IOException {
        GGUFWriter w = new GGUFWriter();
        everyType().forEach(w::put);
        w.addTensor("t", GGMLType.Q8_0, new long[]{32}, randomBytes(new Random(3), 34));
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        w.write((OutputStream) bos);
        Path p = dir.resolve("s.gguf");
        w.write(p);
        assertArrayEquals(bos.toByteArray(), Files.readAllBytes(p));
    }

    /** Rewriting a llama.cpp-made file reproduces it byte for byte: same layout rules, same encoding. */
    @Test
    void fixtureFilesRewriteByteIdentical() throws IOException {
        List<Path> files = new ArrayList<>();
        for (String name : new String[]{"stories260K-f16.gguf", "tiny-qwen2-q4_k_m.gguf", "tiny-llama-q2_k.gguf"}) files.add(Fixtures.model(name));
        files.add(Fixtures.vocab("ggml-vocab-gpt-2.gguf"));
        files.add(Fixtures.vocab("ggml-vocab-bert-bge.gguf"));
        for (Path src : files) {
            Path out = dir.resolve("copy-" + src.getFileName());
            try (GGUFFile f = GGUFFile.open(src)) {
                GGUFWriter.copyOf(f).write(out);
                try (GGUFFile g = GGUFFile.open(out)) {
                    assertEquals(f.metadata(), g.metadata());
                    assertEquals(f.tensors().keySet(), g.tensors().keySet());
                }
            }
            assertArrayEquals(Files.readAllBytes(src), Files.readAllBytes(out), src.getFileName().toString());
        }
    }
}
