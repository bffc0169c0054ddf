package io.sluice.chat;

import io.sluice.template.TemplateLimits;

import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Everything besides the messages that Hugging Face's apply_chat_template gives a template.
 *
 * @param tools               tool definitions in OpenAI's format ({@code {"type":"function","function":{name,
 *                            description, parameters}}}), or null for none (the template sees {@code tools = None})
 * @param documents           retrieval documents (maps with "title"/"text"), or null (the template sees None)
 * @param addGenerationPrompt end with the assistant's turn header so the model answers
 * @param bosToken            text of the BOS token ("" when the model has none)
 * @param eosToken            text of the EOS token
 * @param kwargs              extra template variables merged in (the request's {@code chat_template_kwargs}, e.g.
 *                            {@code enable_thinking}); may override bos_token/eos_token, not the variables above
 * @param limits              bounds on the render
 * @param clock               what {@code strftime_now} reads
 */
public record ChatOptions(List<Map<String, Object>> tools, List<Map<String, Object>> documents, boolean addGenerationPrompt,
                          String bosToken, String eosToken, Map<String, Object> kwargs, TemplateLimits limits, Clock clock) {

    /** Variables kwargs cannot replace (HF passes them as named arguments, so it refuses a second value too). */
    public static final Set<String> RESERVED = Set.of("messages", "tools", "documents", "add_generation_prompt");

    public ChatOptions {
        if (bosToken == null) bosToken = "";
        if (eosToken == null) eosToken = "";
        kwargs = kwargs == null ? Map.of() : java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(kwargs));
        for (String k : kwargs.keySet()) {
            if (RESERVED.contains(k)) throw new IllegalArgumentException("chat template kwargs cannot set '" + k + "'");
        }
        if (limits == null) limits = TemplateLimits.defaults();
        if (clock == null) clock = Clock.systemDefaultZone();
    }

    /** No tools, generation prompt on, no special tokens, default limits, the system clock. */
    public static ChatOptions defaults() {
        return new ChatOptions(null, null, true, "", "", null, null, null);
    }

    public ChatOptions withTools(List<Map<String, Object>> t) {
        return new ChatOptions(t, documents, addGenerationPrompt, bosToken, eosToken, kwargs, limits, clock);
    }

    public ChatOptions withDocuments(List<Map<String, Object>> d) {
        return new ChatOptions(tools, d, addGenerationPrompt, bosToken, eosToken, kwargs, limits, clock);
    }

    public ChatOptions withAddGenerationPrompt(boolean b) {
        return new ChatOptions(tools, documents, b, bosToken, eosToken, kwargs, limits, clock);
    }

    public ChatOptions withSpecialTokens(String bos, String eos) {
        return new ChatOptions(tools, documents, addGenerationPrompt, bos, eos, kwargs, limits, clock);
    }

    public ChatOptions withKwargs(Map<String, Object> k) {
        return new ChatOptions(tools, documents, addGenerationPrompt, bosToken, eosToken, k, limits, clock);
    }

    public ChatOptions withLimits(TemplateLimits l) {
        return new ChatOptions(tools, documents, addGenerationPrompt, bosToken, eosToken, kwargs, l, clock);
    }

    public ChatOptions withClock(Clock c) {
        return new ChatOptions(tools, documents, addGenerationPrompt, bosToken, eosToken, kwargs, limits, c);
    }
}
