package io.sluice.gguf;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;

import static io.sluice.gguf.RawGGUF.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Corrupt and hostile files: each must fail with exactly one GGUFException that names the file and
 * the problem, quickly, and never with an OutOfMemoryError, a StackOverflowError or another type.
 */
class GGUFHostileFileTest {
    @TempDir
    Path dir;
    private int counter;

    private Path file(byte[] bytes) throws IOException {
        Path p = dir.resolve("hostile-" + (counter++) + ".gguf");
        Files.write(p, bytes);
        return p;
    }

    /** Opens the bytes as a file and asserts a GGUFException naming the file and containing {@code phrase}. */
    private GGUFException fails(byte[] bytes, String phrase) throws IOException {
        Path p = file(bytes);
        return fails(p, phrase, GGUFFile.defaultHeapBudget());
    }

    private GGUFException fails(Path p, String phrase, long heapBudget) {
        Throwable t = assertTimeoutPreemptively(Duration.ofSeconds(20), () -> {
            try (GGUFFile f = GGUFFile.open(p, heapBudget)) {
                return (Throwable) null;
            } catch (Throwable e) {
                return e;
            }
        });
        assertNotNull(t, "expected a GGUFException containing '" + phrase + "', but the file loaded");
        if (!(t instanceof GGUFException e)) throw new AssertionError("expected a GGUFException, got " + t, t);
        assertTrue(e.getMessage().startsWith(p.toString() + ": "), "message names the file: " + e.getMessage());
        assertTrue(e.getMessage().contains(phrase), "message should contain '" + phrase + "': " + e.getMessage());
        return e;
    }

    private static byte[] patchU32(byte[] b, int at, int v) {
        byte[] c = b.clone();
        ByteBuffer.wrap(c).order(ByteOrder.LITTLE_ENDIAN).putInt(at, v);
        return c;
    }

    private static byte[] patchU64(byte[] b, int at, long v) {
        byte[] c = b.clone();
        ByteBuffer.wrap(c).order(ByteOrder.LITTLE_ENDIAN).putLong(at, v);
        return c;
    }

    /** A valid file with one F32 tensor of 4 values, built by hand; tests patch its fields. */
    private static byte[] oneTensor(long[] dims, int type, long offset, int dataBytes) {
        return RawGGUF.header(1, 1).kvStr("general.architecture", "llama")
                .tensor("t", dims, type, offset).padTo(32).zeros(dataBytes).bytes();
    }

    @Test
    void emptyAndTinyFiles() throws IOException {
        fails(new byte[0], "file too short to be GGUF (0 bytes)");
        fails(new byte[]{'G', 'G', 'U'}, "file too short");
    }

    @Test
    void badMagic() throws IOException {
        byte[] b = RawGGUF.header(0, 0).bytes();
        b[0] = 'g';
        fails(b, "bad magic 'gGUF', not a GGUF file");
        byte[] ggml = patchU32(b, 0, 0x67676a74); // the pre-GGUF "ggjt" format
        fails(ggml, "bad magic 'tjgg'");
        fails(patchU32(b, 0, 0x00ff0001), "bad magic '\\x01\\x00\\xff\\x00'");
    }

    @Test
    void versionOneIsRefusedClearly() throws IOException {
        fails(patchU32(RawGGUF.header(0, 0).bytes(), 4, 1), "GGUF version 1 is not supported");
    }

    @Test
    void unknownVersions() throws IOException {
        byte[] b = RawGGUF.header(0, 0).bytes();
        fails(patchU32(b, 4, 4), "unsupported GGUF version 4 (supported: 2, 3)");
        fails(patchU32(b, 4, 0), "unsupported GGUF version 0");
        fails(patchU32(b, 4, -1), "unsupported GGUF version 4294967295");
        fails(patchU32(b, 4, 0x03000000), "big-endian");
    }

    @Test
    void versionTwoIsRead() throws IOException {
        byte[] b = patchU32(RawGGUF.header(0, 1).kvU32("a", 7).bytes(), 4, 2);
        try (GGUFFile f = GGUFFile.open(file(b))) {
            assertEquals(2, f.version());
            assertEquals(7, f.getInt("a", 0));
        }
    }

    /** Cutting a real file short anywhere, header or data, is reported as truncation. */
    @Test
    void truncatedAtEveryByte() throws IOException {
        GGUFWriter w = new GGUFWriter();
        GGUFRoundTripTest.everyType().forEach(w::put);
        w.addTensor("a", GGMLType.F32, new long[]{5}, new byte[20]).addTensor("b", GGMLType.Q8_0, new long[]{32, 2}, new byte[68]);
        Path whole = dir.resolve("whole.gguf");
        w.write(whole);
        byte[] b = Files.readAllBytes(whole);
        long dataEnd;
        try (GGUFFile f = GGUFFile.open(whole)) {
            TensorInfo last = f.requireTensor("b");
            dataEnd = f.dataOffset() + last.offset() + last.byteSize();
        }
        Path p = dir.resolve("cut.gguf");
        for (int n = 4; n < dataEnd; n++) {
            Files.write(p, Arrays.copyOf(b, n));
            fails(p, "truncated", GGUFFile.defaultHeapBudget());
        }
    }

    @Test
    void metadataCountLargerThanTheFile() throws IOException {
        fails(RawGGUF.header(0, Long.MAX_VALUE).bytes(), "metadata count 9223372036854775807 cannot fit");
        fails(RawGGUF.header(0, -1).bytes(), "metadata count 18446744073709551615 cannot fit");
        fails(RawGGUF.header(0, 3).kvU32("a", 1).kvU32("b", 2).bytes(), "cannot fit");
    }

    @Test
    void tensorCountLargerThanTheFile() throws IOException {
        fails(RawGGUF.header(1L << 62, 0).bytes(), "tensor count 4611686018427387904 cannot fit");
        fails(RawGGUF.header(-2, 0).bytes(), "tensor count 18446744073709551614 cannot fit");
    }

    @Test
    void keyLengthLargerThanTheFile() throws IOException {
        fails(RawGGUF.header(0, 1).u64(1L << 40).u32(U32).u32(0).bytes(), "key length 1099511627776 exceeds the");
        fails(RawGGUF.header(0, 1).u64(-1).u32(U32).u32(0).bytes(), "key length 18446744073709551615 exceeds");
    }

    @Test
    void stringValueLengthLargerThanTheFile() throws IOException {
        Exception e = fails(RawGGUF.header(0, 1).str("k").u32(STRING).u64(Long.MIN_VALUE).bytes(), "string length 9223372036854775808 exceeds");
        assertTrue(e.getMessage().contains("metadata 'k'"), "names the key: " + e.getMessage());
    }

    @Test
    void arrayLengthLargerThanTheFile() throws IOException {
        fails(RawGGUF.header(0, 1).str("k").u32(ARRAY).u32(U8).u64(1L << 31).zeros(64).bytes(), "array of 2147483648 UINT8 elements cannot fit");
        fails(RawGGUF.header(0, 1).str("k").u32(ARRAY).u32(STRING).u64(1L << 62).zeros(64).bytes(), "array of 4611686018427387904 STRING elements cannot fit");
        fails(RawGGUF.header(0, 1).str("k").u32(ARRAY).u32(ARRAY).u64(100).zeros(64).bytes(), "array of 100 ARRAY elements cannot fit");
        fails(RawGGUF.header(0, 1).str("k").u32(ARRAY).u32(U32).u64(-1).bytes(), "array of 18446744073709551615 UINT32 elements cannot fit");
    }

    @Test
    void unknownValueTypes() throws IOException {
        fails(RawGGUF.header(0, 1).str("k").u32(13).u32(0).bytes(), "metadata 'k': unknown value type 13");
        fails(RawGGUF.header(0, 1).str("k").u32(-1).u32(0).bytes(), "unknown value type -1");
        fails(RawGGUF.header(0, 1).str("k").u32(ARRAY).u32(99).u64(0).bytes(), "array has unknown element type 99");
    }

    @Test
    void deepArrayNestingIsRefusedWithoutStackOverflow() throws IOException {
        RawGGUF r = RawGGUF.header(0, 1).str("deep").u32(ARRAY);
        for (int i = 0; i < 200_000; i++) r.u32(ARRAY).u64(1);
        r.u32(U8).u64(0);
        fails(r.bytes(), "arrays nested deeper than " + GGUFFile.MAX_ARRAY_NESTING + " levels");
    }

    @Test
    void duplicateAndEmptyKeys() throws IOException {
        fails(RawGGUF.header(0, 2).kvU32("a", 1).kvU32("a", 2).bytes(), "metadata 'a': duplicate metadata key");
        fails(RawGGUF.header(0, 1).kvU32("", 1).bytes(), "empty metadata key");
    }

    @Test
    void absurdAlignment() throws IOException {
        fails(RawGGUF.header(0, 1).kvU32("general.alignment", 0).bytes(), "alignment 0 is not a power of two");
        fails(RawGGUF.header(0, 1).kvU32("general.alignment", 48).bytes(), "alignment 48 is not a power of two");
        fails(RawGGUF.header(0, 1).kvU32("general.alignment", 1 << 31).bytes(), "alignment 2147483648 is not a power of two in 1..1073741824");
        fails(RawGGUF.header(0, 1).str("general.alignment").u32(U64).u64(-1).bytes(), "alignment 18446744073709551615");
        fails(RawGGUF.header(0, 1).kvStr("general.alignment", "32").bytes(), "general.alignment': must be an integer, is STRING");
    }

    @Test
    void tooManyDimensions() throws IOException {
        fails(oneTensor(new long[]{1, 1, 1, 1, 1}, 0, 0, 32), "tensor 't': has 5 dimensions (at most 4 allowed)");
        byte[] b = oneTensor(new long[]{4}, 0, 0, 32);
        int nDimsAt = RawGGUF.header(1, 1).kvStr("general.architecture", "llama").str("t").size();
        fails(patchU32(b, nDimsAt, -1), "has 4294967295 dimensions");
    }

    @Test
    void negativeDimension() throws IOException {
        fails(oneTensor(new long[]{4, -1}, 0, 0, 32), "dimension 1 is negative (-1)");
    }

    @Test
    void dimensionProductOverflows() throws IOException {
        fails(oneTensor(new long[]{1L << 32, 1L << 32}, 0, 0, 32), "element count overflows");
        fails(oneTensor(new long[]{3, 3, Long.MAX_VALUE / 4, 2}, 0, 0, 32), "element count overflows");
    }

    @Test
    void byteSizeOverflows() throws IOException {
        // 2^62 elements fit in a long; 2^62 floats of 4 bytes do not.
        fails(oneTensor(new long[]{1L << 31, 1L << 31}, 0, 0, 32), "byte size overflows");
    }

    @Test
    void unknownTensorType() throws IOException {
        fails(oneTensor(new long[]{4}, 99, 0, 32), "tensor 't': unknown tensor type 99 (not a ggml type");
        fails(oneTensor(new long[]{4}, -1, 0, 32), "unknown tensor type -1");
        fails(oneTensor(new long[]{32}, 4, 0, 32), "unknown tensor type 4 (a type ggml has removed from GGUF)");
    }

    @Test
    void rowNotAMultipleOfTheBlockSize() throws IOException {
        fails(oneTensor(new long[]{33}, GGMLType.Q8_0.id, 0, 64), "row length 33 is not a multiple of Q8_0's block size 32");
    }

    @Test
    void misalignedOffset() throws IOException {
        fails(oneTensor(new long[]{4}, 0, 4, 64), "data offset 4 is not aligned to 32");
    }

    @Test
    void tensorDataOutsideTheFile() throws IOException {
        fails(oneTensor(new long[]{4}, 0, 0, 15), "tensor 't' data (16 bytes at offset 0) lies outside the file (data section is 15 bytes): truncated file?");
        fails(oneTensor(new long[]{4}, 0, 1L << 40, 16), "lies outside the file");
        fails(oneTensor(new long[]{4}, 0, Long.MAX_VALUE - 31, 16), "lies outside the file");
        fails(oneTensor(new long[]{4}, 0, -32, 16), "data offset 18446744073709551584 lies outside the file");
        fails(oneTensor(new long[]{1L << 20, 1L << 20}, 0, 0, 64), "lies outside the file");
        // The header ends inside the file, but the padding before the data section does not.
        byte[] b = RawGGUF.header(1, 0).tensor("t", new long[]{0}, 0, 0).bytes();
        assertNotEquals(0, b.length % 32);
        fails(b, "truncated: tensor data would start at byte " + GGUFFile.alignUp(b.length, 32));
    }

    @Test
    void overlappingTensors() throws IOException {
        byte[] b = RawGGUF.header(2, 0).tensor("a", new long[]{16}, 0, 0).tensor("b", new long[]{8}, 0, 32)
                .padTo(32).zeros(128).bytes();
        fails(b, "tensor 'b' overlaps tensor 'a'");
        byte[] same = RawGGUF.header(2, 0).tensor("a", new long[]{8}, 0, 0).tensor("b", new long[]{8}, 0, 0)
                .padTo(32).zeros(128).bytes();
        fails(same, "overlaps");
    }

    @Test
    void duplicateTensorName() throws IOException {
        byte[] b = RawGGUF.header(2, 0).tensor("a", new long[]{8}, 0, 0).tensor("a", new long[]{8}, 0, 32)
                .padTo(32).zeros(64).bytes();
        fails(b, "tensor 'a': duplicate tensor name");
    }

    @Test
    void overlongTensorNameAndKey() throws IOException {
        String longName = "t".repeat(64);
        byte[] b = RawGGUF.header(1, 0).tensor(longName, new long[]{8}, 0, 0).padTo(32).zeros(32).bytes();
        fails(b, "name of 64 bytes is longer than the 63 byte limit");
        byte[] k = RawGGUF.header(0, 1).kvStr("k".repeat(70_000), "v").bytes();
        fails(k, "key of 70000 bytes is longer than");
    }

    /** Millions of tiny values: fine in the file, a heap bomb once each becomes a Java object. */
    @Test
    void metadataBeyondTheHeapBudget() throws IOException {
        RawGGUF r = RawGGUF.header(0, 1).str("k").u32(ARRAY).u32(ARRAY).u64(200_000);
        for (int i = 0; i < 200_000; i++) r.u32(U8).u64(0);
        Path p = file(r.bytes());
        fails(p, "metadata needs more heap than the 1 MiB allowed", 1 << 20);
        try (GGUFFile f = GGUFFile.open(p)) { // the default budget has room for it
            assertEquals(200_000, f.get("k").length());
        }
        RawGGUF s = RawGGUF.header(0, 1).str("k").u32(ARRAY).u32(STRING).u64(100_000);
        for (int i = 0; i < 100_000; i++) s.str("token" + i);
        fails(file(s.bytes()), "more heap", 1 << 20);
    }

    @Test
    void missingFileAndDirectory() {
        Path missing = dir.resolve("nope.gguf");
        GGUFException e = assertThrows(GGUFException.class, () -> GGUFFile.open(missing));
        assertEquals(missing + ": file not found", e.getMessage());
        GGUFException d = assertThrows(GGUFException.class, () -> GGUFFile.open(dir));
        assertTrue(d.getMessage().startsWith(dir + ": "), d.getMessage());
    }

    /** Lenient where ggml is: a 0-dimensional tensor is a scalar, a bool byte of 2 is true. */
    @Test
    void whatGgmlAcceptsLoads() throws IOException {
        byte[] b = RawGGUF.header(1, 1).str("b").u32(BOOL).u8(2).tensor("s", new long[0], 0, 0).padTo(32).zeros(32).bytes();
        try (GGUFFile f = GGUFFile.open(file(b))) {
            assertTrue(f.getBoolean("b", false));
            TensorInfo s = f.requireTensor("s");
            assertArrayEquals(new long[]{1}, s.dims());
            assertEquals(4, f.data(s).byteSize());
        }
    }

    @Test
    void dataRefusesATensorOfAnotherFile() throws IOException {
        try (GGUFFile f = GGUFFile.open(file(oneTensor(new long[]{4}, 0, 0, 16)))) {
            TensorInfo alien = new TensorInfo("x", GGMLType.F32, new long[]{1000}, 0);
            assertThrows(IllegalArgumentException.class, () -> f.data(alien));
            assertEquals(16, f.data(f.requireTensor("t")).byteSize());
        }
    }
}
