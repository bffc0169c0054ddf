package io.sluice.engine;

/** A submitted request: cancel() stops it and frees its KV blocks within one engine step. */
public interface GenerationHandle {
    long id();

    void cancel();

    boolean isDone();
}
