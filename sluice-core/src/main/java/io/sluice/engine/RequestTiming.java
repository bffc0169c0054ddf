package io.sluice.engine;

/**
 * When one request's milestones happened (System.nanoTime), for latency histograms: queue time,
 * time to first token, inter-token latencies, end-to-end time.
 *
 * @param firstScheduledNanos when it first entered a forward pass; 0 if never
 * @param firstTokenNanos     when its first token was sampled; 0 if none
 * @param interTokenSeconds   gaps between consecutive tokens (completionTokens - 1 of them)
 * @param ngramDraftedTokens  guessed tokens from prompt lookup verified (speculative decoding; 0 without)
 * @param ngramAcceptedTokens of those, the ones kept
 * @param draftModelDraftedTokens  guessed tokens from the draft model verified
 * @param draftModelAcceptedTokens of those, the ones kept
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
        int ngramDraftedTokens,
        int ngramAcceptedTokens,
        int draftModelDraftedTokens,
        int draftModelAcceptedTokens) {

    /** Guessed tokens verified, from either source. */
    public int draftedTokens() {
        return ngramDraftedTokens + draftModelDraftedTokens;
    }

    /** Of those, the ones kept. */
    public int acceptedTokens() {
        return ngramAcceptedTokens + draftModelAcceptedTokens;
    }

    /** Kept guesses per guess; NaN when nothing was guessed. */
    public double acceptanceRate() {
        return draftedTokens() == 0 ? Double.NaN : (double) acceptedTokens() / draftedTokens();
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
