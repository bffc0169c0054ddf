package io.sluice.langchain4j;

import dev.langchain4j.model.ModelProvider;
import dev.langchain4j.model.chat.StreamingChatModel;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.chat.response.CompleteToolCall;
import dev.langchain4j.model.chat.response.PartialThinking;
import dev.langchain4j.model.chat.response.PartialToolCall;
import io.sluice.chat.ChatFormat;
import io.sluice.chat.output.OutputDelta;
import io.sluice.engine.GenerationEvent;

import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * A LangChain4j {@link StreamingChatModel} on a GGUF model in this JVM: each piece of text goes to
 * {@link StreamingChatResponseHandler#onPartialResponse} as the engine produces it, then
 * {@code onCompleteResponse} with the whole message and token usage. Tools and JSON answers work as in
 * {@link SluiceChatModel}; reasoning streams to {@code onPartialThinking}, and each tool call, once the model has
 * written it whole, goes to {@code onPartialToolCall} (all its arguments at once) and {@code onCompleteToolCall}. The handler runs on a virtual
 * thread of its own per request, never on the engine's thread, so a slow handler delays only its own chat.
 */
public final class SluiceStreamingChatModel implements StreamingChatModel, AutoCloseable {
    private final ChatSetup setup;

    private SluiceStreamingChatModel(Builder b) {
        this.setup = ChatSetup.of(b);
    }

    public static Builder builder() {
        return new Builder();
    }

    @Override
    public void doChat(ChatRequest request, StreamingChatResponseHandler handler) {
        LinkedBlockingQueue<GenerationEvent> events = new LinkedBlockingQueue<>();
        Requests.Prepared prepared;
        try {
            prepared = setup.prepare(request);
            setup.model().engine().submit(prepared.request(), events::add);
        } catch (RuntimeException e) {
            handler.onError(e);
            return;
        }
        ChatFormat.Reader reader = prepared.chat().reader();
        Thread.ofVirtual().name("sluice-stream").start(() -> {
            try {
                while (true) {
                    GenerationEvent ev = events.take();
                    if (ev instanceof GenerationEvent.Token t) {
                        deliver(reader.push(t), handler);
                    } else {
                        GenerationEvent.Finished f = (GenerationEvent.Finished) ev;
                        deliver(reader.finish(), handler);
                        handler.onCompleteResponse(setup.response(reader.output(), f));
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

    /** Text as partial responses, reasoning as partial thinking, each call (once complete) as a partial then a complete tool call. */
    private static void deliver(List<OutputDelta> deltas, StreamingChatResponseHandler handler) {
        for (OutputDelta d : deltas) {
            switch (d) {
                case OutputDelta.Content c -> {
                    if (!c.text().isEmpty()) handler.onPartialResponse(c.text()); // empty: mid-character, or held back while a stop string may form
                }
                case OutputDelta.Reasoning r -> {
                    if (!r.text().isEmpty()) handler.onPartialThinking(new PartialThinking(r.text()));
                }
                case OutputDelta.Call c -> {
                    handler.onPartialToolCall(PartialToolCall.builder().index(c.index()).id(c.id()).name(c.name()).partialArguments(c.arguments()).build());
                    handler.onCompleteToolCall(new CompleteToolCall(c.index(), Requests.request(c)));
                }
            }
        }
    }

    @Override
    public ChatRequestParameters defaultRequestParameters() {
        return setup.defaults();
    }

    @Override
    public ModelProvider provider() {
        return ModelProvider.OTHER;
    }

    @Override
    public void close() {
        setup.close();
    }

    public static final class Builder extends ModelBuilder<Builder> {
        public SluiceStreamingChatModel build() {
            return new SluiceStreamingChatModel(this);
        }
    }
}
