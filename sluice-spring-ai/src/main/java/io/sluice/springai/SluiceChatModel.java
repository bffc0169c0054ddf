package io.sluice.springai;

import io.sluice.engine.EngineConfig;
import io.sluice.engine.GenerationEvent;
import io.sluice.engine.GenerationHandle;
import io.sluice.engine.GenerationRequest;
import io.sluice.engine.LlmEngine;
import io.sluice.engine.SamplingParams;
import io.sluice.model.Model;
import io.sluice.chat.ChatPrompt;
import org.springframework.ai.chat.messages.AssistantMessage;
import org.springframework.ai.chat.messages.Message;
import org.springframework.ai.chat.metadata.ChatGenerationMetadata;
import org.springframework.ai.chat.metadata.ChatResponseMetadata;
import org.springframework.ai.chat.metadata.DefaultUsage;
import org.springframework.ai.chat.model.ChatModel;
import org.springframework.ai.chat.model.ChatResponse;
import org.springframework.ai.chat.model.Generation;
import org.springframework.ai.chat.prompt.ChatOptions;
import org.springframework.ai.chat.prompt.Prompt;
import reactor.core.publisher.Flux;
import reactor.core.publisher.FluxSink;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

/**
 * A Spring AI {@link ChatModel} answered by a GGUF model in this JVM: {@link #call} blocks for the whole
 * answer, {@link #stream} emits one ChatResponse per piece of text as the engine produces it (the last
 * one carries the finish reason and token usage). The model's chat template formats the conversation.
 * Thread-safe; concurrent calls are batched by the engine. In a Boot application the auto-configuration
 * creates it from {@code sluice.model=...}.
 */
public final class SluiceChatModel implements ChatModel, AutoCloseable {
    private final Model model;
    private final LlmEngine engine;
    private final ChatPrompt prompt;
    private final String name;
    private final ChatOptions defaults;
    private final Long seed;

    /** Loads {@code gguf} and starts its engine; close() releases both. */
    public SluiceChatModel(Path gguf, EngineConfig config, ChatOptions defaults, Long seed) {
        Model m = Model.load(gguf);
        try {
            this.engine = new LlmEngine(m, config);
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
        this.model = m;
        this.prompt = ChatPrompt.of(m, null);
        this.name = gguf.getFileName().toString();
        this.defaults = defaults != null ? defaults : ChatOptions.builder().build();
        this.seed = seed;
    }

    public SluiceChatModel(Path gguf) {
        this(gguf, EngineConfig.defaults(), null, null);
    }

    @Override
    public ChatResponse call(Prompt p) {
        StringBuilder text = new StringBuilder();
        CompletableFuture<GenerationEvent.Finished> done = new CompletableFuture<>();
        GenerationRequest req = request(p);
        GenerationHandle h = engine.submit(req, ev -> {
            switch (ev) {
                case GenerationEvent.Token t -> text.append(t.text());
                case GenerationEvent.Finished f -> done.complete(f);
            }
        });
        try {
            GenerationEvent.Finished f = done.get(); // before reading the text: it is complete only then
            return response(text.toString(), f);
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
            GenerationRequest req;
            try {
                req = request(p);
            } catch (RuntimeException e) {
                sink.error(e);
                return;
            }
            // The engine thread only hands events over; the sink buffers them for a slow subscriber.
            GenerationHandle h = engine.submit(req, ev -> emit(sink, ev));
            sink.onDispose(h::cancel); // a subscriber that goes away stops the generation
        }, FluxSink.OverflowStrategy.BUFFER);
    }

    private void emit(FluxSink<ChatResponse> sink, GenerationEvent ev) {
        switch (ev) {
            case GenerationEvent.Token t -> {
                if (!t.text().isEmpty()) sink.next(new ChatResponse(List.of(new Generation(new AssistantMessage(t.text())))));
            }
            case GenerationEvent.Finished f -> {
                try {
                    sink.next(response("", f));
                    sink.complete();
                } catch (RuntimeException e) {
                    sink.error(e);
                }
            }
        }
    }

    private ChatResponse response(String text, GenerationEvent.Finished f) {
        String finish = switch (f.reason()) {
            case STOP -> "STOP";
            case LENGTH -> "LENGTH";
            case CANCELLED -> "CANCELLED";
            case ERROR -> throw new IllegalStateException("the Sluice engine failed the request: " + f.message());
        };
        var u = f.usage();
        ChatResponseMetadata meta = ChatResponseMetadata.builder().model(name)
                .usage(u == null ? new DefaultUsage(0, 0) : new DefaultUsage(u.promptTokens(), u.completionTokens())).build();
        return new ChatResponse(List.of(new Generation(new AssistantMessage(text), ChatGenerationMetadata.builder().finishReason(finish).build())), meta);
    }

    private GenerationRequest request(Prompt p) {
        List<ChatPrompt.Message> msgs = new ArrayList<>();
        for (Message m : p.getInstructions()) {
            String role = switch (m.getMessageType()) {
                case SYSTEM -> "system";
                case USER -> "user";
                case ASSISTANT -> "assistant";
                case TOOL -> "tool";
            };
            msgs.add(new ChatPrompt.Message(role, m.getText() == null ? "" : m.getText()));
        }
        int[] ids = prompt.tokens(msgs);
        int room = engine.contextLength() - ids.length;
        if (room <= 0) throw new IllegalArgumentException("the prompt takes " + ids.length + " tokens; the model's context holds " + engine.contextLength());
        ChatOptions o = p.getOptions() != null ? p.getOptions() : defaults;
        SamplingParams d = SamplingParams.defaults(seed != null ? seed : System.nanoTime() & Long.MAX_VALUE);
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
        return new GenerationRequest(ids, s, max != null && max > 0 ? Math.min(max, room) : room, stop == null ? List.of() : stop, false, -1);
    }

    private static float floatOr(Double a, Double b, float c) {
        return a != null ? a.floatValue() : b != null ? b.floatValue() : c;
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
