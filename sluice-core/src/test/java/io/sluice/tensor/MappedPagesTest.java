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
    /**
     * The interleaved copies must not count as direct buffer memory, whose limit is by default the
     * heap's (-Xmx): weights larger than the heap (any real model under a small --memory-budget)
     * failed their first forward pass with "Cannot reserve ... bytes of direct buffer memory".
     */
    @Test
    void repackedCopiesAreNotDirectBufferMemory() {
        org.junit.jupiter.api.Assumptions.assumeTrue(ZeroPages.lazy() && NativeKernels.supports(GGMLType.Q8_0), "needs anonymous mmap and the native Q8_0 kernels");
        GGMLType type = GGMLType.Q8_0;
        int rows = 4096, cols = 2048; // 8.5 MiB in the file, about as much copied
        var direct = java.lang.management.ManagementFactory.getPlatformMXBeans(java.lang.management.BufferPoolMXBean.class).stream()
                .filter(b -> b.getName().equals("direct")).findFirst().orElseThrow();
        try (Arena arena = Arena.ofShared()) {
            MemorySegment data = arena.allocate(type.byteSize(cols) * rows, 64); // zeros: valid Q8_0 blocks
            Matrix m = new Matrix("w", type, data, rows, cols);
            long before = direct.getMemoryUsed();
            float[] x = new float[cols], out = new float[rows];
            m.matmul(x, out, 1); // makes the interleaved copy
            long grown = direct.getMemoryUsed() - before;
            assertTrue(grown < type.byteSize(cols) * rows / 2, "direct buffer memory grew by " + grown + " bytes for an " + type.byteSize(cols) * rows + "-byte matrix");
        }
    }
}
