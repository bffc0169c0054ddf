package io.sluice.langchain4j;

import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.ChatMessage;
import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.ToolExecutionResultMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.exception.UnsupportedFeatureException;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.output.FinishReason;
import dev.langchain4j.model.output.TokenUsage;
import io.sluice.engine.GenerationEvent;
import io.sluice.engine.GenerationRequest;
import io.sluice.engine.SamplingParams;
import io.sluice.engine.Usage;
import io.sluice.chat.ChatPrompt;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** LangChain4j requests to engine requests and engine results back, for both chat models. */
final class Requests {
    private Requests() {
    }

    static GenerationRequest toEngine(SluiceModel m, ChatRequest request, ChatRequestParameters defaults, Long seed) {
        ChatRequestParameters p = request.parameters() == null ? defaults : request.parameters().defaultedBy(defaults);
        if (p.toolSpecifications() != null && !p.toolSpecifications().isEmpty()) {
            throw new UnsupportedFeatureException("tool calling is not supported by the embedded Sluice model yet");
        }
        if (p.responseFormat() != null && p.responseFormat().type() != dev.langchain4j.model.chat.request.ResponseFormatType.TEXT) {
            throw new UnsupportedFeatureException("JSON response formats are not supported by the embedded Sluice model yet");
        }
        int[] prompt = m.prompt().tokens(messages(request.messages()));
        int room = m.contextLength() - prompt.length;
        if (room <= 0) {
            throw new IllegalArgumentException("the conversation takes " + prompt.length + " tokens; the model's context holds " + m.contextLength());
        }
        SamplingParams d = SamplingParams.defaults(seed != null ? seed : System.nanoTime() & Long.MAX_VALUE);
        SamplingParams s = new SamplingParams(
                p.temperature() != null ? p.temperature().floatValue() : d.temperature(),
                p.topK() != null ? p.topK() : d.topK(),
                p.topP() != null ? p.topP().floatValue() : d.topP(),
                d.minP(), d.repeatPenalty(),
                p.frequencyPenalty() != null ? p.frequencyPenalty().floatValue() : 0f,
                p.presencePenalty() != null ? p.presencePenalty().floatValue() : 0f,
                d.penaltyLastN(), d.seed(), Map.of());
        int max = p.maxOutputTokens() != null && p.maxOutputTokens() > 0 ? Math.min(p.maxOutputTokens(), room) : room;
        return new GenerationRequest(prompt, s, max, p.stopSequences() == null ? List.of() : p.stopSequences(), false, -1);
    }

    /** LangChain4j messages as chat-template messages (role + text). */
    static List<ChatPrompt.Message> messages(List<ChatMessage> in) {
        List<ChatPrompt.Message> out = new ArrayList<>();
        for (ChatMessage msg : in) {
            switch (msg) {
                case SystemMessage s -> out.add(new ChatPrompt.Message("system", s.text()));
                case UserMessage u -> {
                    if (!u.hasSingleText()) throw new UnsupportedFeatureException("only text user messages are supported (no images or audio)");
                    out.add(new ChatPrompt.Message("user", u.singleText()));
                }
                case AiMessage a -> out.add(new ChatPrompt.Message("assistant", a.text() == null ? "" : a.text()));
                case ToolExecutionResultMessage t -> out.add(new ChatPrompt.Message("tool", t.text()));
                default -> throw new UnsupportedFeatureException("message type " + msg.type() + " is not supported");
            }
        }
        return out;
    }

    /** The engine's finish reason in LangChain4j's terms; an engine failure becomes an exception. */
    static FinishReason finishReason(GenerationEvent.Finished f) {
        return switch (f.reason()) {
            case STOP -> FinishReason.STOP;
            case LENGTH -> FinishReason.LENGTH;
            case CANCELLED -> FinishReason.OTHER;
            case ERROR -> throw new IllegalStateException("the Sluice engine failed the request: " + f.message());
        };
    }

    static TokenUsage usage(Usage u) {
        return u == null ? null : new TokenUsage(u.promptTokens(), u.completionTokens());
    }
}
