package io.sluice.tensor;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadFactory;

/**
 * Splits index ranges across a fixed pool of worker threads (the caller takes the first share).
 * Kernels call {@link #forRange}; the thread count is set once from the CLI's -t.
 */
public final class Parallel {
    @FunctionalInterface
    public interface RangeTask {
        void run(int start, int end);
    }

    private static volatile int threads = Runtime.getRuntime().availableProcessors();
    private static volatile ExecutorService pool;

    private Parallel() {
    }

    public static synchronized void setThreads(int n) {
        if (n <= 0) throw new IllegalArgumentException("thread count must be positive");
        if (n != threads && pool != null) {
            pool.shutdown();
            pool = null;
        }
        threads = n;
    }

    public static int threads() {
        return threads;
    }

    private static ExecutorService pool() {
        ExecutorService p = pool;
        if (p == null) {
            synchronized (Parallel.class) {
                if (pool == null) {
                    ThreadFactory tf = r -> {
                        Thread t = new Thread(r, "sluice-worker");
                        t.setDaemon(true);
                        return t;
                    };
                    pool = Executors.newFixedThreadPool(Math.max(1, threads - 1), tf);
                }
                p = pool;
            }
        }
        return p;
    }

    /** Runs task over [0, n) in up to threads() contiguous chunks; returns when all are done. */
    public static void forRange(int n, RangeTask task) {
        int t = Math.min(threads, n);
        if (t <= 1) {
            if (n > 0) task.run(0, n);
            return;
        }
        ExecutorService p = pool();
        @SuppressWarnings("unchecked")
        Future<?>[] futures = new Future[t - 1];
        for (int i = 1; i < t; i++) {
            int s = (int) ((long) n * i / t), e = (int) ((long) n * (i + 1) / t);
            futures[i - 1] = p.submit(() -> task.run(s, e));
        }
        RuntimeException failure = null;
        try {
            task.run(0, (int) ((long) n / t));
        } catch (RuntimeException e) {
            failure = e;
        }
        for (Future<?> f : futures) {
            try {
                f.get();
            } catch (Exception e) {
                if (failure == null) failure = new RuntimeException(e.getCause() != null ? e.getCause() : e);
            }
        }
        if (failure != null) throw failure;
    }
}
