package io.sluice.engine;

/**
 * A snapshot of the engine's counters and gauges (exported by the server as Prometheus metrics).
 * Latency sums are in seconds; histograms are kept by the exporter from the per-request events.
 */
public record EngineMetrics(
        int runningSeqs,
        int waitingSeqs,
        int kvBlocksTotal,
        int kvBlocksUsed,
        int kvBlocksCached,
        long prefixCacheHitTokens,
        long preemptions,
        long promptTokens,
        long computedPromptTokens,
        long generatedTokens,
        long requestsFinished,
        long steps) {
}
