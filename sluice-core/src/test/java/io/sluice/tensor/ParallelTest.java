package io.sluice.tensor;

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
}
