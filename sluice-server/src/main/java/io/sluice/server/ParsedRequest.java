package io.sluice.server;

import io.sluice.chat.ToolChoice;
import io.sluice.engine.SamplingParams;
import io.sluice.grammar.TokenGrammar;

import java.util.List;

/**
 * A validated /v1/chat/completions or /v1/completions body.
 *
 * @param chat         what the chat template is given; null for completions
 * @param promptText   completion prompt as text; null when given as token ids or for chat
 * @param promptTokens completion prompt as token ids; null otherwise
 * @param maxTokens    requested completion length; 0 = until the context is full
 * @param topLogprobs  -1 = no logprobs, else the chosen token's logprob plus this many alternatives
 * @param grammar      what the output must match (response_format, grammar or json_schema), or null
 * @param tools        the tools the model may call and how; null when it is offered none
 * @param reasoning    split the model's reasoning into reasoning_content (reasoning_format other than none)
 */
record ParsedRequest(
        ChatInput chat,
        String model,
        String promptText,
        int[] promptTokens,
        int maxTokens,
        SamplingParams sampling,
        List<String> stop,
        boolean ignoreEos,
        int topLogprobs,
        boolean stream,
        boolean includeUsage,
        TokenGrammar grammar,
        ToolChoice tools,
        boolean reasoning) {

    boolean isChat() {
        return chat != null;
    }

    ParsedRequest withChatOutput(ToolChoice t, boolean r) {
        return new ParsedRequest(chat, model, promptText, promptTokens, maxTokens, sampling, stop, ignoreEos, topLogprobs, stream, includeUsage, grammar, t, r);
    }

    ParsedRequest withGrammar(TokenGrammar g) {
        return new ParsedRequest(chat, model, promptText, promptTokens, maxTokens, sampling, stop, ignoreEos, topLogprobs, stream, includeUsage, g, tools, reasoning);
    }
}
