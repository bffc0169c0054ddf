package io.sluice.langchain4j;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.langchain4j.agent.tool.ToolExecutionRequest;
import dev.langchain4j.agent.tool.ToolSpecification;
import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.ChatMessage;
import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.ToolExecutionResultMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.exception.UnsupportedFeatureException;
import dev.langchain4j.internal.JsonSchemaElementUtils;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.request.ResponseFormat;
import dev.langchain4j.model.chat.request.ResponseFormatType;
import dev.langchain4j.model.output.FinishReason;
import dev.langchain4j.model.output.TokenUsage;
import io.sluice.chat.ChatFormat;
import io.sluice.chat.ToolCall;
import io.sluice.chat.ToolChoice;
import io.sluice.chat.output.ChatOutput;
import io.sluice.chat.output.OutputDelta;
import io.sluice.engine.GenerationEvent;
import io.sluice.engine.GenerationRequest;
import io.sluice.engine.SamplingParams;
import io.sluice.engine.Usage;
import io.sluice.template.TemplateException;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** LangChain4j requests to engine requests and engine results back, for both chat models. */
final class Requests {
    private static final ObjectMapper JSON = new ObjectMapper();

    private Requests() {
    }

    /** A request ready for the engine, and how its answer is read. */
    record Prepared(GenerationRequest request, ChatFormat.Prepared chat) {
    }

    static Prepared toEngine(SluiceModel m, ChatRequest request, ChatRequestParameters defaults, Long seed, boolean parallel) {
        ChatRequestParameters p = request.parameters() == null ? defaults : request.parameters().defaultedBy(defaults);
        List<Map<String, Object>> tools = tools(p.toolSpecifications());
        ToolChoice choice = tools.isEmpty() || p.toolChoice() == dev.langchain4j.model.chat.request.ToolChoice.NONE ? null
                : p.toolChoice() == dev.langchain4j.model.chat.request.ToolChoice.REQUIRED ? ToolChoice.required(parallel) : ToolChoice.auto(parallel);
        ResponseFormat rf = p.responseFormat();
        boolean json = rf != null && rf.type() == ResponseFormatType.JSON;
        JsonNode schema = json && rf.jsonSchema() != null && rf.jsonSchema().rootElement() != null
                ? JSON.valueToTree(JsonSchemaElementUtils.toMap(rf.jsonSchema().rootElement())) : null;
        ChatFormat.Prepared chat;
        try {
            chat = m.format().prepare(messages(request.messages()), tools, choice, json, schema);
        } catch (TemplateException e) {
            throw new IllegalArgumentException("the model's chat template failed on these messages: " + e.getMessage(), e);
        }
        int[] prompt = chat.tokens();
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
        return new Prepared(new GenerationRequest(prompt, s, max, p.stopSequences() == null ? List.of() : p.stopSequences(), false, -1, chat.grammar()), chat);
    }

    /** LangChain4j tool specifications as OpenAI-style definitions (what templates and the call formats read). */
    static List<Map<String, Object>> tools(List<ToolSpecification> specs) {
        List<Map<String, Object>> out = new ArrayList<>();
        if (specs == null) return out;
        for (ToolSpecification t : specs) {
            Map<String, Object> params;
            if (t.parameters() != null) {
                params = JsonSchemaElementUtils.toMap(t.parameters());
            } else {
                params = new LinkedHashMap<>();
                params.put("type", "object");
                params.put("properties", Map.of());
            }
            out.add(ChatFormat.tool(t.name(), t.description(), params));
        }
        return out;
    }

    /** LangChain4j messages as chat-template messages, tool requests and results included. */
    static List<io.sluice.chat.ChatMessage> messages(List<ChatMessage> in) {
        List<io.sluice.chat.ChatMessage> out = new ArrayList<>();
        for (ChatMessage msg : in) {
            switch (msg) {
                case SystemMessage s -> out.add(io.sluice.chat.ChatMessage.system(s.text()));
                case UserMessage u -> {
                    if (!u.hasSingleText()) throw new UnsupportedFeatureException("only text user messages are supported (no images or audio)");
                    out.add(io.sluice.chat.ChatMessage.user(u.singleText()));
                }
                case AiMessage a -> {
                    List<ToolCall> calls = new ArrayList<>();
                    if (a.hasToolExecutionRequests()) {
                        for (ToolExecutionRequest r : a.toolExecutionRequests()) calls.add(new ToolCall(r.id(), r.name(), arguments(r.arguments())));
                    }
                    // absent text is "" (as the server passes it), so templates that concatenate it do not fail on None
                    out.add(io.sluice.chat.ChatMessage.assistant(a.text() == null ? "" : a.text(), calls));
                }
                case ToolExecutionResultMessage t -> out.add(io.sluice.chat.ChatMessage.tool(t.id(), t.toolName(), t.text()));
                default -> throw new UnsupportedFeatureException("message type " + msg.type() + " is not supported");
            }
        }
        return out;
    }

    /** A call's arguments as templates expect them: a JSON object parsed (as Hugging Face passes them), else the text. */
    static Object arguments(String a) {
        if (a == null || a.isBlank()) return Map.of();
        try {
            return JSON.convertValue(JSON.readTree(a), Object.class);
        } catch (JsonProcessingException e) {
            return a;
        }
    }

    static ToolExecutionRequest request(OutputDelta.Call c) {
        return ToolExecutionRequest.builder().id(c.id()).name(c.name()).arguments(c.arguments()).build();
    }

    /** The whole answer as LangChain4j's message: text, thinking, tool execution requests. */
    static AiMessage aiMessage(ChatOutput out) {
        List<ToolExecutionRequest> calls = new ArrayList<>();
        for (OutputDelta.Call c : out.calls()) calls.add(request(c));
        AiMessage.Builder b = AiMessage.builder().text(out.content()).thinking(out.reasoning());
        if (!calls.isEmpty()) b.toolExecutionRequests(calls);
        return b.build();
    }

    /** The engine's finish reason in LangChain4j's terms; an engine failure becomes an exception. */
    static FinishReason finishReason(GenerationEvent.Finished f, ChatOutput out) {
        return switch (f.reason()) {
            case STOP -> out.calls().isEmpty() ? FinishReason.STOP : FinishReason.TOOL_EXECUTION;
            case LENGTH -> FinishReason.LENGTH;
            case CANCELLED -> FinishReason.OTHER;
            case ERROR -> throw new IllegalStateException("the Sluice engine failed the request: " + f.message());
        };
    }

    static TokenUsage usage(Usage u) {
        return u == null ? null : new TokenUsage(u.promptTokens(), u.completionTokens());
    }
}
