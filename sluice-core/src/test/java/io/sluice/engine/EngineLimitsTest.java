package io.sluice.engine;

import io.sluice.gguf.GGMLType;
import io.sluice.model.KvStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Absurd settings and hostile request parameters are refused up front with a message naming the
 * problem (never an OutOfMemoryError or an overflowed array), and cancellation or queue storms leave
 * the engine consistent and serving.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class EngineLimitsTest {
    private static final long GIB = 1L << 30;

    private static EngineConfig cfg(long kv, long budget, GGMLType type, int maxBatched, int maxSeqs, int ctx) {
        return new EngineConfig(kv, budget, 16, type, maxBatched, maxSeqs, 64, ctx);
    }

    /** Two layers of two KV heads; weights of 0 bytes. */
    private static FakeModel model(int headDim, int vocab, int ctx) {
        FakeModel m = new FakeModel(2, 2, headDim, vocab, ctx);
        m.weightBytes = 0;
        return m;
    }

    private static String refused(Runnable r) {
        EngineException e = assertThrows(EngineException.class, r::run);
        assertEquals(EngineException.Kind.INVALID_REQUEST, e.kind());
        return e.getMessage();
    }

    @Test
    void aContextBeyondTheModelsIsRefusedAndUpToItIsKept() {
        FakeModel m = model(32, 64, 512);
        String msg = refused(() -> MemoryPlan.of(cfg(0, 0, GGMLType.F16, 256, 4, 100_000), m, 8 * GIB, 64 * GIB));
        assertTrue(msg.contains("100000") && msg.contains("512"), msg);
        assertEquals(512, MemoryPlan.of(cfg(0, 0, GGMLType.F16, 256, 4, 512), m, 8 * GIB, 64 * GIB).contextLength());
        assertEquals(100, MemoryPlan.of(cfg(0, 0, GGMLType.F16, 256, 4, 100), m, 8 * GIB, 64 * GIB).contextLength());
    }

    @Test
    void aHugeDeclaredContextGetsACappedDefaultPoolNotAnOverflow() {
        // A file may declare a context of 2^31 - 1: the default pool stays at its cap (the engine then caps the context by the pool).
        FakeModel m = model(32, 64, Integer.MAX_VALUE);
        MemoryPlan p = MemoryPlan.of(cfg(0, 0, GGMLType.F16, 256, 4, 0), m, 8 * GIB, 64 * GIB);
        assertEquals(Integer.MAX_VALUE, p.contextLength());
        assertTrue(p.numBlocks() > 0 && p.kvBytes() <= MemoryPlan.DEFAULT_POOL_CAP, p.toString());
        assertTrue(MemoryPlan.DEFAULT_POOL_CAP - p.kvBytes() < p.bytesPerBlock(), "the whole cap is used: " + p);
    }

    @Test
    void aQuantizedKvTypeNeedsWholeBlocksPerHead() {
        String msg = refused(() -> MemoryPlan.of(cfg(0, 0, GGMLType.Q8_0, 256, 4, 0), model(8, 64, 512), 8 * GIB, 64 * GIB));
        assertTrue(msg.contains("q8_0") && msg.contains("8") && msg.contains("f16"), msg);
        assertTrue(MemoryPlan.of(cfg(0, 0, GGMLType.Q8_0, 256, 4, 0), model(32, 64, 512), 8 * GIB, 64 * GIB).numBlocks() > 0);
    }

    @Test
    void aPoolBeyondThePhysicalMemoryIsRefusedBeforeAllocating() {
        FakeModel m = model(32, 64, 512);
        String msg = refused(() -> MemoryPlan.of(cfg(1L << 40, 0, GGMLType.F16, 256, 4, 0), m, 8 * GIB, 16 * GIB));
        assertTrue(msg.contains("1024.0 GiB") && msg.contains("16.0 GiB") && msg.contains("--kv-memory"), msg);
        // Unknown physical memory (0) skips the check rather than refusing to start.
        assertEquals((1L << 40) / KvStore.bytesPerBlock(m.kvLayout(), 16, GGMLType.F16),
                MemoryPlan.of(cfg(1L << 40, 0, GGMLType.F16, 256, 4, 0), m, 8 * GIB, 0).numBlocks());
    }

    @Test
    void workBuffersBeyondTheHeapOrAnArrayAreRefused() {
        FakeModel m = model(128, 32_000, 4096);
        long act = MemoryPlan.activationBytes(cfg(0, 0, GGMLType.F16, 65_536, 16, 0), m);
        String heap = refused(() -> MemoryPlan.of(cfg(0, 0, GGMLType.F16, 65_536, 16, 0), m, act - 1, 64 * GIB));
        assertTrue(heap.contains("65536") && heap.contains("-Xmx"), heap);
        assertNotNull(MemoryPlan.of(cfg(0, 0, GGMLType.F16, 65_536, 16, 0), m, act, 64 * GIB));
        // 4096 logit rows of a 600k vocabulary overflow one Java array, whatever the heap.
        FakeModel wide = model(128, 600_000, 4096);
        String rows = refused(() -> MemoryPlan.of(cfg(0, 0, GGMLType.F16, 4096, 4096, 0), wide, Long.MAX_VALUE, 0));
        assertTrue(rows.contains("--max-seqs 4096"), rows);
    }

    @Test
    void engineConfigRejectsAbsurdLimitsByName() {
        Map<String, Runnable> bad = new HashMap<>();
        bad.put("--max-batched-tokens", () -> cfg(0, 0, GGMLType.F16, 2_000_000_000, 4, 0));
        bad.put("--max-seqs", () -> cfg(0, 0, GGMLType.F16, 512, 100_000_000, 0));
        bad.put("--max-queue", () -> new EngineConfig(0, 0, 16, GGMLType.F16, 512, 4, Integer.MAX_VALUE, 0));
        bad.put("--kv-block-size", () -> new EngineConfig(0, 0, 0, GGMLType.F16, 512, 4, 4, 0));
        bad.put("--kv-type", () -> new EngineConfig(0, 0, 16, null, 512, 4, 4, 0));
        bad.put("sizes", () -> cfg(-1, 0, GGMLType.F16, 512, 4, 0));
        bad.forEach((name, r) -> {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, r::run, name);
            assertTrue(e.getMessage().contains(name), e.getMessage());
        });
    }

    @Test
    void hostileSamplingAndRequestValuesAreRefused() {
        Map<Integer, Float> nanBias = Map.of(3, Float.NaN);
        assertThrows(IllegalArgumentException.class, () -> new SamplingParams(1f, 0, 1f, 0f, 1f, 0f, 0f, 64, 1, nanBias));
        Map<Integer, Float> nullKey = new HashMap<>();
        nullKey.put(null, 1f);
        assertThrows(IllegalArgumentException.class, () -> new SamplingParams(1f, 0, 1f, 0f, 1f, 0f, 0f, 64, 1, nullKey));
        // -inf bans a token: allowed.
        assertEquals(Float.NEGATIVE_INFINITY, new SamplingParams(1f, 0, 1f, 0f, 1f, 0f, 0f, 64, 1, Map.of(3, Float.NEGATIVE_INFINITY)).logitBias().get(3));
        IllegalArgumentException lastN = assertThrows(IllegalArgumentException.class, () -> new SamplingParams(1f, 0, 1f, 0f, 1f, 0f, 0f, -7, 1, Map.of()));
        assertTrue(lastN.getMessage().contains("-7"), lastN.getMessage());
        for (float t : new float[]{Float.NaN, -1f, Float.POSITIVE_INFINITY}) {
            assertThrows(IllegalArgumentException.class, () -> new SamplingParams(t, 0, 1f, 0f, 1f, 0f, 0f, 64, 1, Map.of()), "temperature " + t);
        }
        List<String> withNull = Arrays.asList("a", null);
        assertThrows(IllegalArgumentException.class, () -> new GenerationRequest(new int[]{1}, null, 4, withNull, false, -1));
        assertThrows(IllegalArgumentException.class, () -> new GenerationRequest(new int[]{1}, null, 4, List.of(), false, -5));
        assertThrows(IllegalArgumentException.class, () -> new GenerationRequest(new int[]{1}, null, 4, List.of(), false, 21));
        assertThrows(IllegalArgumentException.class, () -> new GenerationRequest(new int[0], null, 4, List.of(), false, -1));
    }

    @Test
    void multiMegabyteStopStringsCostLittle() throws Exception {
        try (LlmEngine e = engine(new FakeModel(64), 40, 4, 8)) {
            // Sixteen 4 MiB stop strings (the server allows 16): matching must stay linear in the output, not the stop length.
            List<String> stops = new ArrayList<>();
            for (int i = 0; i < 16; i++) stops.add(String.valueOf((char) ('a' + i)).repeat(4 << 20));
            Collector c = new Collector();
            long t0 = System.nanoTime();
            e.submit(new GenerationRequest(new int[]{5, 6, 7}, SamplingParams.GREEDY, 40, stops, true, -1), c);
            GenerationEvent.Finished f = c.await();
            assertNotEquals(FinishReason.ERROR, f.reason(), f.message());
            assertTrue(System.nanoTime() - t0 < 20_000_000_000L, "took " + (System.nanoTime() - t0) / 1e9 + " s");
        }
    }

    private static LlmEngine engine(FakeModel model, int blocks, int maxSeqs, int maxQueue) {
        long kv = blocks * KvStore.bytesPerBlock(model.kvLayout(), 4, GGMLType.F32);
        return new LlmEngine(model, new EngineConfig(kv, 0, 4, GGMLType.F32, 16, maxSeqs, maxQueue, 64));
    }

    private static GenerationRequest longRequest(int seed) {
        return new GenerationRequest(new int[]{1 + seed % 60, 2, 3}, SamplingParams.GREEDY, 40, List.of(), true, -1);
    }

    @Test
    void aCancellationStormFromManyThreadsLeaksNothingAndTheEngineKeepsServing() throws Exception {
        FakeModel model = new FakeModel(64);
        model.delayNanos = 100_000;
        try (LlmEngine e = engine(model, 40, 4, 10_000)) {
            int threads = 8, perThread = 60;
            ConcurrentLinkedQueue<Collector> all = new ConcurrentLinkedQueue<>(), untouched = new ConcurrentLinkedQueue<>();
            ConcurrentLinkedQueue<Throwable> errors = new ConcurrentLinkedQueue<>();
            CountDownLatch start = new CountDownLatch(1);
            List<Thread> ts = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int id = t;
                ts.add(Thread.ofPlatform().start(() -> {
                    try {
                        start.await();
                        for (int i = 0; i < perThread; i++) {
                            Collector c = new Collector();
                            if (i % 4 == 3 || i % 8 == 6) untouched.add(c);
                            all.add(c);
                            GenerationHandle h = e.submit(longRequest(id * perThread + i), c);
                            switch (i % 4) {
                                case 0 -> h.cancel();                  // before it is scheduled
                                case 1 -> { h.cancel(); h.cancel(); }  // twice
                                case 2 -> { if (i % 8 == 2) { Thread.sleep(1); h.cancel(); } } // mid-generation
                                default -> { }                         // left to finish
                            }
                        }
                    } catch (Throwable x) {
                        errors.add(x);
                    }
                }));
            }
            start.countDown();
            for (Thread t : ts) t.join();
            assertTrue(errors.isEmpty(), () -> "submit/cancel threw: " + errors);
            int cancelled = 0, finished = 0;
            for (Collector c : all) {
                GenerationEvent.Finished f = c.await();
                assertNotEquals(FinishReason.ERROR, f.reason(), f.message());
                if (f.reason() == FinishReason.CANCELLED) cancelled++;
                else finished++;
            }
            assertEquals(threads * perThread, cancelled + finished);
            for (Collector c : untouched) assertEquals(FinishReason.LENGTH, c.finished.reason(), () -> "never cancelled, yet: " + c.finished + " after " + c.ids.size() + " tokens");
            // Immediate cancels normally win against 40 steps; a descheduled thread may lose the race, so only "some".
            assertTrue(cancelled > 0, "cancelled " + cancelled);
            // Cancelling a finished request is a no-op, and the engine still answers exactly.
            Collector after = new Collector();
            GenerationHandle h = e.submit(GenerationRequest.greedy(new int[]{5, 6, 7}, 6), after);
            after.await();
            h.cancel();
            assertTrue(h.isDone());
            assertArrayEquals(FakeModel.expectedGreedy(new int[]{5, 6, 7}, 6, 64, false), after.idArray());
            waitForIdle(e);
            e.blockManager().checkConsistency();
            assertEquals(0, e.blockManager().usedBlocks(), "every block is free (cached prefixes count as free)");
            for (Collector c : all) assertEquals(0, c.eventsAfterFinish);
        }
    }

    @Test
    void aFullQueueRefusesConcurrentSubmittersCleanlyAndServesTheAccepted() throws Exception {
        FakeModel model = new FakeModel(64);
        model.delayNanos = 300_000;
        try (LlmEngine e = engine(model, 40, 2, 4)) {
            ConcurrentLinkedQueue<Collector> accepted = new ConcurrentLinkedQueue<>();
            AtomicInteger refused = new AtomicInteger();
            ConcurrentLinkedQueue<Throwable> errors = new ConcurrentLinkedQueue<>();
            List<Thread> ts = new ArrayList<>();
            for (int t = 0; t < 6; t++) {
                int id = t;
                ts.add(Thread.ofPlatform().start(() -> {
                    for (int i = 0; i < 40; i++) {
                        Collector c = new Collector();
                        try {
                            e.submit(longRequest(id * 40 + i), c);
                            accepted.add(c);
                        } catch (EngineException x) {
                            if (x.kind() == EngineException.Kind.QUEUE_FULL) refused.incrementAndGet();
                            else errors.add(x);
                        } catch (Throwable x) {
                            errors.add(x);
                        }
                    }
                }));
            }
            for (Thread t : ts) t.join();
            assertTrue(errors.isEmpty(), () -> "unexpected: " + errors);
            assertTrue(refused.get() > 0, "a queue of 4 behind 2 slots must refuse some of 240 quick submissions");
            assertEquals(240, accepted.size() + refused.get());
            for (Collector c : accepted) {
                GenerationEvent.Finished f = c.await();
                assertEquals(FinishReason.LENGTH, f.reason(), f.message());
                assertEquals(40, c.ids.size());
            }
        }
    }

    @Test
    void submittersRacingCloseGetShutdownOrAFinishedRequestNeverAHang() throws Exception {
        FakeModel model = new FakeModel(64);
        model.delayNanos = 100_000;
        LlmEngine e = engine(model, 40, 4, 64);
        ConcurrentLinkedQueue<Collector> accepted = new ConcurrentLinkedQueue<>();
        ConcurrentLinkedQueue<Throwable> errors = new ConcurrentLinkedQueue<>();
        AtomicInteger shutdown = new AtomicInteger();
        CountDownLatch running = new CountDownLatch(4);
        List<Thread> ts = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            int id = t;
            ts.add(Thread.ofPlatform().start(() -> {
                running.countDown();
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                // Submit until the engine says it is shut down.
                for (int i = 0; System.nanoTime() < deadline; i++) {
                    Collector c = new Collector();
                    try {
                        e.submit(longRequest(id + i), c);
                        accepted.add(c);
                    } catch (EngineException x) {
                        if (x.kind() == EngineException.Kind.SHUTDOWN) {
                            shutdown.incrementAndGet();
                            return;
                        }
                        if (x.kind() != EngineException.Kind.QUEUE_FULL) errors.add(x);
                    } catch (Throwable x) {
                        errors.add(x);
                    }
                    if (i % 16 == 0) Thread.yield();
                }
            }));
        }
        running.await();
        Thread.sleep(5);
        e.close();
        for (Thread t : ts) t.join();
        assertTrue(errors.isEmpty(), () -> "unexpected: " + errors);
        assertEquals(4, shutdown.get(), "every submitter saw SHUTDOWN after close");
        for (Collector c : accepted) assertNotEquals(FinishReason.ERROR, c.await().reason());
    }

    private static void waitForIdle(LlmEngine e) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while ((e.metrics().runningSeqs() > 0 || e.metrics().waitingSeqs() > 0) && System.nanoTime() < deadline) Thread.sleep(5);
    }
}
