package io.sluice.springai;

import io.sluice.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.ai.chat.messages.AssistantMessage;
import org.springframework.ai.chat.messages.SystemMessage;
import org.springframework.ai.chat.messages.UserMessage;
import org.springframework.ai.chat.model.ChatModel;
import org.springframework.ai.chat.model.ChatResponse;
import org.springframework.ai.chat.prompt.ChatOptions;
import org.springframework.ai.chat.prompt.Prompt;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The Spring AI ChatModel on stories260K, and the Boot auto-configuration that makes it from one property. */
@Timeout(120)
class SluiceSpringAiTest {
    final ApplicationContextRunner boot = new ApplicationContextRunner().withConfiguration(AutoConfigurations.of(SluiceAutoConfiguration.class));

    static Prompt story(int maxTokens) {
        return new Prompt(List.of(new SystemMessage("You tell stories."), new UserMessage("Once upon a time"), new AssistantMessage("there was a cat."),
                new UserMessage("What happened next?")), ChatOptions.builder().temperature(0.0).maxTokens(maxTokens).build());
    }

    @Test
    void onePropertyGivesAChatModelBeanThatCallsAndStreams() {
        String model = Fixtures.model("stories260K.gguf").toString();
        boot.withPropertyValues("sluice.model=" + model, "sluice.temperature=0", "sluice.max-tokens=16").run(ctx -> {
            assertTrue(ctx.getStartupFailure() == null, () -> String.valueOf(ctx.getStartupFailure()));
            ChatModel chat = ctx.getBean(ChatModel.class);
            assertInstanceOf(SluiceChatModel.class, chat);

            ChatResponse r = chat.call(story(24));
            String text = r.getResult().getOutput().getText();
            assertFalse(text.isBlank(), () -> "answer: [" + text + "] " + r);
            assertEquals("LENGTH", r.getResult().getMetadata().getFinishReason());
            assertEquals(24, r.getMetadata().getUsage().getCompletionTokens());
            assertTrue(r.getMetadata().getUsage().getPromptTokens() > 20);
            assertEquals("stories260K.gguf", r.getMetadata().getModel());

            List<ChatResponse> pieces = chat.stream(story(24)).collectList().block();
            StringBuilder streamed = new StringBuilder();
            for (ChatResponse c : pieces) streamed.append(c.getResult().getOutput().getText());
            assertTrue(pieces.size() > 5, "streamed in pieces: " + pieces.size());
            assertEquals(text, streamed.toString(), "greedy: streaming gives the same answer");
            assertEquals("LENGTH", pieces.getLast().getResult().getMetadata().getFinishReason());

            String viaString = chat.call("Once upon a time");
            assertFalse(viaString.isBlank());
            assertEquals(16, chat.call(new Prompt("Once upon a time")).getMetadata().getUsage().getCompletionTokens(),
                    "sluice.max-tokens is the default when the prompt sets none");
            assertEquals(2, chat.stream("Once upon a time").take(2).collectList().block().size(), "a subscriber may stop early (the generation is cancelled)");
            assertEquals(24, chat.call(story(24)).getMetadata().getUsage().getCompletionTokens(), "and the model goes on serving");
        });
    }

    @Test
    void aChatTemplateFileReplacesTheModelsAndOneThatFailsStopsStartUp(@TempDir Path dir) throws Exception {
        String model = Fixtures.model("stories260K.gguf").toString();
        Path plain = Files.writeString(dir.resolve("plain.jinja"), "{% for m in messages %}{{ m['content'] }}\n{% endfor %}");
        Path broken = Files.writeString(dir.resolve("broken.jinja"), "{% for m in messages %}{{ m['content'] }");
        int[] promptTokens = new int[2];
        boot.withPropertyValues("sluice.model=" + model).run(ctx ->
                promptTokens[0] = ctx.getBean(ChatModel.class).call(story(1)).getMetadata().getUsage().getPromptTokens());
        boot.withPropertyValues("sluice.model=" + model, "sluice.chat-template-file=" + plain).run(ctx -> {
            assertTrue(ctx.getStartupFailure() == null, () -> String.valueOf(ctx.getStartupFailure()));
            promptTokens[1] = ctx.getBean(ChatModel.class).call(story(1)).getMetadata().getUsage().getPromptTokens();
        });
        assertTrue(promptTokens[1] < promptTokens[0], "the file's template, without ChatML's role markers: "
                + promptTokens[1] + " vs " + promptTokens[0] + " prompt tokens");
        assertStartupFails(boot.withPropertyValues("sluice.model=" + model, "sluice.chat-template-file=" + broken), "the given chat template does not work");
        assertStartupFails(boot.withPropertyValues("sluice.model=" + model, "sluice.chat-template-file=" + dir.resolve("none.jinja")),
                "sluice.chat-template-file: no file at");
    }

    private static void assertStartupFails(ApplicationContextRunner runner, String message) {
        runner.run(ctx -> {
            Throwable t = ctx.getStartupFailure();
            assertTrue(t != null, "no context: " + message);
            StringBuilder msgs = new StringBuilder();
            for (Throwable c = t; c != null; c = c.getCause()) msgs.append(c.getMessage()).append(" | ");
            assertTrue(msgs.toString().contains(message), msgs.toString());
        });
    }

    @Test
    void withoutThePropertyNothingIsCreatedAndABadPathIsNamed() {
        boot.run(ctx -> assertFalse(ctx.containsBean("sluiceChatModel")));
        assertStartupFails(boot.withPropertyValues("sluice.model=/nonexistent/model.gguf"), "sluice.model: no GGUF file at /nonexistent/model.gguf");
    }
}
