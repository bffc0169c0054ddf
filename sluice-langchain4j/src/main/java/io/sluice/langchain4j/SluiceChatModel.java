package io.sluice.langchain4j;

import dev.langchain4j.model.ModelProvider;
import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.response.ChatResponse;
import io.sluice.chat.ChatFormat;
import io.sluice.engine.GenerationEvent;
import io.sluice.engine.GenerationHandle;

import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

/**
 * A LangChain4j {@link ChatModel} answered by a GGUF model in this JVM (no server, no HTTP), as
 * langchain4j-jlama does for Jlama:
 * <pre>{@code
 * try (SluiceChatModel model = SluiceChatModel.builder().modelPath(Path.of("model.gguf")).temperature(0.7).build()) {
 *     String answer = model.chat("Why is the sky blue?");
 * }
 * }</pre>
 * The model's own chat template formats the conversation, tools and their calls and results included: a
 * request's {@code toolSpecifications} are offered to the model ({@code toolChoice} REQUIRED forces a call whose
 * arguments match the tool's parameters, by grammar), the calls come back as the AiMessage's tool execution
 * requests (finish reason TOOL_EXECUTION), and a JSON {@code responseFormat}, with or without a schema, constrains
 * the answer likewise. A reasoning model's thinking is the AiMessage's {@code thinking}.
 * Thread-safe: concurrent calls are batched by the engine.
 */
public final class SluiceChatModel implements ChatModel, AutoCloseable {
    private final ChatSetup setup;

    private SluiceChatModel(Builder b) {
        this.setup = ChatSetup.of(b);
    }

    public static Builder builder() {
        return new Builder();
    }

    @Override
    public ChatResponse doChat(ChatRequest request) {
        Requests.Prepared prepared = setup.prepare(request);
        ChatFormat.Reader reader = prepared.chat().reader();
        CompletableFuture<GenerationEvent.Finished> done = new CompletableFuture<>();
        GenerationHandle h = setup.model().engine().submit(prepared.request(), ev -> {
            switch (ev) {
                case GenerationEvent.Token t -> reader.push(t);
                case GenerationEvent.Finished f -> done.complete(f);
            }
        });
        GenerationEvent.Finished f;
        try {
            f = done.get();
        } catch (InterruptedException e) {
            h.cancel();
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while generating", e);
        } catch (ExecutionException e) {
            throw new IllegalStateException(e.getCause());
        }
        reader.finish();
        return setup.response(reader.output(), f);
    }

    @Override
    public ChatRequestParameters defaultRequestParameters() {
        return setup.defaults();
    }

    @Override
    public ModelProvider provider() {
        return ModelProvider.OTHER;
    }

    /** Closes the model if this chat model loaded it (from {@link Builder#modelPath}). */
    @Override
    public void close() {
        setup.close();
    }

    /** Sampling defaults for every request (a request's own parameters win); unset values are llama.cpp's defaults. */
    public static final class Builder extends ModelBuilder<Builder> {
        public SluiceChatModel build() {
            return new SluiceChatModel(this);
        }
    }
}
