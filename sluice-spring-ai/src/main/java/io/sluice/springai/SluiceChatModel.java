package io.sluice.springai;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.sluice.chat.ChatFormat;
import io.sluice.chat.ChatMessage;
import io.sluice.chat.ChatPrompt;
import io.sluice.chat.ToolCall;
import io.sluice.chat.ToolChoice;
import io.sluice.chat.output.ChatOutput;
import io.sluice.chat.output.OutputDelta;
import io.sluice.engine.EngineConfig;
import io.sluice.engine.GenerationEvent;
import io.sluice.engine.GenerationHandle;
import io.sluice.engine.GenerationRequest;
import io.sluice.engine.LlmEngine;
import io.sluice.engine.SamplingParams;
import io.sluice.grammar.GrammarCache;
import io.sluice.model.Model;
import io.sluice.template.TemplateException;
import org.springframework.ai.chat.messages.AssistantMessage;
import org.springframework.ai.chat.messages.Message;
import org.springframework.ai.chat.messages.ToolResponseMessage;
import org.springframework.ai.chat.metadata.ChatGenerationMetadata;
import org.springframework.ai.chat.metadata.ChatResponseMetadata;
import org.springframework.ai.chat.metadata.DefaultUsage;
import org.springframework.ai.chat.model.ChatModel;
import org.springframework.ai.chat.model.ChatResponse;
import org.springframework.ai.chat.model.Generation;
import org.springframework.ai.chat.prompt.ChatOptions;
import org.springframework.ai.chat.prompt.Prompt;
import org.springframework.ai.tool.ToolCallback;
import org.springframework.ai.tool.definition.ToolDefinition;
import reactor.core.publisher.Flux;
import reactor.core.publisher.FluxSink;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

/**
 * A Spring AI {@link ChatModel} answered by a GGUF model in this JVM: {@link #call} blocks for the whole
 * answer, {@link #stream} emits one ChatResponse per piece of text as the engine produces it (the last
 * one carries the finish reason, token usage and any tool calls). The model's chat template formats the
 * conversation, tools included: the options' tool callbacks are offered to the model, its calls come back
 * as the AssistantMessage's tool calls (finish reason TOOL_CALLS) and the results (ToolResponseMessage)
 * go back through the template. As every Spring AI 2 chat model, it does not run the tools itself:
 * ChatClient's ToolCallingAdvisor does, and calls the model again. {@link SluiceChatOptions} also say
 * whether a call is required, and carry a JSON Schema for structured output (a grammar makes the answer match
 * it). A reasoning model's thinking is the message's {@code reasoningContent} metadata.
 * Thread-safe; concurrent calls are batched by the engine. In a Boot application the auto-configuration
 * creates it from {@code sluice.model=...}.
 */
public final class SluiceChatModel implements ChatModel, AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Model model;
    private final LlmEngine engine;
    private final ChatFormat format;
    private final String name;
    private final SluiceChatOptions defaults;
    private final Long seed;

    /**
     * Loads {@code gguf} and starts its engine; close() releases both.
     *
     * @param chatTemplate a Jinja chat template to use instead of the model's (null: the model's)
     * @throws IllegalArgumentException when the given template does not work
     */
    public SluiceChatModel(Path gguf, EngineConfig config, ChatOptions defaults, Long seed, String chatTemplate) {
        Model m = Model.load(gguf);
        try {
            // the format before the engine starts, so a template that does not work leaves nothing running
            this.format = ChatFormat.of(ChatPrompt.of(m, chatTemplate).template(), m.tokenizer(), new GrammarCache(m.tokenizer(), 32));
            this.engine = new LlmEngine(m, config);
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
        this.model = m;
        this.name = gguf.getFileName().toString();
        this.defaults = SluiceChatOptions.from(defaults);
        this.seed = seed;
    }

    public SluiceChatModel(Path gguf, EngineConfig config, ChatOptions defaults, Long seed) {
        this(gguf, config, defaults, seed, null);
    }

    public SluiceChatModel(Path gguf) {
        this(gguf, EngineConfig.defaults(), null, null, null);
    }

    /** A request ready for the engine, and how its answer is read. */
    private record Prepared(GenerationRequest request, ChatFormat.Prepared chat) {
    }

    @Override
    public ChatResponse call(Prompt p) {
        Prepared prep = request(p);
        ChatFormat.Reader reader = prep.chat().reader();
        CompletableFuture<GenerationEvent.Finished> done = new CompletableFuture<>();
        GenerationHandle h = engine.submit(prep.request(), ev -> {
            switch (ev) {
                case GenerationEvent.Token t -> reader.push(t);
                case GenerationEvent.Finished f -> done.complete(f);
            }
        });
        try {
            GenerationEvent.Finished f = done.get(); // before reading the text: it is complete only then
            reader.finish();
            ChatOutput out = reader.output();
            return response(out.content(), out.reasoning(), out.calls(), f);
        } catch (InterruptedException e) {
            h.cancel();
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while generating", e);
        } catch (ExecutionException e) {
            throw new IllegalStateException(e.getCause());
        }
    }

    @Override
    public Flux<ChatResponse> stream(Prompt p) {
        return Flux.create(sink -> {
            Prepared prep;
            try {
                prep = request(p);
            } catch (RuntimeException e) {
                sink.error(e);
                return;
            }
            ChatFormat.Reader reader = prep.chat().reader();
            // The engine thread only hands events over; the sink buffers them for a slow subscriber.
            GenerationHandle h = engine.submit(prep.request(), ev -> emit(sink, reader, ev));
            sink.onDispose(h::cancel); // a subscriber that goes away stops the generation
        }, FluxSink.OverflowStrategy.BUFFER);
    }

    /** Text and reasoning as they come; the calls (complete only at the end) in the last response. */
    private void emit(FluxSink<ChatResponse> sink, ChatFormat.Reader reader, GenerationEvent ev) {
        switch (ev) {
            case GenerationEvent.Token t -> pieces(sink, reader.push(t));
            case GenerationEvent.Finished f -> {
                try {
                    pieces(sink, reader.finish());
                    sink.next(response("", null, reader.output().calls(), f));
                    sink.complete();
                } catch (RuntimeException e) {
                    sink.error(e);
                }
            }
        }
    }

    private static void pieces(FluxSink<ChatResponse> sink, List<OutputDelta> ds) {
        for (OutputDelta d : ds) {
            switch (d) {
                case OutputDelta.Content c -> {
                    if (!c.text().isEmpty()) sink.next(new ChatResponse(List.of(new Generation(new AssistantMessage(c.text())))));
                }
                case OutputDelta.Reasoning r -> {
                    if (!r.text().isEmpty()) {
                        sink.next(new ChatResponse(List.of(new Generation(AssistantMessage.builder().content("")
                                .properties(Map.of("reasoningContent", r.text())).build()))));
                    }
                }
                case OutputDelta.Call c -> {
                } // in the last response
            }
        }
    }

    private ChatResponse response(String text, String reasoning, List<OutputDelta.Call> calls, GenerationEvent.Finished f) {
        String finish = switch (f.reason()) {
            case STOP -> calls.isEmpty() ? "STOP" : "TOOL_CALLS";
            case LENGTH -> "LENGTH";
            case CANCELLED -> "CANCELLED";
            case ERROR -> throw new IllegalStateException("the Sluice engine failed the request: " + f.message());
        };
        var u = f.usage();
        ChatResponseMetadata meta = ChatResponseMetadata.builder().model(name)
                .usage(u == null ? new DefaultUsage(0, 0) : new DefaultUsage(u.promptTokens(), u.completionTokens())).build();
        List<AssistantMessage.ToolCall> toolCalls = new ArrayList<>();
        for (OutputDelta.Call c : calls) toolCalls.add(new AssistantMessage.ToolCall(c.id(), "function", c.name(), c.arguments()));
        Map<String, Object> props = new HashMap<>();
        if (reasoning != null) props.put("reasoningContent", reasoning);
        AssistantMessage msg = AssistantMessage.builder().content(text == null ? "" : text).toolCalls(toolCalls).properties(props).build();
        return new ChatResponse(List.of(new Generation(msg, ChatGenerationMetadata.builder().finishReason(finish).build())), meta);
    }

    private Prepared request(Prompt p) {
        SluiceChatOptions o = p.getOptions() != null ? SluiceChatOptions.from(p.getOptions()) : defaults;
        List<ChatMessage> msgs = messages(p.getInstructions());
        List<Map<String, Object>> tools = tools(o.getToolCallbacks().isEmpty() ? defaults.getToolCallbacks() : o.getToolCallbacks());
        Boolean parallel = o.getParallelToolCalls() != null ? o.getParallelToolCalls() : defaults.getParallelToolCalls();
        ToolChoice choice = toolChoice(o.getToolChoice() != null ? o.getToolChoice() : defaults.getToolChoice(), parallel == null || parallel, tools, msgs);
        String schemaText = o.getOutputSchema() != null ? o.getOutputSchema() : defaults.getOutputSchema();
        JsonNode schema = null;
        if (schemaText != null) {
            try {
                schema = JSON.readTree(schemaText);
            } catch (JsonProcessingException e) {
                throw new IllegalArgumentException("the output schema is not JSON: " + e.getOriginalMessage(), e);
            }
        }
        ChatFormat.Prepared chat;
        try {
            chat = format.prepare(msgs, tools, choice, schema != null, schema);
        } catch (TemplateException e) {
            throw new IllegalArgumentException("the model's chat template failed on these messages: " + e.getMessage(), e);
        }
        int[] ids = chat.tokens();
        int room = engine.contextLength() - ids.length;
        if (room <= 0) throw new IllegalArgumentException("the prompt takes " + ids.length + " tokens; the model's context holds " + engine.contextLength());
        Long sd = o.getSeed() != null ? o.getSeed() : defaults.getSeed() != null ? defaults.getSeed() : seed;
        SamplingParams d = SamplingParams.defaults(sd != null ? sd : System.nanoTime() & Long.MAX_VALUE);
        SamplingParams s = new SamplingParams(
                floatOr(o.getTemperature(), defaults.getTemperature(), d.temperature()),
                o.getTopK() != null ? o.getTopK() : defaults.getTopK() != null ? defaults.getTopK() : d.topK(),
                floatOr(o.getTopP(), defaults.getTopP(), d.topP()),
                d.minP(), d.repeatPenalty(),
                floatOr(o.getFrequencyPenalty(), defaults.getFrequencyPenalty(), 0f),
                floatOr(o.getPresencePenalty(), defaults.getPresencePenalty(), 0f),
                d.penaltyLastN(), d.seed(), Map.of());
        Integer max = o.getMaxTokens() != null ? o.getMaxTokens() : defaults.getMaxTokens();
        List<String> stop = o.getStopSequences() != null ? o.getStopSequences() : defaults.getStopSequences();
        return new Prepared(new GenerationRequest(ids, s, max != null && max > 0 ? Math.min(max, room) : room, stop == null ? List.of() : stop,
                false, -1, chat.grammar()), chat);
    }

    /** Spring AI's messages as the template's, tool calls and tool responses included. */
    static List<ChatMessage> messages(List<Message> in) {
        List<ChatMessage> msgs = new ArrayList<>();
        for (Message m : in) {
            switch (m) {
                case AssistantMessage a -> {
                    List<ToolCall> calls = new ArrayList<>();
                    for (AssistantMessage.ToolCall c : a.getToolCalls()) calls.add(new ToolCall(c.id(), c.name(), arguments(c.arguments())));
                    msgs.add(ChatMessage.assistant(a.getText() == null ? "" : a.getText(), calls));
                }
                case ToolResponseMessage t -> {
                    for (ToolResponseMessage.ToolResponse r : t.getResponses()) msgs.add(ChatMessage.tool(r.id(), r.name(), r.responseData()));
                }
                default -> {
                    String role = switch (m.getMessageType()) {
                        case SYSTEM -> "system";
                        case USER -> "user";
                        case ASSISTANT -> "assistant";
                        case TOOL -> "tool";
                    };
                    msgs.add(ChatMessage.of(role, m.getText() == null ? "" : m.getText()));
                }
            }
        }
        return msgs;
    }

    /** A call's arguments as templates expect them: a JSON object parsed (as Hugging Face passes them), else the text. */
    private static Object arguments(String a) {
        if (a == null || a.isBlank()) return Map.of();
        try {
            return JSON.convertValue(JSON.readTree(a), Object.class);
        } catch (JsonProcessingException e) {
            return a;
        }
    }

    /** The callbacks' definitions as OpenAI-style tools (their input schemas are JSON Schema text). */
    private static List<Map<String, Object>> tools(List<ToolCallback> callbacks) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (ToolCallback cb : callbacks) {
            ToolDefinition d = cb.getToolDefinition();
            Map<String, Object> params;
            try {
                @SuppressWarnings("unchecked")
                Map<String, Object> m = d.inputSchema() == null || d.inputSchema().isBlank() ? Map.of("type", "object")
                        : JSON.readValue(d.inputSchema(), Map.class);
                params = m;
            } catch (JsonProcessingException e) {
                throw new IllegalArgumentException("the input schema of tool " + d.name() + " is not JSON: " + e.getOriginalMessage(), e);
            }
            out.add(ChatFormat.tool(d.name(), d.description(), params));
        }
        return out;
    }

    private static ToolChoice toolChoice(String choice, boolean parallel, List<Map<String, Object>> tools, List<ChatMessage> msgs) {
        if (tools.isEmpty()) return null;
        if (choice == null) choice = SluiceChatOptions.AUTO;
        return switch (choice) {
            case SluiceChatOptions.AUTO -> ToolChoice.auto(parallel);
            case SluiceChatOptions.NONE -> null;
            case SluiceChatOptions.REQUIRED -> ToolChoice.required(parallel);
            case SluiceChatOptions.REQUIRED_FIRST -> !msgs.isEmpty() && msgs.getLast().role().equals("user") ? ToolChoice.required(parallel) : ToolChoice.auto(parallel);
            default -> ToolChoice.named(choice);
        };
    }

    /** The prompt this request renders to (tests). */
    String renderedPrompt(Prompt p) {
        return request(p).chat().prompt();
    }

    private static float floatOr(Double a, Double b, float c) {
        return a != null ? a.floatValue() : b != null ? b.floatValue() : c;
    }

    /** The defaults, as {@link SluiceChatOptions} (ChatClient adds a request's tools to a mutated copy). */
    @Override
    public ChatOptions getOptions() {
        return defaults;
    }

    @Override
    public ChatOptions getDefaultOptions() {
        return defaults;
    }

    @Override
    public void close() {
        engine.close();
        model.close();
    }
}
