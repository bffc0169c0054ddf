package io.sluice.engine;

import io.sluice.model.Model;

import java.util.function.Consumer;

/**
 * The serving engine: continuous batching over a paged, prefix-sharing KV cache. Thread-safe;
 * the CLI and the HTTP server both sit on it.
 */
public interface Engine extends AutoCloseable {

    /**
     * Queues a request. Events go to {@code listener} on the engine's thread, so it must be quick
     * (hand them to a queue). Throws EngineException when the request cannot be served at all
     * (prompt longer than the context, queue full, engine shut down).
     */
    GenerationHandle submit(GenerationRequest request, Consumer<GenerationEvent> listener);

    Model model();

    EngineConfig config();

    EngineMetrics metrics();

    /**
     * Registers a hook called on the engine thread right after each request's Finished event,
     * with its latency milestones (for TTFT / inter-token latency histograms). Must be quick.
     */
    /** False once the engine can no longer serve (closed, or its loop died): health checks report it. */
    default boolean isAlive() {
        return true;
    }

    default void onRequestFinished(Consumer<RequestTiming> hook) {
    }

    /** Stops the engine loop; running requests finish with CANCELLED. */
    @Override
    void close();
}
