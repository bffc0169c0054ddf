package io.sluice.tensor;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assertions.assertFalse;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ParallelTest {
    private final int saved = Parallel.threads();

    @AfterEach
    void restore() {
        Parallel.setThreads(saved);
    }

    /** Every index is visited exactly once, for many sizes and consecutive operations. */
    private static void checkCoverage(int threads) {
        Parallel.setThreads(threads);
        for (int n = 0; n < 300; n += 7) {
            AtomicIntegerArray hits = new AtomicIntegerArray(Math.max(n, 1));
            Parallel.forRange(n, (s, e) -> {
                for (int i = s; i < e; i++) hits.incrementAndGet(i);
            });
            for (int i = 0; i < n; i++) assertEquals(1, hits.get(i), "n=" + n + " index " + i);
        }
    }

    @Test
    void coversEveryIndexOnce() {
        checkCoverage(1);
        checkCoverage(2);
        checkCoverage(5); // more threads than cores
    }

    @Test
    void usesWorkerThreadsAndIndexes() {
        Parallel.setThreads(3);
        AtomicIntegerArray seen = new AtomicIntegerArray(3);
        for (int rep = 0; rep < 200 && (seen.get(1) == 0 || seen.get(2) == 0); rep++) {
            Parallel.forRange(64, (s, e) -> {
                seen.incrementAndGet(Parallel.workerIndex());
                long until = System.nanoTime() + 200_000;
                while (System.nanoTime() < until) Thread.onSpinWait();
            });
        }
        assertTrue(seen.get(0) > 0);
        assertTrue(seen.get(1) + seen.get(2) > 0, "no chunk ran on a worker");
    }

    @Test
    void propagatesTheTasksException() {
        Parallel.setThreads(2);
        IllegalStateException boom = new IllegalStateException("boom");
        IllegalStateException thrown = assertThrows(IllegalStateException.class, () -> Parallel.forRange(100, (s, e) -> {
            if (s <= 50 && 50 < e) throw boom;
        }));
        assertSame(boom, thrown);
        checkCoverage(2); // the pool still works afterwards
    }

    @Test
    void nestedAndConcurrentCallsComplete() throws Exception {
        Parallel.setThreads(2);
        AtomicLong sum = new AtomicLong();
        Parallel.forRange(10, (s, e) -> {
            for (int i = s; i < e; i++) {
                int base = i * 10;
                Parallel.forRange(10, (s2, e2) -> {
                    for (int j = s2; j < e2; j++) sum.addAndGet(base + j);
                });
            }
        });
        assertEquals(99L * 100 / 2, sum.get());

        ExecutorService callers = Executors.newFixedThreadPool(3);
        try {
            Future<?>[] fs = new Future<?>[3];
            for (int c = 0; c < 3; c++) {
                fs[c] = callers.submit(() -> {
                    for (int rep = 0; rep < 200; rep++) {
                        AtomicLong s = new AtomicLong();
                        Parallel.forRange(1000, (a, b) -> {
                            for (int i = a; i < b; i++) s.addAndGet(i);
                        });
                        assertEquals(999L * 1000 / 2, s.get());
                    }
                });
            }
            for (Future<?> f : fs) f.get();
        } finally {
            callers.shutdown();
        }
    }

    /**
     * Many small operations back to back: a worker that wakes late must never claim a chunk of the
     * next operation before it is published (which ran that chunk twice and let the caller return
     * before all chunks were done: corrupted attention, seen as flaky greedy outputs).
     */
    @Test
    void backToBackSmallOperationsRunEachIndexExactlyOnce() {
        Parallel.setThreads(2);
        java.util.concurrent.atomic.AtomicIntegerArray busy = new java.util.concurrent.atomic.AtomicIntegerArray(8);
        for (int it = 0; it < 300_000; it++) {
            int n = 1 + it % 17;
            int[] hits = new int[n];
            boolean[] shared = {false};
            Parallel.forRange(n, (s, e) -> {
                int w = Parallel.workerIndex();
                if (busy.incrementAndGet(w) > 1) shared[0] = true;
                for (int i = s; i < e; i++) hits[i]++;
                busy.decrementAndGet(w);
            });
            for (int i = 0; i < n; i++) {
                if (hits[i] != 1) fail("operation " + it + " of " + n + " indexes ran index " + i + " " + hits[i] + " times");
            }
            assertFalse(shared[0], "two threads used worker index scratch at once in operation " + it);
        }
    }
}
