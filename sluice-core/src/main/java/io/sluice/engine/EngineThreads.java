package io.sluice.engine;

/** What {@link LlmEngine} and {@link EmbeddingEngine} share about the one thread their loop runs on. */
final class EngineThreads {
    private EngineThreads() {
    }

    /**
     * Waits for an engine's loop to end after close() told it to stop. On the loop's own thread (a
     * callback closing its engine) it returns at once: that thread would wait for itself.
     */
    static void join(Thread loop) {
        if (Thread.currentThread() == loop) return;
        try {
            loop.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
