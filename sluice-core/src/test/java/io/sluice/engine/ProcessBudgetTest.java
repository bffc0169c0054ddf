package io.sluice.engine;

import io.sluice.gguf.GGMLType;
import io.sluice.tensor.ZeroPages;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/** A budget that covers the whole process (the Java runtime counted), and a KV pool that costs nothing until used. */
@Timeout(60)
class ProcessBudgetTest {
    private static final long MIB = 1L << 20, GIB = 1L << 30;
    /** The fake model with this many bytes of weights. */
    private static FakeModel weighing(long weightBytes) {
        FakeModel m = new FakeModel(2048);
        m.weightBytes = weightBytes;
        return m;
    }

    private static EngineConfig cfg(long kv, long budget, long runtime) {
        return new EngineConfig(kv, budget, 16, GGMLType.F16, 256, 8, 64, 0, runtime);
    }

    @Test
    void theRuntimeIsPartOfTheBudgetAndHoldsTheActivations() {
        long budget = 512 * MIB, runtime = 300 * MIB, weights = 20 * MIB;
        MemoryPlan p = MemoryPlan.of(cfg(0, budget, runtime), weighing(weights), 8 * GIB, 64 * GIB);
        assertEquals(runtime, p.runtimeBytes());
        assertTrue(p.totalBytes() <= budget && budget - p.totalBytes() < p.bytesPerBlock(), p.toString());
        assertEquals(budget - weights - runtime, p.kvBytes(), p.bytesPerBlock(), "activations live in the heap: not subtracted again");
        MemoryPlan engineOnly = MemoryPlan.of(cfg(0, budget, 0), weighing(weights), 8 * GIB, 64 * GIB);
        assertTrue(engineOnly.kvBytes() > p.kvBytes() + 250 * MIB, "a library budget leaves the JVM out: " + engineOnly);
        String line = p.describe(cfg(0, budget, runtime));
        assertTrue(line.contains("weights 20.0 MiB") && line.contains("JVM 300.0 MiB") && line.contains("of the 512.0 MiB budget"), line);
    }

    @Test
    void aRuntimeLargerThanTheBudgetIsRefusedNamingTheHeap() {
        EngineException e = assertThrows(EngineException.class,
                () -> MemoryPlan.of(cfg(0, 256 * MIB, 2 * GIB), weighing(MIB), 8 * GIB, 64 * GIB));
        assertTrue(e.getMessage().contains("memory budget of 256.0 MiB") && e.getMessage().contains("heap limit")
                && e.getMessage().contains("-Xmx"), e.getMessage());
        e = assertThrows(EngineException.class, () -> MemoryPlan.of(cfg(300 * MIB, 512 * MIB, 300 * MIB), weighing(MIB), 8 * GIB, 64 * GIB));
        assertTrue(e.getMessage().contains("--kv-memory") && e.getMessage().contains("Java runtime 300.0 MiB"), e.getMessage());
    }

    @Test
    void aCountedHeapNeedsHeadroomBesideTheActivations() {
        long act = MemoryPlan.activationBytes(cfg(0, 0, 0), weighing(MIB));
        long heap = act + MemoryPlan.HEAP_HEADROOM_BYTES / 2;
        EngineException e = assertThrows(EngineException.class, () -> MemoryPlan.of(cfg(0, 4 * GIB, heap + MemoryPlan.JVM_OVERHEAD_BYTES),
                weighing(MIB), heap, 64 * GIB));
        assertTrue(e.getMessage().contains("headroom") && e.getMessage().contains("--memory-budget"), e.getMessage());
        assertDoesNotThrow(() -> MemoryPlan.of(cfg(0, 4 * GIB, 0), weighing(MIB), heap, 64 * GIB), "uncounted heaps only need the activations");
    }

    @Test
    void theJavaRuntimeShareIsTheHeapLimitPlusTheOverhead() {
        long heap = MemoryPlan.maxHeapBytes();
        assertTrue(heap >= Runtime.getRuntime().maxMemory(), "-Xmx, not the usable part: " + heap);
        assertEquals(heap + MemoryPlan.JVM_OVERHEAD_BYTES, MemoryPlan.javaRuntimeBytes());
    }

    @Test
    void sizesUseAUnitThatDoesNotRoundToZero() {
        assertEquals("100 bytes", MemoryPlan.size(100));
        assertEquals("1.0 KiB", MemoryPlan.size(1024));
        assertEquals("10.0 KiB", MemoryPlan.size(10240));
        assertEquals("1.5 MiB", MemoryPlan.size(3 * MIB / 2));
        assertEquals("2.0 GiB", MemoryPlan.size(2 * GIB));
    }

    private static long rssBytes() throws Exception {
        for (String l : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (l.startsWith("VmRSS:")) return Long.parseLong(l.replaceAll("\\D", "")) * 1024;
        }
        throw new IllegalStateException("no VmRSS");
    }

    @Test
    void aHugeDeclaredContextGetsALazyDefaultPool() throws Exception {
        Assumptions.assumeTrue(ZeroPages.lazy() && Files.exists(Path.of("/proc/self/status")), "lazy pages need Linux");
        System.gc();
        long before = rssBytes();
        try (LlmEngine e = new LlmEngine(new FakeModel(Integer.MAX_VALUE), EngineConfig.defaults())) {
            long pool = e.memoryPlan().kvBytes();
            long grew = rssBytes() - before;
            assertTrue(pool > GIB, "the default pool is the 2 GiB cap: " + pool);
            // The block manager's tables for a million blocks are on the heap; the pool's pages are not touched.
            assertTrue(grew < 256 * MIB, "resident memory grew by " + grew / MIB + " MiB for a " + pool / MIB + " MiB pool");
            CompletableFuture<GenerationEvent.Finished> done = new CompletableFuture<>();
            e.submit(new GenerationRequest(new int[]{3, 4, 5}, SamplingParams.GREEDY, 8, List.of(), true, -1), ev -> {
                if (ev instanceof GenerationEvent.Finished f) done.complete(f);
            });
            assertEquals(FinishReason.LENGTH, done.get(30, TimeUnit.SECONDS).reason(), "and it serves");
            assertEquals(0, e.metrics().kvBlocksUsed());
        }
    }
}
