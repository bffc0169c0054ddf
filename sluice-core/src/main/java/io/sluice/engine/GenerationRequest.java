package io.sluice.engine;

import io.sluice.grammar.TokenGrammar;

import java.util.List;

/**
 * One generation: prompt token ids (already tokenized, BOS included if wanted), sampling, limits.
 * maxTokens <= 0 means "until the context is full". stop strings end the generation when they
 * appear in the output text (the stop string itself is not emitted). topLogprobs: -1 = no
 * logprobs, 0..20 = the chosen token's logprob plus that many alternatives. grammar (may be null)
 * constrains the generated text to its sentences; it must be compiled for the engine's model's
 * vocabulary ({@code TokenVocabulary.of(model.tokenizer())}), and the generation stops when the text
 * is complete and nothing can follow.
 */
public record GenerationRequest(
        int[] promptTokens,
        SamplingParams sampling,
        int maxTokens,
        List<String> stop,
        boolean ignoreEos,
        int topLogprobs,
        TokenGrammar grammar) {

    public GenerationRequest(int[] promptTokens, SamplingParams sampling, int maxTokens, List<String> stop, boolean ignoreEos, int topLogprobs) {
        this(promptTokens, sampling, maxTokens, stop, ignoreEos, topLogprobs, null);
    }

    public GenerationRequest {
        if (stop != null) {
            // A loop, not contains(null): immutable lists throw on contains(null).
            for (String s : stop) if (s == null) throw new IllegalArgumentException("stop strings must not be null");
        }
        stop = stop == null ? List.of() : List.copyOf(stop);
        sampling = sampling == null ? SamplingParams.GREEDY : sampling;
        if (promptTokens == null || promptTokens.length == 0) throw new IllegalArgumentException("prompt must have at least one token");
        if (topLogprobs < -1 || topLogprobs > 20) throw new IllegalArgumentException("top_logprobs must be -1 (none) or 0..20 (got " + topLogprobs + ")");
    }

    /** The same request under another grammar (null: unconstrained). */
    public GenerationRequest withGrammar(TokenGrammar g) {
        return new GenerationRequest(promptTokens, sampling, maxTokens, stop, ignoreEos, topLogprobs, g);
    }

    public static GenerationRequest greedy(int[] prompt, int maxTokens) {
        return new GenerationRequest(prompt, SamplingParams.GREEDY, maxTokens, List.of(), false, -1, null);
    }
}
