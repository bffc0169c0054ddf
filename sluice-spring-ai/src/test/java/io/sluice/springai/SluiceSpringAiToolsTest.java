package io.sluice.springai;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.sluice.Fixtures;
import io.sluice.chat.TestTemplates;
import io.sluice.engine.EngineConfig;
import io.sluice.grammar.JsonValidator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.springframework.ai.chat.client.ChatClient;
import org.springframework.ai.chat.messages.AssistantMessage;
import org.springframework.ai.chat.messages.ToolResponseMessage;
import org.springframework.ai.chat.messages.UserMessage;
import org.springframework.ai.chat.model.ChatModel;
import org.springframework.ai.chat.model.ChatResponse;
import org.springframework.ai.chat.prompt.ChatOptions;
import org.springframework.ai.chat.prompt.Prompt;
import org.springframework.ai.support.ToolCallbacks;
import org.springframework.ai.tool.ToolCallback;
import org.springframework.ai.tool.annotation.Tool;
import org.springframework.ai.tool.annotation.ToolParam;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Spring AI tools and structured output in-process, on stories260K with the small Hermes-style template of
 * {@link TestTemplates#HERMES} (as the server's LiveToolsTest): forced calls sampled at temperature 1 are judged by an independent JSON Schema
 * validator, and ChatClient's tool loop runs a @Tool method and feeds its result back through the template.
 */
@Timeout(180)
class SluiceSpringAiToolsTest {
    static final ObjectMapper JSON = new ObjectMapper();

    static SluiceChatModel chat;

    @BeforeAll
    static void load() {
        chat = new SluiceChatModel(Fixtures.model("stories260K.gguf"), EngineConfig.defaults(), null, null, TestTemplates.HERMES);
    }

    @AfterAll
    static void close() {
        if (chat != null) chat.close();
    }

    public enum City { PARIS, ROME, OSLO }

    public static class WeatherTools {
        final List<City> asked = new CopyOnWriteArrayList<>();

        @Tool(description = "The weather in a city")
        public String weather(@ToolParam(description = "the city") City city, @ToolParam(description = "in degrees Celsius") boolean celsius) {
            asked.add(city);
            return city == City.OSLO ? "snow" : "sun";
        }
    }

    @Test
    void requiredToolCallsAtTemperatureOneMatchTheToolsInputSchema() throws Exception {
        ToolCallback[] tools = ToolCallbacks.from(new WeatherTools());
        JsonNode schema = JSON.readTree(tools[0].getToolDefinition().inputSchema());
        for (long seed = 1; seed <= 5; seed++) {
            SluiceChatOptions o = SluiceChatOptions.builder().toolCallbacks(tools).toolChoice(SluiceChatOptions.REQUIRED).parallelToolCalls(false)
                    .temperature(1.0).seed(seed).maxTokens(200).build();
            ChatResponse r = chat.call(new Prompt(List.of(new UserMessage("What is the weather in Oslo?")), o));
            AssistantMessage msg = r.getResult().getOutput();
            assertEquals("TOOL_CALLS", r.getResult().getMetadata().getFinishReason(), "seed " + seed + ": " + msg);
            assertEquals(1, msg.getToolCalls().size(), msg.toString());
            AssistantMessage.ToolCall call = msg.getToolCalls().getFirst();
            assertEquals("weather", call.name());
            assertEquals("function", call.type());
            assertTrue(call.id().startsWith("call_"), call.id());
            List<String> errors = JsonValidator.errors(schema, call.arguments());
            assertTrue(errors.isEmpty(), "seed " + seed + ": " + call.arguments() + " " + errors);
        }
    }

    @Test
    void streamingEndsWithTheCalls() throws Exception {
        ToolCallback[] tools = ToolCallbacks.from(new WeatherTools());
        JsonNode schema = JSON.readTree(tools[0].getToolDefinition().inputSchema());
        SluiceChatOptions o = SluiceChatOptions.builder().toolCallbacks(tools).toolChoice("weather").temperature(1.0).seed(9L).maxTokens(200).build();
        List<ChatResponse> pieces = chat.stream(new Prompt(List.of(new UserMessage("Weather in Rome?")), o)).collectList().block();
        ChatResponse last = pieces.getLast();
        assertEquals("TOOL_CALLS", last.getResult().getMetadata().getFinishReason(), pieces.toString());
        assertEquals(1, last.getResult().getOutput().getToolCalls().size(), "a named function is one call");
        String args = last.getResult().getOutput().getToolCalls().getFirst().arguments();
        assertTrue(JsonValidator.errors(schema, args).isEmpty(), args);
        StringBuilder text = new StringBuilder();
        for (ChatResponse r : pieces) text.append(r.getResult().getOutput().getText());
        assertTrue(text.toString().isBlank(), "the call's markup is not streamed as text: " + text);
    }

    /** Records what the tool loop sends the model. */
    record Recording(ChatModel model, List<Prompt> prompts) implements ChatModel {
        @Override
        public ChatResponse call(Prompt p) {
            prompts.add(p);
            return model.call(p);
        }

        @Override
        public ChatOptions getOptions() {
            return model.getOptions();
        }
    }

    @Test
    void chatClientRunsTheToolAndFeedsItsResultBack() {
        WeatherTools tools = new WeatherTools();
        List<Prompt> prompts = new CopyOnWriteArrayList<>();
        ChatClient client = ChatClient.builder(new Recording(chat, prompts)).build();
        // required_first: the turn answering the user must call; the turn after the result may answer
        String answer = client.prompt().user("What is the weather in Oslo?").tools(tools)
                .options(SluiceChatOptions.builder().toolChoice(SluiceChatOptions.REQUIRED_FIRST).parallelToolCalls(false)
                        .temperature(1.0).seed(3L).maxTokens(200))
                .call().content();
        assertEquals(1, tools.asked.size(), "the tool ran once: " + tools.asked + " " + prompts + " answer " + answer);
        assertEquals(2, prompts.size(), "a call, then an answer");
        assertTrue(answer != null, "the second turn answers");

        Prompt second = prompts.get(1);
        var history = second.getInstructions();
        AssistantMessage call = assertInstanceOf(AssistantMessage.class, history.get(history.size() - 2));
        ToolResponseMessage result = assertInstanceOf(ToolResponseMessage.class, history.getLast());
        assertEquals(call.getToolCalls().getFirst().id(), result.getResponses().getFirst().id());
        String data = result.getResponses().getFirst().responseData();
        assertTrue(data.contains(tools.asked.getFirst() == City.OSLO ? "snow" : "sun"), data);
        String prompt = chat.renderedPrompt(second);
        assertTrue(prompt.contains("<tool_call>\n{\"name\": \"weather\", \"arguments\": {"), prompt);
        assertTrue(prompt.contains("<|im_start|>tool\n" + data + "<|im_end|>\n<|im_start|>assistant\n"), prompt);
        SluiceChatOptions o = assertInstanceOf(SluiceChatOptions.class, second.getOptions(), "ChatClient built on the model's options");
        assertEquals(1, o.getToolCallbacks().size());
        assertTrue(prompt.contains("Tools: weather."), "the tools are still offered on the second turn: " + prompt);
    }

    @Test
    void structuredOutputSchemaConstrainsTheAnswer() throws Exception {
        String schema = """
                {"type": "object", "properties": {"city": {"enum": ["PARIS", "ROME", "OSLO"]}, "sunny": {"type": "boolean"}},
                 "required": ["city", "sunny"], "additionalProperties": false}""";
        for (long seed = 1; seed <= 3; seed++) {
            ChatResponse r = chat.call(new Prompt(List.of(new UserMessage("The weather as JSON")),
                    SluiceChatOptions.builder().outputSchema(schema).temperature(1.0).seed(seed).maxTokens(200).build()));
            String text = r.getResult().getOutput().getText();
            assertEquals("STOP", r.getResult().getMetadata().getFinishReason(), text);
            List<String> errors = JsonValidator.errors(JSON.readTree(schema), text);
            assertTrue(errors.isEmpty(), "seed " + seed + ": " + text + " " + errors);
        }
    }
}
