package io.sluice.gguf;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Locale;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The 2 MiB-page advice on a model file's mapping: when it applies, and that it changes nothing read. */
class HugeMappingTest {
    private static final long M2 = HugeMapping.HUGE_PAGE;

    @Test
    void suitableOnlyWithAWholeHugePageAtCongruentOffsets() {
        assertTrue(HugeMapping.suitable(64 * M2, 0, M2));
        assertTrue(HugeMapping.suitable(64 * M2 + 4096, 4096, 3 * M2), "address and offset congruent mod 2 MiB");
        assertFalse(HugeMapping.suitable(64 * M2 + 4096, 0, 8 * M2), "a folio at file offset 0 cannot sit at a misaligned address");
        assertFalse(HugeMapping.suitable(64 * M2, 0, M2 - 4096), "smaller than one huge page");
        assertFalse(HugeMapping.suitable(64 * M2 + 4096, 4096, M2), "congruent, but no whole aligned 2 MiB inside");
        assertTrue(HugeMapping.suitable(64 * M2 + 4096, 4096, 2 * M2 - 4096), "exactly one whole aligned 2 MiB inside");
    }

    @Test
    void advisedMappingReadsTheSameBytes(@TempDir Path dir) throws IOException {
        long size = 8 * M2;
        byte[] header = RawGGUF.header(1, 1).kvStr("general.architecture", "llama")
                .tensor("w", new long[]{(size - 4096) / 4}, 0, 0).padTo(32).bytes();
        Path p = dir.resolve("m.gguf");
        Files.write(p, header);
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(header.length + size - 4096);
        }
        long at = 5 * M2 + 12345;
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(new byte[]{7}), at);
        }
        try (GGUFFile f = GGUFFile.open(p)) {
            var data = f.data(f.requireTensor("w"));
            assertEquals(7, data.get(ValueLayout.JAVA_BYTE, at - header.length));
            assertEquals(0, data.get(ValueLayout.JAVA_BYTE, at - header.length + 1));
            boolean linux = System.getProperty("os.name", "").toLowerCase(Locale.ROOT).contains("linux");
            if (!linux) {
                assertFalse(f.hugePagesAdvised());
                return;
            }
            // Where the advice was taken, the kernel shows it on the mapping ("hg" in smaps' VmFlags).
            long start = data.address() - header.length;
            if (f.hugePagesAdvised()) {
                assertEquals(0, start % M2);
                assertTrue(vmFlags(start).contains(" hg"), "VmFlags of the mapping: " + vmFlags(start));
            } else {
                assertTrue(!Boolean.parseBoolean(System.getProperty("sluice.mmap.hugepages", "true")) || start % M2 != 0,
                        "an aligned mapping is advised unless switched off");
            }
        }
    }

    /** The VmFlags line of the mapping that starts at address, from /proc/self/smaps. */
    private static String vmFlags(long address) throws IOException {
        List<String> lines = Files.readAllLines(Path.of("/proc/self/smaps"));
        String prefix = Long.toHexString(address) + "-";
        boolean in = false;
        for (String l : lines) {
            if (l.matches("^[0-9a-f]+-[0-9a-f]+ .*")) {
                in = l.startsWith(prefix);
                continue;
            }
            if (in && l.startsWith("VmFlags:")) return l.substring(8) + " ";
        }
        return "";
    }
}
