package io.sluice.tensor;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Splits index ranges across a persistent pool of {@code threads() - 1} worker threads plus the
 * calling thread. Kernels call {@link #forRange}; the thread count is set once from the CLI's -t.
 *
 * <p>Hot-path cost is a few atomic operations and one small job object: no thread is created per
 * call. The range is cut into a few chunks per thread which the caller and the workers claim
 * dynamically, so a worker the OS has descheduled (other processes share the cores) delays the
 * step by at most one chunk instead of a whole share. Idle workers spin briefly on a generation
 * counter (the next operation of a forward pass usually comes within microseconds) and then park.
 *
 * <p>Calls from inside a task, or from a second thread while the pool is busy, run inline on the
 * calling thread: correct, only not parallel.
 */
public final class Parallel {
    @FunctionalInterface
    public interface RangeTask {
        void run(int start, int end);
    }

    /** How long an idle worker polls for the next operation before parking, in nanoseconds. */
    private static final long SPIN_NANOS = Long.getLong("sluice.spinNanos", 100_000L);
    private static final int CHUNKS_PER_THREAD = Integer.getInteger("sluice.chunksPerThread", 8);

    private static volatile int threads = Runtime.getRuntime().availableProcessors();
    private static volatile Pool pool;

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

    /**
     * The index of the current thread within the running {@link #forRange}: 0 for the calling
     * thread, 1..threads()-1 for the workers. Lets a task pick a per-thread scratch buffer.
     */
    public static int workerIndex() {
        return Thread.currentThread() instanceof Worker w ? w.index : 0;
    }

    /** Runs task over [0, n) in chunks spread over up to threads() threads; returns when all are done. */
    public static void forRange(int n, RangeTask task) {
        forRange(n, 1, task);
    }

    /** Like {@link #forRange(int, RangeTask)} with chunks of at least {@code grain} indices. */
    public static void forRange(int n, int grain, RangeTask task) {
        if (n <= 0) return;
        int t = threads;
        int chunks = Math.min(t * CHUNKS_PER_THREAD, (n + Math.max(1, grain) - 1) / Math.max(1, grain));
        if (t <= 1 || chunks <= 1 || Thread.currentThread() instanceof Worker) {
            task.run(0, n);
            return;
        }
        Pool p = pool();
        // Nested call from a task on the calling thread, or the pool is busy with another caller.
        if (p.lock.isHeldByCurrentThread() || !p.lock.tryLock()) {
            task.run(0, n);
            return;
        }
        try {
            p.run(n, chunks, task);
        } finally {
            p.lock.unlock();
        }
    }

    private static Pool pool() {
        Pool p = pool;
        if (p == null) {
            synchronized (Parallel.class) {
                if (pool == null) pool = new Pool(threads);
                p = pool;
            }
        }
        return p;
    }

    private static final class Worker extends Thread {
        final int index;
        final Pool pool;
        volatile boolean sleeping;

        Worker(Pool pool, int index) {
            super("sluice-worker-" + index);
            this.pool = pool;
            this.index = index;
            setDaemon(true);
        }

        @Override
        public void run() {
            long seen = 0;
            while (!pool.stopped) {
                long g = pool.generation;
                if (g == seen) {
                    long deadline = System.nanoTime() + SPIN_NANOS;
                    while ((g = pool.generation) == seen && !pool.stopped) {
                        if (System.nanoTime() < deadline) {
                            Thread.onSpinWait();
                        } else {
                            // Publish "sleeping" before re-checking, so a caller that bumps the
                            // generation afterwards sees the flag and unparks us.
                            sleeping = true;
                            if (pool.generation == seen && !pool.stopped) LockSupport.park(this);
                            sleeping = false;
                        }
                    }
                }
                seen = g;
                Job j = pool.job;
                if (j != null) j.work();
            }
        }
    }

    /**
     * One forRange call. Its chunk counter and completion count live with it, so a worker that
     * wakes late and still holds a finished job finds no chunk left in it and can never claim
     * (or be counted for) a chunk of the next job.
     */
    private static final class Job {
        final RangeTask task;
        final int n;
        final int chunks;
        final AtomicInteger next = new AtomicInteger();
        final AtomicInteger done = new AtomicInteger();
        volatile Throwable failure;

        Job(RangeTask task, int n, int chunks) {
            this.task = task;
            this.n = n;
            this.chunks = chunks;
        }

        /** Claims and runs chunks until none is left. */
        void work() {
            int c;
            while ((c = next.getAndIncrement()) < chunks) {
                int s = (int) ((long) n * c / chunks), e = (int) ((long) n * (c + 1) / chunks);
                try {
                    task.run(s, e);
                } catch (Throwable t) {
                    if (failure == null) failure = t;
                } finally {
                    done.incrementAndGet();
                }
            }
        }
    }

    private static final class Pool {
        final ReentrantLock lock = new ReentrantLock();
        final Worker[] workers;
        volatile long generation;
        volatile boolean stopped;
        /** The current job; replaced only after every chunk of the previous one has finished. */
        volatile Job job;

        Pool(int threads) {
            workers = new Worker[threads - 1];
            for (int i = 0; i < workers.length; i++) {
                workers[i] = new Worker(this, i + 1);
                workers[i].start();
            }
        }

        void run(int n, int chunks, RangeTask task) {
            Job j = new Job(task, n, chunks);
            job = j;
            generation = generation + 1; // only the lock holder writes it
            for (Worker w : workers) if (w.sleeping) LockSupport.unpark(w);
            j.work();
            // Wait for chunks other threads claimed; they are short, so spin, then yield.
            int spins = 0;
            while (j.done.get() < chunks) {
                if (++spins < 20_000) Thread.onSpinWait();
                else Thread.yield();
            }
            job = null;
            Throwable f = j.failure;
            if (f != null) {
                if (f instanceof RuntimeException re) throw re;
                if (f instanceof Error e) throw e;
                throw new RuntimeException(f);
            }
        }

        void shutdown() {
            stopped = true;
            for (Worker w : workers) LockSupport.unpark(w);
        }
    }
}
