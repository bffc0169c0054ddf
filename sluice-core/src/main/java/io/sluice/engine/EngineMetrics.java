package io.sluice.engine;

import io.sluice.model.RoutingStats;

/**
 * A snapshot of the engine's counters and gauges (exported by the server as Prometheus metrics).
 * Latency sums are in seconds; latency histograms are kept by the exporter from the per-request
 * events. For a mixture-of-experts model, the routing histograms since the model was loaded
 * (see {@link RoutingStats}); null for a dense model. Speculative decoding's verified (drafted) and
 * kept (accepted) guesses are counted by source: prompt lookup (ngram) and the draft model.
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
        long steps,
        long ngramDraftedTokens,
        long ngramAcceptedTokens,
        long draftModelDraftedTokens,
        long draftModelAcceptedTokens,
        RoutingStats.Histogram.Snapshot expertsTouched,
        RoutingStats.Histogram.Snapshot tokensPerExpert) {

    /** The same counters without routing histograms (a dense model). */
    public EngineMetrics(int runningSeqs, int waitingSeqs, int kvBlocksTotal, int kvBlocksUsed, int kvBlocksCached, long prefixCacheHitTokens,
                         long preemptions, long promptTokens, long computedPromptTokens, long generatedTokens, long requestsFinished, long steps) {
        this(runningSeqs, waitingSeqs, kvBlocksTotal, kvBlocksUsed, kvBlocksCached, prefixCacheHitTokens, preemptions, promptTokens,
                computedPromptTokens, generatedTokens, requestsFinished, steps, 0, 0, 0, 0, null, null);
    }

    /** Guesses verified, from either source. */
    public long draftedTokens() {
        return ngramDraftedTokens + draftModelDraftedTokens;
    }

    /** Guesses kept, from either source. */
    public long acceptedTokens() {
        return ngramAcceptedTokens + draftModelAcceptedTokens;
    }
}
