package io.sluice.langchain4j;

import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.model.ModelProvider;
import dev.langchain4j.model.chat.StreamingChatModel;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import io.sluice.engine.GenerationEvent;

import java.util.concurrent.LinkedBlockingQueue;

/**
 * A LangChain4j {@link StreamingChatModel} on a GGUF model in this JVM: each piece of text goes to
 * {@link StreamingChatResponseHandler#onPartialResponse} as the engine produces it, then
 * {@code onCompleteResponse} with the whole message and token usage. The handler runs on a virtual
 * thread of its own per request, never on the engine's thread, so a slow handler delays only its own chat.
 */
public final class SluiceStreamingChatModel implements StreamingChatModel, AutoCloseable {
    private final SluiceModel model;
    private final boolean ownsModel;
    private final ChatRequestParameters defaults;
    private final Long seed;

    private SluiceStreamingChatModel(Builder b) {
        this.ownsModel = b.model == null;
        this.model = b.model != null ? b.model : SluiceModel.load(b.requirePath());
        this.defaults = b.parameters(model.name());
        this.seed = b.seed;
    }

    public static Builder builder() {
        return new Builder();
    }

    @Override
    public void doChat(ChatRequest request, StreamingChatResponseHandler handler) {
        LinkedBlockingQueue<GenerationEvent> events = new LinkedBlockingQueue<>();
        try {
            model.engine().submit(Requests.toEngine(model, request, defaults, seed), events::add);
        } catch (RuntimeException e) {
            handler.onError(e);
            return;
        }
        Thread.ofVirtual().name("sluice-stream").start(() -> {
            StringBuilder text = new StringBuilder();
            try {
                while (true) {
                    GenerationEvent ev = events.take();
                    if (ev instanceof GenerationEvent.Token t) {
                        if (t.text().isEmpty()) continue; // mid-character, or text held back while a stop string may form
                        text.append(t.text());
                        handler.onPartialResponse(t.text());
                    } else {
                        GenerationEvent.Finished f = (GenerationEvent.Finished) ev;
                        handler.onCompleteResponse(ChatResponse.builder()
                                .aiMessage(AiMessage.from(text.toString()))
                                .finishReason(Requests.finishReason(f))
                                .tokenUsage(Requests.usage(f.usage()))
                                .modelName(model.name())
                                .build());
                        return;
                    }
                }
            } catch (InterruptedException e) {
                handler.onError(e);
            } catch (RuntimeException e) {
                handler.onError(e);
            }
        });
    }

    @Override
    public ChatRequestParameters defaultRequestParameters() {
        return defaults;
    }

    @Override
    public ModelProvider provider() {
        return ModelProvider.OTHER;
    }

    @Override
    public void close() {
        if (ownsModel) model.close();
    }

    public static final class Builder extends ModelBuilder<Builder> {
        public SluiceStreamingChatModel build() {
            return new SluiceStreamingChatModel(this);
        }
    }
}
