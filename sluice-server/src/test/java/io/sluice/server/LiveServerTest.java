package io.sluice.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
import com.openai.errors.BadRequestException;
import com.openai.errors.NotFoundException;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.completions.Completion;
import com.openai.models.completions.CompletionCreateParams;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.openai.OpenAiChatModel;
import dev.langchain4j.model.openai.OpenAiStreamingChatModel;
import io.sluice.Fixtures;
import io.sluice.engine.EngineConfig;
import io.sluice.engine.EngineMetrics;
import io.sluice.engine.GenerationEvent;
import io.sluice.engine.GenerationRequest;
import io.sluice.engine.LlmEngine;
import io.sluice.gguf.GGMLType;
import io.sluice.model.Model;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static io.sluice.server.Http.assertError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** End to end: the real engine on stories260K behind the HTTP server, driven by real OpenAI clients. */
@Timeout(120)
class LiveServerTest {
    static final int CTX = 512;
    static Model model;
    static LlmEngine engine;
    static SluiceServer server;
    static Http http;
    static String alias;

    @BeforeAll
    static void start() {
        var path = Fixtures.model("stories260K.gguf");
        model = Model.load(path);
        engine = new LlmEngine(model, new EngineConfig(0, 0, 16, GGMLType.F32, 256, 32, 256, CTX));
        server = SluiceServer.start(engine, ServerConfig.defaults().withPort(0));
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
        return OpenAIOkHttpClient.builder().baseUrl(server.baseUrl() + "/v1").apiKey("unused").maxRetries(0)
                .timeout(Duration.ofSeconds(60)).build();
    }

    /** The engine's own greedy text for these prompt tokens, bypassing HTTP. */
    static String direct(int[] prompt, int maxTokens) throws InterruptedException {
        LinkedBlockingQueue<GenerationEvent> q = new LinkedBlockingQueue<>();
        engine.submit(GenerationRequest.greedy(prompt, maxTokens), q::add);
        StringBuilder sb = new StringBuilder();
        while (true) {
            GenerationEvent e = q.poll(60, TimeUnit.SECONDS);
            if (e == null) throw new AssertionError("engine timed out");
            if (e instanceof GenerationEvent.Token t) sb.append(t.text());
            else return sb.toString();
        }
    }

    static int[] chatPromptTokens(String user) {
        var tok = model.tokenizer();
        // stories260K has no chat template: the server falls back to ChatML and adds BOS itself.
        String text = io.sluice.chat.ChatTemplate.chatml().render(List.of(io.sluice.chat.ChatMessage.user(user)));
        int[] ids = tok.encode(text, false, true);
        int[] out = new int[ids.length + 1];
        out[0] = tok.bos();
        System.arraycopy(ids, 0, out, 1, ids.length);
        return out;
    }

    /** llama.cpp's greedy continuation of "Once upon a time" (64 tokens) from the fixtures. */
    static String llamaCppOnceUponATime() throws Exception {
        String all = Files.readString(Fixtures.model("stories260K-greedy.txt"), StandardCharsets.UTF_8);
        String block = all.split("(?m)^== ")[1];
        assertTrue(block.startsWith("stories260K.gguf | Once upon a time\n"), block);
        String text = block.substring(block.indexOf("text:") + 5);
        return text.endsWith("\n") ? text.substring(0, text.length() - 1) : text;
    }

    @Test
    void healthModelsAndMetrics() {
        assertEquals(200, http.get("/health").status());
        assertEquals("stories260K.gguf", alias, "alias defaults to the file name");
        assertEquals(CTX, http.get("/v1/models").json().get("data").get(0).get("meta").get("context_length").asInt());
        String m = http.get("/metrics").body();
        assertTrue(m.contains("sluice_kv_blocks_capacity " + engine.metrics().kvBlocksTotal() + ".0"), m);
    }

    @Test
    void openAiSdkCompletionMatchesLlamaCpp() throws Exception {
        Completion c = openai().completions().create(CompletionCreateParams.builder()
                .model(alias).prompt("Once upon a time").maxTokens(64).temperature(0.0).build());
        assertEquals(llamaCppOnceUponATime(), c.choices().getFirst().text());
        assertEquals("length", c.choices().getFirst().finishReason().asString());
        assertEquals(5, c.usage().orElseThrow().promptTokens(), "BOS + 4 prompt tokens, as llama.cpp");
        assertEquals(64, c.usage().orElseThrow().completionTokens());
    }

    @Test
    void openAiSdkLogprobsDescribeTheGeneratedTokens() {
        Completion c = openai().completions().create(CompletionCreateParams.builder()
                .model(alias).prompt("The little dog").maxTokens(20).temperature(0.0).logprobs(3).build());
        var choice = c.choices().getFirst();
        var lp = choice.logprobs().orElseThrow();
        List<String> tokens = lp.tokens().orElseThrow();
        List<Double> logprobs = lp.tokenLogprobs().orElseThrow();
        var tops = lp.topLogprobs().orElseThrow();
        assertEquals(20, tokens.size());
        assertEquals(choice.text(), String.join("", tokens), "the tokens spell the text");
        for (int i = 0; i < tokens.size(); i++) {
            assertTrue(logprobs.get(i) <= 0, "a log probability");
            Object alts = tops.get(i)._additionalProperties();
            @SuppressWarnings("unchecked")
            var map = (java.util.Map<String, com.openai.core.JsonValue>) alts;
            assertTrue(!map.isEmpty() && map.size() <= 3, "alternatives: " + map);
            for (var v : map.values()) {
                double alt = ((Number) v.asNumber().orElseThrow()).doubleValue();
                assertTrue(logprobs.get(i) >= alt - 1e-4, "greedy picks the most likely token: " + logprobs.get(i) + " vs " + alt);
            }
        }
    }

    @Test
    void openAiSdkChatStreamingAndNot() throws Exception {
        OpenAIClient client = openai();
        var params = ChatCompletionCreateParams.builder().model(alias).addUserMessage("Tell me about a cat.")
                .maxCompletionTokens(40).temperature(0.0).build();
        ChatCompletion cc = client.chat().completions().create(params);
        String content = cc.choices().getFirst().message().content().orElseThrow();
        assertEquals(direct(chatPromptTokens("Tell me about a cat."), 40), content, "the server adds nothing and loses nothing");
        var usage = cc.usage().orElseThrow();
        assertEquals(chatPromptTokens("Tell me about a cat.").length, usage.promptTokens());
        assertTrue(usage.completionTokens() > 0 && usage.completionTokens() <= 40);

        StringBuilder streamed = new StringBuilder();
        List<String> finish = new ArrayList<>();
        var streamParams = params.toBuilder().streamOptions(com.openai.models.chat.completions.ChatCompletionStreamOptions.builder().includeUsage(true).build()).build();
        AtomicInteger usageChunks = new AtomicInteger();
        try (StreamResponse<ChatCompletionChunk> s = client.chat().completions().createStreaming(streamParams)) {
            s.stream().forEach(chunk -> {
                chunk.usage().ifPresent(u -> {
                    usageChunks.incrementAndGet();
                    assertEquals(usage.completionTokens(), u.completionTokens());
                });
                for (var ch : chunk.choices()) {
                    ch.delta().content().ifPresent(streamed::append);
                    ch.finishReason().ifPresent(f -> finish.add(f.asString()));
                }
            });
        }
        assertEquals(content, streamed.toString());
        assertEquals(List.of(cc.choices().getFirst().finishReason().asString()), finish);
        assertEquals(1, usageChunks.get());
    }

    @Test
    void openAiSdkSeesErrorsAsTypedExceptions() {
        OpenAIClient client = openai();
        var tooLong = CompletionCreateParams.builder().model(alias).prompt("Once upon a time ".repeat(200)).maxTokens(4).build();
        BadRequestException e = assertThrows(BadRequestException.class, () -> client.completions().create(tooLong));
        assertEquals(400, e.statusCode());
        assertTrue(e.getMessage().contains("context"), e.getMessage());
        var unknown = CompletionCreateParams.builder().model("gpt-4o").prompt("Hi").maxTokens(4).build();
        assertThrows(NotFoundException.class, () -> client.completions().create(unknown));
    }

    @Test
    void langChain4jChatStreamingAndNot() throws Exception {
        String prompt = "Once upon a time";
        String expected = direct(chatPromptTokens(prompt), 30);
        OpenAiChatModel chat = OpenAiChatModel.builder().baseUrl(server.baseUrl() + "/v1").apiKey("unused").modelName(alias)
                .temperature(0.0).maxTokens(30).maxRetries(0).timeout(Duration.ofSeconds(60)).build();
        assertEquals(expected, chat.chat(prompt));

        OpenAiStreamingChatModel streaming = OpenAiStreamingChatModel.builder().baseUrl(server.baseUrl() + "/v1").apiKey("unused")
                .modelName(alias).temperature(0.0).maxTokens(30).timeout(Duration.ofSeconds(60)).build();
        StringBuilder parts = new StringBuilder();
        CompletableFuture<ChatResponse> done = new CompletableFuture<>();
        streaming.chat(prompt, new StreamingChatResponseHandler() {
            @Override
            public void onPartialResponse(String partial) {
                parts.append(partial);
            }

            @Override
            public void onCompleteResponse(ChatResponse response) {
                done.complete(response);
            }

            @Override
            public void onError(Throwable error) {
                done.completeExceptionally(error);
            }
        });
        ChatResponse r = done.get(60, TimeUnit.SECONDS);
        assertEquals(expected, parts.toString());
        assertEquals(expected, r.aiMessage().text());
    }

    /** Each of 32 simultaneous streams gets exactly its own greedy continuation, as if it ran alone. */
    @Test
    void thirtyTwoConcurrentStreamsEachGetTheirOwnContinuation() throws Exception {
        String[] names = {"Lily", "Tim", "Sue", "Ben", "Max", "Mia", "Sam", "Tom"};
        String[] starts = {"Once upon a time, ", "One day, ", "The little dog saw ", "In the park, "};
        List<String> prompts = new ArrayList<>();
        for (String s : starts) for (String n : names) prompts.add(s + n);
        assertEquals(32, prompts.size());
        List<String> alone = new ArrayList<>();
        for (String p : prompts) {
            JsonNode j = http.post("/v1/completions", body(p, false)).json();
            alone.add(j.get("choices").get(0).get("text").asText());
        }
        assertTrue(alone.stream().distinct().count() > 8, "prompts lead to different stories: " + alone);

        CountDownLatch go = new CountDownLatch(1);
        AtomicBoolean sampling = new AtomicBoolean(true);
        AtomicInteger maxRunning = new AtomicInteger();
        Thread sampler = Thread.ofVirtual().start(() -> {
            while (sampling.get()) {
                maxRunning.accumulateAndGet(engine.metrics().runningSeqs(), Math::max);
                Thread.onSpinWait();
            }
        });
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<String>> results = new ArrayList<>();
            for (String p : prompts) {
                results.add(pool.submit(() -> {
                    go.await();
                    Http.Resp r = http.post("/v1/completions", body(p, true));
                    assertEquals(200, r.status(), r.body());
                    StringBuilder sb = new StringBuilder();
                    for (JsonNode e : r.events()) sb.append(e.get("choices").get(0).get("text").asText());
                    return sb.toString();
                }));
            }
            go.countDown();
            for (int i = 0; i < prompts.size(); i++) {
                assertEquals(alone.get(i), results.get(i).get(90, TimeUnit.SECONDS), "stream " + i + " (" + prompts.get(i) + ")");
            }
        } finally {
            sampling.set(false);
            sampler.join();
        }
        assertTrue(maxRunning.get() > 1, "requests actually ran together (max running " + maxRunning.get() + ")");
    }

    private static String body(String prompt, boolean stream) {
        return "{\"model\":\"" + alias + "\",\"prompt\":" + Http.JSON.valueToTree(prompt) + ",\"max_tokens\":48,\"temperature\":0,\"stream\":" + stream + "}";
    }

    @Test
    void disconnectMidStreamFreesKvBlocks() throws Exception {
        awaitIdle();
        EngineMetrics before = engine.metrics();
        int maxTokens = 400;
        String body = "{\"prompt\":\"Once upon a time\",\"max_tokens\":" + maxTokens + ",\"temperature\":0,\"ignore_eos\":true,\"stream\":true}";
        try (Socket sock = new Socket("127.0.0.1", server.port())) {
            sock.setSoTimeout(10_000);
            OutputStream out = sock.getOutputStream();
            out.write(("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
                    + body.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n" + body).getBytes(StandardCharsets.UTF_8));
            out.flush();
            InputStream in = sock.getInputStream();
            String seen = "";
            byte[] buf = new byte[256];
            while (seen.split("\"text\":").length < 4) {
                int n = in.read(buf);
                assertTrue(n > 0, "stream ended early: " + seen);
                seen += new String(buf, 0, n, StandardCharsets.UTF_8);
            }
            assertTrue(engine.metrics().kvBlocksUsed() > 0, "the stream holds KV blocks while running");
        }
        EngineMetrics after = awaitIdle();
        assertEquals(0, after.kvBlocksUsed(), "blocks freed");
        long generated = after.generatedTokens() - before.generatedTokens();
        assertTrue(generated < maxTokens, "generation stopped early: " + generated + " of " + maxTokens);
        assertTrue(http.get("/metrics").body().contains("sluice_requests_cancelled_total 1.0"));
    }

    private static EngineMetrics awaitIdle() throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        EngineMetrics m;
        while ((m = engine.metrics()).runningSeqs() + m.waitingSeqs() + m.kvBlocksUsed() > 0) {
            assertTrue(System.nanoTime() < deadline, "engine did not go idle: " + m);
            Thread.sleep(10);
        }
        return m;
    }

    @Test
    void badInputAgainstTheRealModel() {
        assertError(http.post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"" + "Once upon a time ".repeat(200) + "\"}]}"), 400, "messages");
        assertError(http.post("/v1/completions", "{\"prompt\":[1,2,3,512]}"), 400, "prompt");
        assertError(http.post("/v1/completions", "{\"prompt\":\"Hi\",\"max_tokens\":" + (CTX + 1) + "}"), 400, "max_tokens");
        assertError(http.post("/v1/completions", "{\"prompt\":\"Hi\",\"logit_bias\":{\"512\":1}}"), 400, "logit_bias");
        assertFalse(http.get("/health").status() != 200);
    }

    // ---- structured outputs, grammars, tokenize ----

    /** A record the OpenAI SDK turns into a strict JSON schema: only bounded kinds, so even a story model finishes it. */
    public enum Mood { HAPPY, SAD, SLEEPY }

    public static final class Cat {
        public int age;
        public boolean hungry;
        public Mood mood;
        public double weight;
    }

    @Test
    void openAiSdkStructuredOutputFromAJavaClass() {
        OpenAIClient client = openai();
        for (long seed = 1; seed <= 4; seed++) {
            var params = ChatCompletionCreateParams.builder().model(alias).addUserMessage("Describe a cat as JSON.")
                    .maxCompletionTokens(200).temperature(1.0).seed(seed).responseFormat(Cat.class).build();
            var completion = client.chat().completions().create(params);
            var choice = completion.choices().getFirst();
            assertEquals("stop", choice.finishReason().asString(), "the grammar finished the object");
            Cat cat = choice.message().content().orElseThrow();
            assertTrue(cat.mood != null, "every property is required in strict mode");
        }
    }

    static final String BOUNDED_SCHEMA = """
            {"type": "object", "properties": {
               "name": {"type": "string", "maxLength": 12},
               "legs": {"type": "integer", "minimum": 0, "maximum": 8},
               "colors": {"type": "array", "items": {"enum": ["red", "green", "blue"]}, "minItems": 1, "maxItems": 3},
               "friend": {"anyOf": [{"type": "null"}, {"type": "object", "properties": {"name": {"type": "string", "pattern": "^[A-Z][a-z]{1,6}$"}}, "required": ["name"]}]}},
             "required": ["name", "legs", "colors", "friend"], "additionalProperties": false}
            """;

    @Test
    void jsonSchemaAnswersValidateAtTemperatureOneStreamedOrNot() throws Exception {
        JsonNode schema = Http.JSON.readTree(BOUNDED_SCHEMA);
        for (int seed = 0; seed < 6; seed++) {
            boolean stream = seed % 2 == 1;
            String body = "{\"model\":\"" + alias + "\",\"messages\":[{\"role\":\"user\",\"content\":\"An animal, please.\"}],"
                    + "\"temperature\":1,\"seed\":" + seed + ",\"max_tokens\":300,\"stream\":" + stream + ","
                    + "\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"animal\",\"strict\":true,\"schema\":" + BOUNDED_SCHEMA + "}}}";
            String text;
            if (stream) {
                StringBuilder sb = new StringBuilder();
                String finish = null;
                for (JsonNode chunk : http.post("/v1/chat/completions", body).events()) {
                    JsonNode ch = chunk.get("choices").get(0);
                    if (ch.path("delta").path("content").isTextual()) sb.append(ch.get("delta").get("content").asText());
                    if (ch.path("finish_reason").isTextual()) finish = ch.get("finish_reason").asText();
                }
                assertEquals("stop", finish);
                text = sb.toString();
            } else {
                JsonNode r = http.post("/v1/chat/completions", body).json();
                assertEquals("stop", r.get("choices").get(0).get("finish_reason").asText(), r.toString());
                text = r.get("choices").get(0).get("message").get("content").asText();
            }
            List<String> errors = io.sluice.grammar.JsonValidator.errors(schema, text);
            assertTrue(errors.isEmpty(), "seed " + seed + ": " + text + " -> " + errors);
        }
    }

    @Test
    void grammarAndJsonSchemaFieldsOnCompletions() throws Exception {
        JsonNode r = http.post("/v1/completions", "{\"prompt\":\"Once upon a time\",\"max_tokens\":50,\"temperature\":1,\"seed\":3,"
                + "\"grammar\":\"root ::= (\\\" \\\" [a-z]+){3} \\\".\\\"\"}").json();
        String text = r.get("choices").get(0).get("text").asText();
        assertTrue(text.matches("( [a-z]+){3}\\."), text);
        assertEquals("stop", r.get("choices").get(0).get("finish_reason").asText());
        r = http.post("/v1/completions", "{\"prompt\":\"Once upon a time\",\"max_tokens\":60,\"temperature\":0,"
                + "\"json_schema\":{\"type\":\"array\",\"items\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":99},\"minItems\":2,\"maxItems\":4}}").json();
        JsonNode arr = Http.JSON.readTree(r.get("choices").get(0).get("text").asText());
        assertTrue(arr.isArray() && arr.size() >= 2 && arr.size() <= 4, arr.toString());
        for (JsonNode n : arr) assertTrue(n.asInt() >= 1 && n.asInt() <= 99, arr.toString());
    }

    @Test
    void jsonObjectGivesAnObject() throws Exception {
        JsonNode r = http.post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"JSON!\"}],\"max_tokens\":120,"
                + "\"temperature\":0,\"response_format\":{\"type\":\"json_object\"}}").json();
        JsonNode msg = r.get("choices").get(0).get("message");
        if (r.get("choices").get(0).get("finish_reason").asText().equals("stop")) {
            assertTrue(Http.JSON.readTree(msg.get("content").asText()).isObject(), msg.toString());
        } else {
            assertTrue(msg.get("content").asText().startsWith("{"), msg.toString());
        }
    }

    @Test
    void tokenizeAndDetokenizeLikeLlamaServer() {
        var tok = model.tokenizer();
        JsonNode t = http.post("/tokenize", "{\"content\":\"Once upon a time\",\"add_special\":true}").json();
        int[] expected = tok.encode("Once upon a time", true, true);
        assertEquals(expected.length, t.get("tokens").size());
        for (int i = 0; i < expected.length; i++) assertEquals(expected[i], t.get("tokens").get(i).asInt());
        assertEquals(expected.length - 1, http.post("/tokenize", "{\"content\":\"Once upon a time\"}").json().get("tokens").size(), "no BOS by default");
        JsonNode p = http.post("/tokenize", "{\"content\":[\"Once\", 42, \" upon\"],\"with_pieces\":true}").json().get("tokens");
        assertEquals(42, p.get(1).get("id").asInt(), "ids in the content pass through");
        for (JsonNode e : p) assertEquals(new String(tok.tokenBytes(e.get("id").asInt(), true), StandardCharsets.UTF_8), e.get("piece").asText());
        StringBuilder ids = new StringBuilder();
        for (int i = 1; i < expected.length; i++) ids.append(i > 1 ? "," : "").append(expected[i]);
        assertEquals(" Once upon a time", http.post("/detokenize", "{\"tokens\":[" + ids + "]}").json().get("content").asText(),
                "the pieces as they are (SentencePiece's leading space included), as llama-server gives them");
        assertError(http.post("/detokenize", "{\"tokens\":[1, 99999]}"), 400, "tokens[1]");
        assertError(http.post("/tokenize", "{\"content\":{}}"), 400, "content");
        assertError(http.post("/tokenize", "{\"content\":\"x\",\"with_pieces\":\"yes\"}"), 400, "with_pieces");
        assertError(http.post("/tokenize", "{\"content\":\"x\",\"foo\":1}"), 400, "foo");
    }
}
