package io.sluice.tensor;

import io.sluice.gguf.GGMLType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Releasing a repacked matrix's mapped pages must not change what it computes or what its rows read. */
class MappedPagesTest {
    @Test
    void releasedPagesReadBackFromTheFile(@TempDir Path dir) throws IOException {
        GGMLType type = GGMLType.Q4_0;
        int rows = 64, cols = 1024;
        long rowBytes = type.byteSize(cols);
        SplittableRandom rnd = new SplittableRandom(7);
        float[] x = new float[2 * cols];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
        try (Arena arena = Arena.ofShared()) {
            MemorySegment heap = arena.allocate(rowBytes * rows, 64);
            float[] row = new float[cols];
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c < cols; c++) row[c] = (float) rnd.nextGaussian();
                Formats.of(type).quantize(row, 0, cols, heap, r * rowBytes);
            }
            Path file = dir.resolve("w.bin");
            Files.write(file, heap.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
                MemorySegment mapped = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
                Matrix fromFile = new Matrix("w", type, mapped, rows, cols);
                Matrix inMemory = new Matrix("w", type, heap, rows, cols);
                float[] got = new float[2 * rows], want = new float[2 * rows];
                fromFile.matmul(x, got, 2); // repacks, then releases the mapped pages
                inMemory.matmul(x, want, 2);
                assertArrayEquals(want, got);

                // Released again explicitly: whole pages inside the segment, and the data is unchanged.
                long released = MappedPages.release(mapped);
                if (System.getProperty("os.name").toLowerCase().contains("linux")) {
                    assertTrue(released > 0 && released <= mapped.byteSize(), "released " + released);
                }
                assertEquals(0, MappedPages.release(heap), "not a mapping: nothing to release");
                float[] a = new float[cols], b = new float[cols];
                for (int r = 0; r < rows; r++) {
                    fromFile.row(r, a, 0);
                    inMemory.row(r, b, 0);
                    assertArrayEquals(b, a, "row " + r);
                }
                fromFile.matmul(x, got, 2);
                assertArrayEquals(want, got);
            }
        }
    }
}
