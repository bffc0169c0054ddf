package io.sluice.tensor;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;

class ZeroPagesTest {
    private static final long MIB = 1L << 20;

    @Test
    void streamedCopiesStartOnAHugePageAndAreZeroedAndWritableToTheirLastByte() {
        Assumptions.assumeTrue(ZeroPages.lazy(), "anonymous mmap needs Linux");
        for (long bytes : new long[] {5 * MIB + 123, 2 * MIB, 4 * MIB + 4096}) {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment seg = ZeroPages.allocateStreamed(arena, bytes);
                assertEquals(bytes, seg.byteSize());
                assertEquals(0, seg.address() % (2 * MIB), "a copy of " + bytes + " bytes starts on a 2 MiB boundary");
                long sum = 0;
                for (long off = 0; off + 8 <= bytes; off += 4096) sum += seg.get(JAVA_LONG, off);
                assertEquals(0, sum);
                seg.set(JAVA_BYTE, 0, (byte) 1);
                seg.set(JAVA_BYTE, bytes - 1, (byte) 2);
                assertEquals(2, seg.get(JAVA_BYTE, bytes - 1));
                assertEquals(1, seg.get(JAVA_BYTE, 0));
            }
        }
    }

    @Test
    void smallCopiesAndTheKvPoolKeepOrdinaryPages() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment small = ZeroPages.allocateStreamed(arena, 100_000);
            MemorySegment pool = ZeroPages.allocate(arena, 3 * MIB);
            assertEquals(100_000, small.byteSize());
            assertEquals(3 * MIB, pool.byteSize());
            assertEquals(0, small.address() % 64);
            small.set(JAVA_BYTE, 99_999, (byte) 7);
            pool.set(JAVA_BYTE, 3 * MIB - 1, (byte) 7);
            assertEquals(7, small.get(JAVA_BYTE, 99_999) + pool.get(JAVA_BYTE, 0));
        }
    }
}
