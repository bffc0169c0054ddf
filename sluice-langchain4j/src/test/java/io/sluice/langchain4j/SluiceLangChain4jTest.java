package io.sluice.langchain4j;

import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.exception.UnsupportedFeatureException;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.output.FinishReason;
import io.sluice.Fixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The LangChain4j models on stories260K in-process: blocking and streaming give the same greedy answer. */
@Timeout(120)
class SluiceLangChain4jTest {
    static SluiceModel model;

    @BeforeAll
    static void load() {
        model = SluiceModel.load(Fixtures.model("stories260K.gguf"));
    }

    @AfterAll
    static void close() {
        if (model != null) model.close();
    }

    static ChatRequest story(int maxTokens) {
        return ChatRequest.builder()
                .messages(SystemMessage.from("You tell stories."), UserMessage.from("Once upon a time"), AiMessage.from("there was a cat."),
                        UserMessage.from("What happened next?"))
                .temperature(0.0).maxOutputTokens(maxTokens).build();
    }

    @Test
    void chatModelAnswersWithUsageAndFinishReason() {
        SluiceChatModel chat = SluiceChatModel.builder().model(model).build();
        ChatResponse r = chat.chat(story(24));
        String text = r.aiMessage().text();
        assertFalse(text.isBlank(), "an answer");
        assertEquals(FinishReason.LENGTH, r.finishReason(), "24 tokens were all it could have");
        assertEquals(24, r.tokenUsage().outputTokenCount());
        assertTrue(r.tokenUsage().inputTokenCount() > 20, "system + three turns through the chat template: " + r.tokenUsage());
        assertEquals("stories260K.gguf", r.modelName());
        assertEquals(text, chat.chat(story(24)).aiMessage().text(), "greedy: the same answer again");
        assertFalse(chat.chat("Hello").isBlank(), "the one-string convenience works too");
    }

    @Test
    void streamingModelStreamsTheSameAnswer() throws Exception {
        String blocking = SluiceChatModel.builder().model(model).build().chat(story(32)).aiMessage().text();
        SluiceStreamingChatModel streaming = SluiceStreamingChatModel.builder().model(model).build();
        List<String> parts = new CopyOnWriteArrayList<>();
        CompletableFuture<ChatResponse> done = new CompletableFuture<>();
        streaming.chat(story(32), new StreamingChatResponseHandler() {
            @Override
            public void onPartialResponse(String partial) {
                parts.add(partial);
            }

            @Override
            public void onCompleteResponse(ChatResponse r) {
                done.complete(r);
            }

            @Override
            public void onError(Throwable t) {
                done.completeExceptionally(t);
            }
        });
        ChatResponse r = done.get(60, TimeUnit.SECONDS);
        assertTrue(parts.size() > 5, "many pieces, not one: " + parts.size());
        assertEquals(blocking, String.join("", parts), "the pieces make the blocking answer");
        assertEquals(blocking, r.aiMessage().text());
        assertEquals(32, r.tokenUsage().outputTokenCount());
    }

    @Test
    void stopSequencesDefaultsAndUnsupportedFeatures() throws Exception {
        SluiceChatModel chat = SluiceChatModel.builder().model(model).temperature(0).maxTokens(40).build();
        String full = chat.chat(story(40)).aiMessage().text();
        String word = full.strip().split("\\s+")[Math.min(3, full.strip().split("\\s+").length - 1)];
        ChatResponse stopped = chat.chat(ChatRequest.builder().messages(story(40).messages()).stopSequences(List.of(word)).temperature(0.0).build());
        assertEquals(FinishReason.STOP, stopped.finishReason());
        assertFalse(stopped.aiMessage().text().contains(word), "the stop string is not emitted");
        assertTrue(full.startsWith(stopped.aiMessage().text()), "and the text before it is the same");
        ChatResponse capped = SluiceChatModel.builder().model(model).temperature(0).maxTokens(7).build()
                .chat(ChatRequest.builder().messages(UserMessage.from("Once upon a time")).build());
        assertEquals(7, capped.tokenUsage().outputTokenCount(), "the builder's maxTokens applies when the request has none");

        ChatRequest withImage = ChatRequest.builder().messages(UserMessage.from(dev.langchain4j.data.message.ImageContent.from("https://example.com/cat.png"))).build();
        assertThrows(UnsupportedFeatureException.class, () -> chat.chat(withImage));
        CompletableFuture<Throwable> err = new CompletableFuture<>();
        SluiceStreamingChatModel.builder().model(model).build().chat(withImage, new StreamingChatResponseHandler() {
            public void onCompleteResponse(ChatResponse r) {
                err.complete(null);
            }

            public void onError(Throwable t) {
                err.complete(t);
            }
        });
        assertTrue(err.get(10, TimeUnit.SECONDS) instanceof UnsupportedFeatureException, "streaming reports it through onError");
        assertThrows(IllegalStateException.class, () -> SluiceChatModel.builder().build(), "a model is required");
    }
}
