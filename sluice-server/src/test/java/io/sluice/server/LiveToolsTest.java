package io.sluice.server;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
import com.openai.helpers.ChatCompletionAccumulator;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionMessageFunctionToolCall;
import com.openai.models.chat.completions.ChatCompletionToolChoiceOption;
import com.openai.models.chat.completions.ChatCompletionToolMessageParam;
import dev.langchain4j.agent.tool.P;
import dev.langchain4j.agent.tool.Tool;
import dev.langchain4j.agent.tool.ToolExecutionRequest;
import dev.langchain4j.agent.tool.ToolSpecification;
import dev.langchain4j.agent.tool.ToolSpecifications;
import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.ToolExecutionResultMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ToolChoice;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.openai.OpenAiChatModel;
import io.sluice.Fixtures;
import io.sluice.chat.TestTemplates;
import io.sluice.engine.EngineConfig;
import io.sluice.engine.LlmEngine;
import io.sluice.gguf.GGMLType;
import io.sluice.grammar.JsonValidator;
import io.sluice.model.Model;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Tool calling end to end: the real engine on stories260K behind the server, with the small self-made
 * Hermes-style template of {@link TestTemplates#HERMES} (the model knows no tools, so the calls are forced: tool_choice required or a
 * named function), sampled at temperature 1, driven by the OpenAI Java SDK, LangChain4j and raw HTTP.
 */
@Timeout(180)
class LiveToolsTest {

    static Model model;
    static LlmEngine engine;
    static SluiceServer server;
    static Http http;
    static String alias;

    @BeforeAll
    static void start() {
        model = Model.load(Fixtures.model("stories260K.gguf"));
        engine = new LlmEngine(model, new EngineConfig(0, 0, 16, GGMLType.F32, 256, 32, 256, 512));
        server = SluiceServer.start(engine, ServerConfig.defaults().withPort(0).withChatTemplate(TestTemplates.HERMES));
        alias = server.modelId();
        http = new Http(server.baseUrl(), null);
    }

    @AfterAll
    static void stop() {
        if (server != null) server.stop();
        if (engine != null) engine.close();
        if (model != null) model.close();
    }

    static OpenAIClient openai() {
        return OpenAIOkHttpClient.builder().baseUrl(server.baseUrl() + "/v1").apiKey("unused").maxRetries(0).timeout(Duration.ofSeconds(60)).build();
    }

    public enum City { PARIS, ROME, OSLO }

    /** The SDK makes a strict function tool "GetWeather" of this class. */
    public static class GetWeather {
        @JsonProperty(required = true)
        public City city;
        @JsonProperty(required = true)
        public boolean celsius;
    }

    static ChatCompletionCreateParams.Builder weatherRequest(long seed) {
        return ChatCompletionCreateParams.builder().model(alias).addUserMessage("What is the weather in Paris?")
                .addTool(GetWeather.class).toolChoice(ChatCompletionToolChoiceOption.Auto.REQUIRED).parallelToolCalls(false)
                .temperature(1.0).seed(seed).maxCompletionTokens(200);
    }

    @Test
    void openAiSdkToolRoundTrip() {
        OpenAIClient client = openai();
        for (long seed = 1; seed <= 3; seed++) {
            ChatCompletion first = client.chat().completions().create(weatherRequest(seed).build());
            var choice = first.choices().getFirst();
            assertEquals(ChatCompletion.Choice.FinishReason.TOOL_CALLS, choice.finishReason(), "seed " + seed);
            List<?> calls = choice.message().toolCalls().orElseThrow();
            assertEquals(1, calls.size(), "parallel_tool_calls false");
            ChatCompletionMessageFunctionToolCall call = choice.message().toolCalls().orElseThrow().getFirst().asFunction();
            assertEquals("GetWeather", call.function().name());
            GetWeather args = call.function().arguments(GetWeather.class); // the SDK parses them into the class
            assertTrue(args.city != null, call.function().arguments());

            // the result goes back; the next answer (tools still offered, not forced) is text
            ChatCompletion second = client.chat().completions().create(ChatCompletionCreateParams.builder().model(alias)
                    .addUserMessage("What is the weather in Paris?").addMessage(choice.message())
                    .addMessage(ChatCompletionToolMessageParam.builder().toolCallId(call.id()).content("{\"temp\": 21}").build())
                    .addTool(GetWeather.class).toolChoice(ChatCompletionToolChoiceOption.Auto.NONE).temperature(0.0).maxCompletionTokens(20).build());
            var answer = second.choices().getFirst();
            assertTrue(answer.message().content().isPresent(), second.toString());
            assertFalse(answer.message().toolCalls().map(l -> !l.isEmpty()).orElse(false));
        }
        // what the template saw on the way back: the call (as the model made it) and the result
        String prompt = http.post("/apply-template", "{\"messages\":[{\"role\":\"user\",\"content\":\"Weather?\"},"
                + "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"GetWeather\","
                + "\"arguments\":\"{\\\"city\\\":\\\"ROME\\\",\\\"celsius\\\":true}\"}}]},{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"21C\"}]}")
                .json().get("prompt").asText();
        assertTrue(prompt.contains("<tool_call>\n{\"name\": \"GetWeather\", \"arguments\": {\"city\": \"ROME\", \"celsius\": true}}\n</tool_call>"), prompt);
        assertTrue(prompt.contains("<|im_start|>tool\n21C<|im_end|>"), prompt);
    }

    @Test
    void openAiSdkStreamedToolCallsReassembleToTheSameCall() {
        OpenAIClient client = openai();
        for (long seed = 4; seed <= 6; seed++) {
            ChatCompletion whole = client.chat().completions().create(weatherRequest(seed).build());
            ChatCompletionAccumulator acc = ChatCompletionAccumulator.create();
            int argumentChunks = 0;
            try (StreamResponse<ChatCompletionChunk> s = client.chat().completions().createStreaming(weatherRequest(seed).build())) {
                for (ChatCompletionChunk c : (Iterable<ChatCompletionChunk>) s.stream()::iterator) {
                    acc.accumulate(c);
                    for (var ch : c.choices()) {
                        for (var tc : ch.delta().toolCalls().orElse(List.of())) {
                            if (tc.id().isPresent()) assertTrue(tc.function().orElseThrow().name().isPresent(), "the first delta names the function");
                            else argumentChunks++;
                        }
                    }
                }
            }
            assertTrue(argumentChunks >= 1);
            var a = whole.choices().getFirst();
            var b = acc.chatCompletion().choices().getFirst();
            assertEquals(a.finishReason(), b.finishReason());
            var ca = a.message().toolCalls().orElseThrow().getFirst().asFunction();
            var cb = b.message().toolCalls().orElseThrow().getFirst().asFunction();
            assertEquals(ca.function().name(), cb.function().name());
            assertEquals(ca.function().arguments(), cb.function().arguments(), "the same seed samples the same call, streamed or not");
        }
    }

    static final String ORDER_SCHEMA = """
            {"type": "object", "properties": {
               "item": {"type": "string", "maxLength": 10},
               "qty": {"type": "integer", "minimum": 1, "maximum": 9},
               "size": {"enum": ["S", "M", "L"]},
               "gift": {"anyOf": [{"type": "null"}, {"$ref": "#/$defs/note"}]}},
             "required": ["item", "qty", "size", "gift"], "additionalProperties": false,
             "$defs": {"note": {"type": "object", "properties": {"to": {"type": "string", "pattern": "^[A-Z][a-z]{1,5}$"}}, "required": ["to"]}}}""";

    @Test
    void forcedCallsValidateAgainstTheirSchemasAtTemperatureOne() throws Exception {
        JsonNode schema = Http.JSON.readTree(ORDER_SCHEMA);
        String tools = "[{\"type\":\"function\",\"function\":{\"name\":\"order\",\"parameters\":" + ORDER_SCHEMA + "}},"
                + "{\"type\":\"function\",\"function\":{\"name\":\"cancel\",\"parameters\":{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"integer\"}},\"required\":[\"id\"]}}}]";
        int orders = 0;
        for (int seed = 0; seed < 8; seed++) {
            String choice = seed % 2 == 0 ? "\"required\"" : "{\"type\":\"function\",\"function\":{\"name\":\"order\"}}";
            // with parallel calls a model that never stops calling runs into max_tokens: every complete call still validates
            boolean parallel = seed % 4 == 0;
            JsonNode r = http.post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"Order a shirt.\"}],\"tools\":" + tools
                    + ",\"tool_choice\":" + choice + ",\"parallel_tool_calls\":" + parallel + ",\"temperature\":1,\"seed\":" + seed + ",\"max_tokens\":300}").json();
            JsonNode ch = r.get("choices").get(0);
            if (parallel) assertTrue(ch.get("finish_reason").asText().matches("tool_calls|length"), r.toString());
            else assertEquals("tool_calls", ch.get("finish_reason").asText(), r.toString());
            if (!parallel) assertEquals(1, ch.get("message").get("tool_calls").size(), r.toString());
            for (JsonNode call : ch.get("message").get("tool_calls")) {
                String name = call.get("function").get("name").asText();
                String args = call.get("function").get("arguments").asText();
                if (seed % 2 == 1) assertEquals("order", name);
                if (name.equals("order")) {
                    orders++;
                    List<String> errors = JsonValidator.errors(schema, args);
                    assertTrue(errors.isEmpty(), "seed " + seed + ": " + args + " -> " + errors);
                } else {
                    assertEquals("cancel", name);
                    assertTrue(Http.JSON.readTree(args).get("id").isIntegralNumber(), args);
                }
            }
        }
        assertTrue(orders >= 4);
    }

    /** LangChain4j's tools: specifications from @Tool methods, a forced call, the method run, the result sent back. */
    public static class WeatherTools {
        @Tool("The weather in a city")
        public String weather(@P("the city") City city) {
            return city == City.OSLO ? "snow" : "sun";
        }
    }

    @Test
    void langChain4jToolSpecificationsRoundTrip() throws Exception {
        List<ToolSpecification> specs = ToolSpecifications.toolSpecificationsFrom(WeatherTools.class);
        OpenAiChatModel chat = OpenAiChatModel.builder().baseUrl(server.baseUrl() + "/v1").apiKey("unused").modelName(alias)
                .temperature(1.0).seed(7).maxTokens(200).maxRetries(0).timeout(Duration.ofSeconds(60)).build();
        UserMessage user = UserMessage.from("Weather in Oslo?");
        ChatResponse r = chat.chat(ChatRequest.builder().messages(user).toolSpecifications(specs).toolChoice(ToolChoice.REQUIRED).build());
        AiMessage ai = r.aiMessage();
        assertTrue(ai.hasToolExecutionRequests(), ai.toString());
        ToolExecutionRequest call = ai.toolExecutionRequests().getFirst();
        assertEquals("weather", call.name());
        // the one parameter (named arg0 unless compiled with -parameters)
        City city = City.valueOf(Http.JSON.readTree(call.arguments()).elements().next().asText());
        String result = new WeatherTools().weather(city);
        ChatResponse next = chat.chat(ChatRequest.builder().messages(user, ai, ToolExecutionResultMessage.from(call, result)).build());
        assertFalse(next.aiMessage().hasToolExecutionRequests());
        assertTrue(next.aiMessage().text() != null);
    }
}
