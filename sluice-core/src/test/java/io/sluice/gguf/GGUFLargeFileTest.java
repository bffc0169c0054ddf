package io.sluice.gguf;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Files beyond 2 GiB, where an int offset anywhere would break. The files are sparse (the
 * gigabytes of zeros take no disk space), so the tests are cheap.
 */
class GGUFLargeFileTest {
    private static final long GIB = 1L << 30;

    @TempDir
    Path dir;

    private static Path sparse(Path p, byte[] header, long size) throws IOException {
        Files.write(p, header);
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(size);
        }
        return p;
    }

    @Test
    void tensorsBeyondTwoGiBAreReadAtTheirOffsets() throws IOException {
        long bigElements = (5 * GIB / 2) / 4; // a 2.5 GiB F32 tensor
        byte[] header = RawGGUF.header(2, 1).kvStr("general.architecture", "llama")
                .tensor("big", new long[]{bigElements / 1024, 1024}, 0, 0)
                .tensor("after", new long[]{4}, 0, 5 * GIB / 2)
                .padTo(32).bytes();
        long dataOffset = header.length;
        long afterAt = dataOffset + 5 * GIB / 2;
        Path p = sparse(dir.resolve("big.gguf"), header, afterAt + 32);
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.WRITE)) {
            ByteBuffer bb = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putFloat(1.5f).putFloat(-2f).putFloat(3f).putFloat(4.25f).flip();
            ch.write(bb, afterAt);
            ch.write(ByteBuffer.wrap(new byte[]{42}), dataOffset + 2 * GIB + 100); // inside "big", past 2^31
        }
        try (GGUFFile f = GGUFFile.open(p)) {
            TensorInfo big = f.requireTensor("big");
            assertEquals(5 * GIB / 2, big.byteSize());
            MemorySegment bigData = f.data(big);
            assertEquals(5 * GIB / 2, bigData.byteSize());
            assertEquals(42, bigData.get(ValueLayout.JAVA_BYTE, 2 * GIB + 100));
            MemorySegment after = f.data(f.requireTensor("after"));
            ValueLayout.OfFloat le = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
            assertEquals(1.5f, after.getAtIndex(le, 0));
            assertEquals(4.25f, after.getAtIndex(le, 3));
            assertTrue(GGUFDump.dump(f).contains("2,684,354,560"), "dump shows the large byte size");
        }
    }

    @Test
    void tensorOnePastTheEndOfABigFileIsRefused() throws IOException {
        byte[] header = RawGGUF.header(1, 0).tensor("t", new long[]{(3 * GIB) / 4}, 0, 0).padTo(32).bytes();
        Path p = sparse(dir.resolve("short.gguf"), header, header.length + 3 * GIB - 1);
        GGUFException e = assertThrows(GGUFException.class, () -> GGUFFile.open(p));
        assertTrue(e.getMessage().contains("tensor 't' data (3221225472 bytes at offset 0) lies outside the file"), e.getMessage());
    }

    /** An array can fit in a big file yet be longer than any Java array: a clear error, not a wrapped int. */
    @Test
    void arrayLongerThanAJavaArray() throws IOException {
        long n = (1L << 31) + 100;
        byte[] header = RawGGUF.header(0, 1).str("k").u32(RawGGUF.ARRAY).u32(RawGGUF.U8).u64(n).bytes();
        Path p = sparse(dir.resolve("array.gguf"), header, header.length + n);
        GGUFException e = assertThrows(GGUFException.class, () -> GGUFFile.open(p));
        assertTrue(e.getMessage().startsWith(p + ": metadata 'k': array of 2147483748 elements is longer than the"), e.getMessage());
    }
}
