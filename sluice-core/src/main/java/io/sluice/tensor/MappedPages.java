package io.sluice.tensor;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.Locale;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Drops the resident pages of a read-only file mapping from this process (Linux
 * {@code madvise(MADV_DONTNEED)}): after a matrix is repacked off-heap its mapped original is no
 * longer read by the kernels, so keeping both would hold two copies of the weights in memory. The
 * pages stay valid: touching them again reads them back from the file (page cache).
 */
final class MappedPages {
    private static final int MADV_DONTNEED = 4;
    private static final int SC_PAGESIZE = 30;
    private static final MethodHandle MADVISE;
    private static final long PAGE;

    static {
        MethodHandle madvise = null;
        long page = 0;
        try {
            if (System.getProperty("os.name", "").toLowerCase(Locale.ROOT).contains("linux")) {
                Linker linker = Linker.nativeLinker();
                MethodHandle sysconf = linker.downcallHandle(linker.defaultLookup().findOrThrow("sysconf"), FunctionDescriptor.of(JAVA_LONG, JAVA_INT));
                page = (long) sysconf.invokeExact(SC_PAGESIZE);
                madvise = linker.downcallHandle(linker.defaultLookup().findOrThrow("madvise"), FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
            }
        } catch (Throwable t) {
            madvise = null; // not fatal: the pages simply stay resident
        }
        MADVISE = page > 0 ? madvise : null;
        PAGE = page;
    }

    private MappedPages() {
    }

    /**
     * Releases the whole pages inside seg if it is part of a file mapping (pages shared with
     * neighbouring data at either end are kept). Returns the bytes released; 0 when nothing was.
     */
    static long release(MemorySegment seg) {
        if (MADVISE == null || !seg.isNative() || !seg.isMapped()) return 0;
        long start = (seg.address() + PAGE - 1) / PAGE * PAGE;
        long end = (seg.address() + seg.byteSize()) / PAGE * PAGE;
        if (end <= start) return 0;
        try {
            int rc = (int) MADVISE.invokeExact(MemorySegment.ofAddress(start), end - start, MADV_DONTNEED);
            return rc == 0 ? end - start : 0;
        } catch (Throwable t) {
            return 0;
        }
    }
}
