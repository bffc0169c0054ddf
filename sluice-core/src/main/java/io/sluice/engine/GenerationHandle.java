package io.sluice.engine;

/** A submitted request: cancel() stops it and frees its KV blocks within one engine step. */
public interface GenerationHandle {
    long id();

    void cancel();

    boolean isDone();

    /** The request's latency milestones; set just before its Finished event is delivered, null until then. */
    default RequestTiming timing() {
        return null;
    }
}
