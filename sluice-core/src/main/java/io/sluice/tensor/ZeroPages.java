package io.sluice.tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.Locale;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Zero-filled off-heap memory that the OS supplies a page at a time on first touch (Linux anonymous
 * {@code mmap}). {@link Arena#allocate} zeroes every byte up front, so a 2 GiB KV pool cost seconds and
 * 2 GiB of resident memory before the first request; mapped this way it costs neither until used.
 * Elsewhere, or if the mapping fails, it falls back to {@link Arena#allocate}.
 */
public final class ZeroPages {
    private static final int PROT_READ = 1, PROT_WRITE = 2, MAP_PRIVATE = 2, MAP_ANONYMOUS = 0x20, MAP_NORESERVE = 0x4000;
    private static final int MADV_HUGEPAGE = 14;
    private static final long HUGE_PAGE = 2L << 20, SMALL_PAGE = 4096;
    private static final boolean HUGE = Boolean.parseBoolean(System.getProperty("sluice.hugepages", "true"));
    private static final MethodHandle MMAP, MUNMAP, MADVISE;

    static {
        MethodHandle mmap = null, munmap = null, madvise = null;
        try {
            String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
            String arch = System.getProperty("os.arch", "");
            // The flag values above are Linux's on x86-64 and aarch64.
            if (os.contains("linux") && (arch.equals("amd64") || arch.equals("x86_64") || arch.equals("aarch64"))) {
                Linker linker = Linker.nativeLinker();
                mmap = linker.downcallHandle(linker.defaultLookup().findOrThrow("mmap"),
                        FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG));
                munmap = linker.downcallHandle(linker.defaultLookup().findOrThrow("munmap"), FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
                madvise = linker.downcallHandle(linker.defaultLookup().findOrThrow("madvise"), FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
            }
        } catch (Throwable t) {
            mmap = null; // not fatal: eager allocation instead
        }
        MMAP = munmap == null ? null : mmap;
        MUNMAP = MMAP == null ? null : munmap;
        MADVISE = MMAP == null ? null : madvise;
    }

    private ZeroPages() {
    }

    /** Whether allocations are lazy on this platform. */
    public static boolean lazy() {
        return MMAP != null;
    }

    /** {@code bytes} of zeroed memory (page-aligned, so 64-byte aligned too), freed when {@code arena} closes. */
    public static MemorySegment allocate(Arena arena, long bytes) {
        return allocate(arena, bytes, false);
    }

    /**
     * As {@link #allocate(Arena, long)}, for memory that is written in full at once and then streamed
     * (repacked weights): asks for 2 MiB pages ({@code MADV_HUGEPAGE}, honoured where transparent huge
     * pages are in "madvise" or "always" mode), so that a decode step's walk over the weights is not a
     * TLB miss every 4 KiB. Not for lazily touched memory such as the KV pool, whose pages would then be
     * committed 2 MiB at a time.
     */
    public static MemorySegment allocateStreamed(Arena arena, long bytes) {
        return allocate(arena, bytes, HUGE && bytes >= HUGE_PAGE);
    }

    private static MemorySegment allocate(Arena arena, long bytes, boolean huge) {
        if (MMAP != null && bytes > 0) {
            try {
                // For huge pages the start must sit on a 2 MiB boundary, or only the aligned middle of the
                // copy gets them: reserve 2 MiB more and return the unaligned head and the tail.
                long reserve = huge ? bytes + HUGE_PAGE : bytes;
                MemorySegment addr = (MemorySegment) MMAP.invokeExact(MemorySegment.NULL, reserve, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0L);
                if (addr.address() != -1L && addr.address() != 0L) {
                    long start = addr.address(), len = bytes;
                    if (huge) {
                        start = (addr.address() + HUGE_PAGE - 1) & -HUGE_PAGE;
                        len = (bytes + SMALL_PAGE - 1) & -SMALL_PAGE;
                        if (start > addr.address()) unmap(addr.address(), start - addr.address());
                        long tail = addr.address() + reserve - (start + len);
                        if (tail > 0) unmap(start + len, tail);
                        if (MADVISE != null) {
                            int unused = (int) MADVISE.invokeExact(MemorySegment.ofAddress(start), len, MADV_HUGEPAGE); // advice only
                        }
                    }
                    long mapped = len;
                    return MemorySegment.ofAddress(start).reinterpret(bytes, arena, seg -> unmap(seg.address(), mapped));
                }
            } catch (Throwable t) {
                // fall through to the eager allocation
            }
        }
        return arena.allocate(bytes, 64);
    }

    private static void unmap(long address, long bytes) {
        try {
            int unused = (int) MUNMAP.invokeExact(MemorySegment.ofAddress(address), bytes);
        } catch (Throwable t) {
            // leaks address space only; nothing better to do at close
        }
    }
}
