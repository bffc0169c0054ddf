package io.sluice.engine;

import java.util.Map;

/**
 * How the next token is chosen. temperature 0 is greedy (argmax). topK 0, topP 1 and minP 0
 * disable those filters; repeatPenalty 1 and the frequency/presence penalties 0 disable penalties
 * (applied over the last {@code penaltyLastN} tokens, -1 = whole context). logitBias adds to
 * a token's logit before sampling. The same seed gives the same output.
 */
public record SamplingParams(
        float temperature,
        int topK,
        float topP,
        float minP,
        float repeatPenalty,
        float frequencyPenalty,
        float presencePenalty,
        int penaltyLastN,
        long seed,
        Map<Integer, Float> logitBias) {

    /** Longest penalty window; -1 covers any context. */
    public static final int MAX_PENALTY_LAST_N = 1 << 20;

    public static final SamplingParams GREEDY = new SamplingParams(0f, 0, 1f, 0f, 1f, 0f, 0f, 64, 0L, Map.of());

    public SamplingParams {
        if (logitBias != null) {
            for (Map.Entry<Integer, Float> e : logitBias.entrySet()) {
                // -inf bans a token and is fine; NaN would poison every probability.
                if (e.getKey() == null || e.getValue() == null || e.getValue().isNaN()) {
                    throw new IllegalArgumentException("logit_bias entries need a token id and a number (got " + e.getKey() + ": " + e.getValue() + ")");
                }
            }
        }
        logitBias = logitBias == null ? Map.of() : Map.copyOf(logitBias);
        if (!(temperature >= 0) || Float.isInfinite(temperature)) throw new IllegalArgumentException("temperature must be a finite number >= 0");
        if (topK < 0) throw new IllegalArgumentException("top_k must be >= 0");
        if (!(topP > 0 && topP <= 1)) throw new IllegalArgumentException("top_p must be in (0, 1]");
        if (!(minP >= 0 && minP <= 1)) throw new IllegalArgumentException("min_p must be in [0, 1]");
        if (!(repeatPenalty > 0) || Float.isInfinite(repeatPenalty)) throw new IllegalArgumentException("repeat penalty must be a finite number > 0");
        if (penaltyLastN < -1 || penaltyLastN > MAX_PENALTY_LAST_N) {
            // The sampler keeps a window of this many ids per request: callers clamp longer windows to their context.
            throw new IllegalArgumentException("repeat_last_n must be -1 (whole context), 0 (off) or 1.." + MAX_PENALTY_LAST_N + " (got " + penaltyLastN + ")");
        }
        if (!Float.isFinite(frequencyPenalty) || !Float.isFinite(presencePenalty)) throw new IllegalArgumentException("penalties must be finite");
    }

    /** Sampling as llama.cpp's CLI defaults it (temp 0.8, top-k 40, top-p 0.95, min-p 0.05). */
    public static SamplingParams defaults(long seed) {
        return new SamplingParams(0.8f, 40, 0.95f, 0.05f, 1f, 0f, 0f, 64, seed, Map.of());
    }

    public boolean greedy() {
        return temperature == 0f;
    }
}
