package io.sluice.gguf;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.Locale;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Asks Linux to back a model file's read-only mapping with 2 MiB page-cache folios mapped by PMD
 * entries ({@code madvise(MADV_HUGEPAGE)}; transparent huge pages in "madvise" or "always" mode, a
 * filesystem with large folios such as ext4 or xfs on 6.x kernels). The mixture-of-experts layers read
 * their experts straight from this mapping, a few hundred KiB per expert and step, all over a file of
 * many GiB: on 4 KiB pages that stream is TLB-bound (measured on a 2-vCPU Xeon VM, qwen3-30b-a3b's
 * expert rows: 16 GB/s from 4 KiB page-cache folios, 21 GB/s once the same file sat in 2 MiB folios).
 *
 * <p>The advice only shapes pages faulted in through this mapping from now on: readahead then
 * allocates 2 MiB folios where memory allows. Pages already cached in small folios (a file read
 * while memory was full) stay small until evicted. Nothing is copied and nothing is pinned; the
 * mapping must start on a 2 MiB boundary (file offset 0 there), which Linux chooses for large
 * file mappings on such filesystems, else the advice is skipped. {@code -Dsluice.mmap.hugepages=false}
 * turns it off.
 */
final class HugeMapping {
    static final long HUGE_PAGE = 2L << 20;
    private static final int MADV_HUGEPAGE = 14; // Linux, every architecture
    private static final boolean ENABLED = Boolean.parseBoolean(System.getProperty("sluice.mmap.hugepages", "true"));
    private static final MethodHandle MADVISE;

    static {
        MethodHandle madvise = null;
        try {
            if (System.getProperty("os.name", "").toLowerCase(Locale.ROOT).contains("linux")) {
                Linker linker = Linker.nativeLinker();
                madvise = linker.downcallHandle(linker.defaultLookup().findOrThrow("madvise"), FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
            }
        } catch (Throwable t) {
            madvise = null; // not fatal: small pages
        }
        MADVISE = madvise;
    }

    private HugeMapping() {
    }

    /**
     * Whether a mapping of {@code bytes} bytes at {@code address} of file offset {@code fileOffset} can
     * hold PMD-mapped folios at all: at least one whole 2 MiB page, and address and offset congruent
     * modulo 2 MiB (a file folio of 2 MiB sits at a 2 MiB file offset).
     */
    static boolean suitable(long address, long fileOffset, long bytes) {
        if (bytes < HUGE_PAGE || Math.floorMod(address - fileOffset, HUGE_PAGE) != 0) return false;
        long first = (address + HUGE_PAGE - 1) & -HUGE_PAGE;
        return first + HUGE_PAGE <= address + bytes;
    }

    /** Advises the whole mapping seg (of the file from offset 0) if it is suitable; returns whether the advice was taken. */
    static boolean advise(MemorySegment seg) {
        if (!ENABLED || MADVISE == null || !seg.isNative() || !suitable(seg.address(), 0, seg.byteSize())) return false;
        try {
            return (int) MADVISE.invokeExact(seg, seg.byteSize(), MADV_HUGEPAGE) == 0;
        } catch (Throwable t) {
            return false; // advice only
        }
    }
}
