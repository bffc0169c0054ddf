package io.sluice.langchain4j;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.langchain4j.agent.tool.P;
import dev.langchain4j.agent.tool.Tool;
import dev.langchain4j.agent.tool.ToolExecutionRequest;
import dev.langchain4j.agent.tool.ToolSpecification;
import dev.langchain4j.agent.tool.ToolSpecifications;
import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.ToolExecutionResultMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.internal.JsonSchemaElementUtils;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.request.ResponseFormat;
import dev.langchain4j.model.chat.request.ResponseFormatType;
import dev.langchain4j.model.chat.request.ToolChoice;
import dev.langchain4j.model.chat.request.json.JsonObjectSchema;
import dev.langchain4j.model.chat.request.json.JsonSchema;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.CompleteToolCall;
import dev.langchain4j.model.chat.response.PartialToolCall;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.output.FinishReason;
import dev.langchain4j.service.AiServices;
import io.sluice.Fixtures;
import io.sluice.chat.TestTemplates;
import io.sluice.engine.EngineConfig;
import io.sluice.grammar.JsonValidator;
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
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Tools and JSON answers in-process, on stories260K with the small Hermes-style template of
 * {@link TestTemplates#HERMES} (the server's LiveToolsTest's too): the model knows no tools, so calls are forced (tool choice REQUIRED)
 * and sampled at temperature 1, and what they say is judged by an independent JSON Schema validator.
 */
@Timeout(180)
class SluiceToolsTest {
    static final ObjectMapper JSON = new ObjectMapper();

    static SluiceModel model;

    @BeforeAll
    static void load() {
        model = SluiceModel.load(Fixtures.model("stories260K.gguf"), EngineConfig.defaults(), TestTemplates.HERMES);
    }

    @AfterAll
    static void close() {
        if (model != null) model.close();
    }

    public enum City { PARIS, ROME, OSLO }

    public static class WeatherTools {
        final List<City> asked = new CopyOnWriteArrayList<>();

        @Tool("The weather in a city")
        public String weather(@P("the city") City city, @P("in degrees Celsius") boolean celsius) {
            asked.add(city);
            return city == City.OSLO ? "snow" : "sun";
        }
    }

    static final List<ToolSpecification> SPECS = ToolSpecifications.toolSpecificationsFrom(WeatherTools.class);

    static JsonNode schema(ToolSpecification t) {
        return JSON.valueToTree(JsonSchemaElementUtils.toMap(t.parameters()));
    }

    static ChatRequest forced(String question) {
        return ChatRequest.builder().messages(UserMessage.from(question)).toolSpecifications(SPECS).toolChoice(ToolChoice.REQUIRED).build();
    }

    @Test
    void requiredToolCallsAtTemperatureOneMatchTheToolsSchema() {
        JsonNode schema = schema(SPECS.getFirst());
        assertTrue(schema.path("properties").size() == 2 && schema.path("required").size() == 2, schema.toString());
        for (long seed = 1; seed <= 5; seed++) {
            SluiceChatModel chat = SluiceChatModel.builder().model(model).temperature(1.0).seed(seed).maxTokens(200).parallelToolCalls(false).build();
            ChatResponse r = chat.chat(forced("What is the weather in Oslo?"));
            AiMessage ai = r.aiMessage();
            assertEquals(FinishReason.TOOL_EXECUTION, r.finishReason(), "seed " + seed + ": " + ai);
            assertTrue(ai.hasToolExecutionRequests(), ai.toString());
            assertTrue(ai.text() == null || ai.text().isBlank(), "only calls: " + ai);
            for (ToolExecutionRequest call : ai.toolExecutionRequests()) {
                assertEquals("weather", call.name());
                assertTrue(call.id() != null && call.id().startsWith("call_"), call.id());
                List<String> errors = JsonValidator.errors(schema, call.arguments());
                assertTrue(errors.isEmpty(), "seed " + seed + ": " + call.arguments() + " " + errors);
            }
        }
    }

    @Test
    void streamingDeliversTheCallsAsPartialAndCompleteToolCalls() throws Exception {
        SluiceStreamingChatModel streaming = SluiceStreamingChatModel.builder().model(model).temperature(1.0).seed(11).maxTokens(200).parallelToolCalls(false).build();
        List<PartialToolCall> partial = new CopyOnWriteArrayList<>();
        List<CompleteToolCall> complete = new CopyOnWriteArrayList<>();
        List<String> text = new CopyOnWriteArrayList<>();
        CompletableFuture<ChatResponse> done = new CompletableFuture<>();
        streaming.chat(forced("Weather in Rome?"), new StreamingChatResponseHandler() {
            public void onPartialResponse(String s) {
                text.add(s);
            }

            public void onPartialToolCall(PartialToolCall p) {
                partial.add(p);
            }

            public void onCompleteToolCall(CompleteToolCall c) {
                complete.add(c);
            }

            public void onCompleteResponse(ChatResponse r) {
                done.complete(r);
            }

            public void onError(Throwable t) {
                done.completeExceptionally(t);
            }
        });
        ChatResponse r = done.get(120, TimeUnit.SECONDS);
        assertEquals(FinishReason.TOOL_EXECUTION, r.finishReason(), r.toString());
        List<ToolExecutionRequest> calls = r.aiMessage().toolExecutionRequests();
        assertEquals(calls.size(), complete.size(), "one complete callback per call");
        assertEquals(calls.size(), partial.size());
        for (int i = 0; i < calls.size(); i++) {
            assertEquals(i, complete.get(i).index());
            assertEquals(calls.get(i), complete.get(i).toolExecutionRequest());
            assertEquals(calls.get(i).arguments(), partial.get(i).partialArguments());
            assertTrue(JsonValidator.errors(schema(SPECS.getFirst()), calls.get(i).arguments()).isEmpty(), calls.get(i).arguments());
        }
        assertTrue(String.join("", text).isBlank(), "the call's markup is not streamed as text: " + text);
    }

    /**
     * A reasoning template (its answers open with {@code <think>}, and it knows {@code </think>}): what the model
     * writes before closing the block is its thinking, not its text. stories260K never closes it, so all of it is.
     */
    @Test
    void reasoningIsTheAiMessagesThinking() throws Exception {
        String thinking = """
                {#- a reasoning model's template: </think> ends its thoughts -#}
                {%- for m in messages %}<|im_start|>{{ m.role }}
                {{ m.content }}<|im_end|>
                {% endfor %}
                {%- if add_generation_prompt %}<|im_start|>assistant
                <think>
                {% endif %}""";
        try (SluiceModel thinker = SluiceModel.load(Fixtures.model("stories260K.gguf"), EngineConfig.defaults(), thinking)) {
            assertTrue(thinker.format().thinks());
            ChatResponse r = SluiceChatModel.builder().model(thinker).temperature(0).maxTokens(24).build().chat(ChatRequest.builder().messages(UserMessage.from("Once upon a time")).build());
            assertTrue(r.aiMessage().thinking() != null && !r.aiMessage().thinking().isBlank(), r.toString());
            assertTrue(r.aiMessage().text() == null || r.aiMessage().text().isEmpty(), r.toString());
            List<String> parts = new CopyOnWriteArrayList<>();
            CompletableFuture<ChatResponse> done = new CompletableFuture<>();
            SluiceStreamingChatModel.builder().model(thinker).temperature(0).maxTokens(24).build()
                    .chat(ChatRequest.builder().messages(UserMessage.from("Once upon a time")).build(), new StreamingChatResponseHandler() {
                        public void onPartialThinking(dev.langchain4j.model.chat.response.PartialThinking t) {
                            parts.add(t.text());
                        }

                        public void onCompleteResponse(ChatResponse c) {
                            done.complete(c);
                        }

                        public void onError(Throwable t) {
                            done.completeExceptionally(t);
                        }
                    });
            ChatResponse streamed = done.get(60, TimeUnit.SECONDS);
            assertEquals(r.aiMessage().thinking(), String.join("", parts), "the partial thinking makes the whole");
            assertEquals(r.aiMessage().thinking(), streamed.aiMessage().thinking(), "greedy: the same thoughts");
        }
    }

    interface Assistant {
        String chat(String question);
    }

    /**
     * An AiServices tool loop: the first turn (answering the user) must call a tool, the turn after the tool's
     * result may answer. LangChain4j sends the same parameters on every turn of the loop, so a REQUIRED default
     * would force calls forever (until maxSequentialToolsInvocations); the choice is made per request, in the
     * service's chatRequestTransformer, from what the conversation ends with.
     */
    @Test
    void aiServicesCallsTheToolAndTheResultGoesBackThroughTheTemplate() {
        WeatherTools tools = new WeatherTools();
        List<ChatRequest> sent = new CopyOnWriteArrayList<>();
        SluiceChatModel chat = SluiceChatModel.builder().model(model).temperature(1.0).seed(5).maxTokens(200).parallelToolCalls(false).build();
        Assistant assistant = AiServices.builder(Assistant.class).chatModel(chat).tools(tools)
                .chatRequestTransformer(req -> {
                    boolean answersTheUser = req.messages().getLast() instanceof UserMessage;
                    ChatRequest r = req.toBuilder().parameters(req.parameters().overrideWith(ChatRequestParameters.builder()
                            .toolChoice(answersTheUser ? ToolChoice.REQUIRED : ToolChoice.AUTO)
                            .maxOutputTokens(answersTheUser ? 200 : 24).build())).build();
                    sent.add(r);
                    return r;
                })
                .build();
        String answer = assistant.chat("What is the weather in Oslo?");
        assertEquals(1, tools.asked.size(), "the tool ran once: " + tools.asked);
        assertEquals(2, sent.size(), "a call, then an answer");
        assertTrue(answer != null, "the second turn answers");

        ChatRequest second = sent.get(1);
        AiMessage call = (AiMessage) second.messages().get(second.messages().size() - 2);
        ToolExecutionResultMessage result = assertInstanceOf(ToolExecutionResultMessage.class, second.messages().getLast());
        assertEquals(call.toolExecutionRequests().getFirst().id(), result.id());
        assertEquals(tools.asked.getFirst() == City.OSLO ? "snow" : "sun", result.text());
        // What the template made of it: the call as the model made it, and the result in a tool turn.
        String prompt = Requests.toEngine(model, second, chat.defaultRequestParameters(), 1L, false).chat().prompt();
        String args = call.toolExecutionRequests().getFirst().arguments();
        String compact;
        try {
            compact = JSON.writeValueAsString(JSON.readTree(args)).replace(",", ", ").replace(":", ": ");
        } catch (Exception e) {
            throw new AssertionError(e);
        }
        assertTrue(prompt.contains("<tool_call>\n{\"name\": \"weather\", \"arguments\": " + compact + "}\n</tool_call><|im_end|>"), prompt);
        assertTrue(prompt.contains("<|im_start|>tool\n" + result.text() + "<|im_end|>\n<|im_start|>assistant\n"), prompt);
    }

    @Test
    void jsonResponseFormatWithASchemaValidates() throws Exception {
        JsonObjectSchema root = JsonObjectSchema.builder().addEnumProperty("city", List.of("PARIS", "ROME", "OSLO"))
                .addBooleanProperty("sunny").required("city", "sunny").additionalProperties(false).build();
        ResponseFormat rf = ResponseFormat.builder().type(ResponseFormatType.JSON).jsonSchema(JsonSchema.builder().name("Weather").rootElement(root).build()).build();
        JsonNode schema = JSON.valueToTree(JsonSchemaElementUtils.toMap(root));
        for (long seed = 1; seed <= 3; seed++) {
            SluiceChatModel chat = SluiceChatModel.builder().model(model).temperature(1.0).seed(seed).maxTokens(200).parallelToolCalls(false).build();
            ChatResponse r = chat.chat(ChatRequest.builder().messages(UserMessage.from("The weather as JSON")).responseFormat(rf).build());
            assertEquals(FinishReason.STOP, r.finishReason(), r.toString());
            List<String> errors = JsonValidator.errors(schema, r.aiMessage().text());
            assertTrue(errors.isEmpty(), "seed " + seed + ": " + r.aiMessage().text() + " " + errors);
        }
        // JSON without a schema: some JSON object
        ChatResponse any = SluiceChatModel.builder().model(model).temperature(0.0).maxTokens(300).build()
                .chat(ChatRequest.builder().messages(UserMessage.from("Some JSON")).responseFormat(ResponseFormat.JSON).build());
        assertTrue(any.aiMessage().text().strip().startsWith("{"), any.aiMessage().text());
        if (any.finishReason() == FinishReason.STOP) assertTrue(JSON.readTree(any.aiMessage().text()).isObject(), any.aiMessage().text());
        assertThrows(IllegalArgumentException.class, () -> SluiceChatModel.builder().model(model).build()
                .chat(forced("x").toBuilder().responseFormat(rf).build()), "tools and a JSON format together are refused");
    }
}
