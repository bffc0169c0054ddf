package io.sluice.server;

import io.sluice.engine.SamplingParams;

import java.util.List;
import java.util.Map;

/**
 * A validated /v1/chat/completions or /v1/completions body.
 *
 * @param messages     chat messages (role, content[, name]) for the template; null for completions
 * @param promptText   completion prompt as text; null when given as token ids or for chat
 * @param promptTokens completion prompt as token ids; null otherwise
 * @param maxTokens    requested completion length; 0 = until the context is full
 * @param topLogprobs  -1 = no logprobs, else the chosen token's logprob plus this many alternatives
 */
record ParsedRequest(
        boolean chat,
        String model,
        List<Map<String, Object>> messages,
        String promptText,
        int[] promptTokens,
        int maxTokens,
        SamplingParams sampling,
        List<String> stop,
        boolean ignoreEos,
        int topLogprobs,
        boolean stream,
        boolean includeUsage) {
}
