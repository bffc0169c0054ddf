package io.sluice.engine;

/**
 * When one request's milestones happened (System.nanoTime), for latency histograms: queue time,
 * time to first token, inter-token latencies, end-to-end time.
 *
 * @param firstScheduledNanos when it first entered a forward pass; 0 if never
 * @param firstTokenNanos     when its first token was sampled; 0 if none
 * @param interTokenSeconds   gaps between consecutive tokens (completionTokens - 1 of them)
 * @param draftedTokens       guessed tokens verified (speculative decoding; 0 without)
 * @param acceptedTokens      of those, the ones kept
 */
public record RequestTiming(
        long requestId,
        FinishReason reason,
        Usage usage,
        long arrivalNanos,
        long firstScheduledNanos,
        long firstTokenNanos,
        long finishNanos,
        double[] interTokenSeconds,
        int draftedTokens,
        int acceptedTokens) {

    /** Kept guesses per guess; NaN when nothing was guessed. */
    public double acceptanceRate() {
        return draftedTokens == 0 ? Double.NaN : (double) acceptedTokens / draftedTokens;
    }

    public double queueSeconds() {
        return firstScheduledNanos == 0 ? Double.NaN : (firstScheduledNanos - arrivalNanos) / 1e9;
    }

    /** Time to first token; NaN when there was none. */
    public double ttftSeconds() {
        return firstTokenNanos == 0 ? Double.NaN : (firstTokenNanos - arrivalNanos) / 1e9;
    }

    public double e2eSeconds() {
        return (finishNanos - arrivalNanos) / 1e9;
    }
}
