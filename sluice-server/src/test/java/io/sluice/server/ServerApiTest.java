package io.sluice.server;

import com.fasterxml.jackson.databind.JsonNode;
import io.sluice.engine.EngineException;
import io.sluice.engine.GenerationRequest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static io.sluice.server.Http.assertError;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The HTTP API against a fake engine: formats, parameters, auth, errors, cancellation. */
@Timeout(60)
class ServerApiTest {
    static final int CTX = 256;
    FakeEngine engine;
    SluiceServer server;
    Http http;

    @BeforeEach
    void start() {
        engine = new FakeEngine(CTX);
        server = SluiceServer.start(engine, ServerConfig.defaults().withPort(0).withAlias("fake"));
        http = new Http(server.baseUrl(), null);
    }

    @AfterEach
    void stop() {
        server.stop();
    }

    static String chatml(String... roleContent) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < roleContent.length; i += 2) sb.append("<|im_start|>").append(roleContent[i]).append('\n').append(roleContent[i + 1]).append("<|im_end|>\n");
        return sb.append("<|im_start|>assistant\n").toString();
    }

    @Test
    void healthIs503UntilTheEngineIsSet() {
        SluiceServer s = SluiceServer.start(ServerConfig.defaults().withPort(0));
        try {
            Http h = new Http(s.baseUrl(), null);
            assertEquals(503, h.get("/health").status());
            assertError(h.get("/v1/models"), 503, null);
            assertError(h.post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}"), 503, null);
            s.setEngine(engine);
            assertEquals(200, h.get("/health").status());
            assertEquals("ok", h.get("/health").json().get("status").asText());
            assertEquals("model", h.get("/v1/models").json().get("data").get(0).get("id").asText(), "no file, no alias: generic id");
            engine.alive = false; // an engine that can no longer serve is not healthy
            assertEquals(503, h.get("/health").status());
        } finally {
            engine.alive = true;
            s.stop();
        }
    }

    @Test
    void modelsListsTheAlias() {
        JsonNode m = http.get("/v1/models").json();
        assertEquals("list", m.get("object").asText());
        assertEquals(1, m.get("data").size());
        assertEquals("fake", m.get("data").get(0).get("id").asText());
        assertEquals("model", m.get("data").get(0).get("object").asText());
        assertEquals("fake", http.get("/v1/models/fake").json().get("id").asText());
        assertError(http.get("/v1/models/gpt-4"), 404, "model");
    }

    @Test
    void chatCompletionUsesTemplateAndReportsUsage() {
        Http.Resp r = http.post("/v1/chat/completions", """
                {"model":"fake","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}],"max_tokens":5}""");
        assertEquals(200, r.status(), r.body());
        JsonNode j = r.json();
        assertEquals("chat.completion", j.get("object").asText());
        assertTrue(j.get("id").asText().startsWith("chatcmpl-"));
        assertEquals("fake", j.get("model").asText());
        JsonNode c = j.get("choices").get(0);
        assertEquals("assistant", c.get("message").get("role").asText());
        assertEquals("Once ", c.get("message").get("content").asText());
        assertEquals("length", c.get("finish_reason").asText());
        // The prompt the engine got: BOS + the ChatML rendering, as bytes.
        GenerationRequest req = engine.requests.getLast();
        String expected = chatml("system", "Be brief.", "user", "Hi");
        assertEquals(FakeEngine.BOS, req.promptTokens()[0]);
        assertEquals(expected, new String(toBytes(req.promptTokens(), 1), StandardCharsets.UTF_8));
        assertEquals(5, req.maxTokens());
        JsonNode u = j.get("usage");
        assertEquals(expected.length() + 1, u.get("prompt_tokens").asInt());
        assertEquals(5, u.get("completion_tokens").asInt());
        assertEquals(expected.length() + 6, u.get("total_tokens").asInt());
    }

    private static byte[] toBytes(int[] ids, int from) {
        byte[] b = new byte[ids.length - from];
        for (int i = from; i < ids.length; i++) b[i - from] = (byte) ids[i];
        return b;
    }

    @Test
    void chatRunsToEndOfGenerationWithoutMaxTokens() {
        JsonNode j = http.post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Hi\"}]}]}").json();
        assertEquals(engine.script, j.get("choices").get(0).get("message").get("content").asText());
        assertEquals("stop", j.get("choices").get(0).get("finish_reason").asText());
        assertEquals(0, engine.requests.getLast().maxTokens(), "no limit: until the context is full");
    }

    @Test
    void chatStreamingSendsRoleThenDeltasThenUsageAndDone() {
        Http.Resp r = http.post("/v1/chat/completions", """
                {"messages":[{"role":"user","content":"Hi"}],"stream":true,"stream_options":{"include_usage":true}}""");
        assertEquals(200, r.status(), r.body());
        assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("text/event-stream"));
        List<JsonNode> ev = r.events();
        String id = ev.getFirst().get("id").asText();
        assertEquals("assistant", ev.getFirst().get("choices").get(0).get("delta").get("role").asText());
        StringBuilder text = new StringBuilder();
        String finish = null;
        for (JsonNode e : ev) {
            assertEquals(id, e.get("id").asText());
            assertEquals("chat.completion.chunk", e.get("object").asText());
            if (e.get("choices").isEmpty()) continue;
            JsonNode ch = e.get("choices").get(0);
            if (ch.get("delta").has("content")) text.append(ch.get("delta").get("content").asText());
            if (!ch.get("finish_reason").isNull()) {
                assertEquals(null, finish, "one finish_reason");
                finish = ch.get("finish_reason").asText();
            }
            assertTrue(e.get("usage").isNull());
        }
        assertEquals(engine.script, text.toString());
        assertEquals("stop", finish);
        JsonNode last = ev.getLast();
        assertEquals(0, last.get("choices").size());
        assertEquals(engine.script.length() + 1, last.get("usage").get("completion_tokens").asInt(), "the script plus EOS");
    }

    @Test
    void streamingWithoutIncludeUsageHasNoUsage() {
        List<JsonNode> ev = http.post("/v1/chat/completions", """
                {"messages":[{"role":"user","content":"Hi"}],"stream":true,"max_tokens":3}""").events();
        for (JsonNode e : ev) {
            assertFalse(e.has("usage"));
            assertEquals(1, e.get("choices").size());
        }
        assertEquals("length", ev.getLast().get("choices").get(0).get("finish_reason").asText());
    }

    @Test
    void textCompletionAddsBosAndDefaultsTo16Tokens() {
        JsonNode j = http.post("/v1/completions", "{\"model\":\"fake\",\"prompt\":\"abc\"}").json();
        assertEquals("text_completion", j.get("object").asText());
        assertEquals(engine.script.substring(0, 16), j.get("choices").get(0).get("text").asText());
        assertEquals("length", j.get("choices").get(0).get("finish_reason").asText());
        assertArrayEquals(new int[]{FakeEngine.BOS, 'a', 'b', 'c'}, engine.requests.getLast().promptTokens());
        assertEquals(4, j.get("usage").get("prompt_tokens").asInt());
        // token-id prompts go in as they are
        http.post("/v1/completions", "{\"prompt\":[5,6,7],\"max_tokens\":2}");
        assertArrayEquals(new int[]{5, 6, 7}, engine.requests.getLast().promptTokens());
    }

    @Test
    void textCompletionStreams() {
        List<JsonNode> ev = http.post("/v1/completions", "{\"prompt\":[\"abc\"],\"max_tokens\":40,\"stream\":true}").events();
        StringBuilder text = new StringBuilder();
        for (JsonNode e : ev) {
            assertEquals("text_completion", e.get("object").asText());
            text.append(e.get("choices").get(0).get("text").asText());
        }
        assertEquals(engine.script, text.toString());
        assertEquals("stop", ev.getLast().get("choices").get(0).get("finish_reason").asText());
    }

    @Test
    void stopStringsArePassedAndEndWithStop() {
        JsonNode j = http.post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"stop\":\"time\"}").json();
        assertEquals("Once upon a ", j.get("choices").get(0).get("message").get("content").asText());
        assertEquals("stop", j.get("choices").get(0).get("finish_reason").asText());
        http.post("/v1/completions", "{\"prompt\":\"x\",\"stop\":[\"cat\",\"dog\"]}");
        assertEquals(List.of("cat", "dog"), engine.requests.getLast().stop());
    }

    @Test
    void chatLogprobs() {
        JsonNode c = http.post("/v1/chat/completions", """
                {"messages":[{"role":"user","content":"Hi"}],"max_tokens":4,"logprobs":true,"top_logprobs":2}""").json().get("choices").get(0);
        JsonNode content = c.get("logprobs").get("content");
        assertEquals(4, content.size());
        assertEquals("O", content.get(0).get("token").asText());
        assertEquals(-0.25, content.get(0).get("logprob").asDouble(), 1e-6);
        assertEquals('O', content.get(0).get("bytes").get(0).asInt());
        assertEquals(2, content.get(0).get("top_logprobs").size());
        assertEquals(2, engine.requests.getLast().topLogprobs());
        // streamed: each content chunk carries its token's logprobs
        List<JsonNode> ev = http.post("/v1/chat/completions", """
                {"messages":[{"role":"user","content":"Hi"}],"max_tokens":3,"logprobs":true,"stream":true}""").events();
        int withLogprobs = 0;
        for (JsonNode e : ev) if (e.get("choices").get(0).get("logprobs").isObject()) withLogprobs++;
        assertEquals(3, withLogprobs);
        assertEquals(0, engine.requests.getLast().topLogprobs());
    }

    @Test
    void completionLogprobs() {
        JsonNode lp = http.post("/v1/completions", "{\"prompt\":\"x\",\"max_tokens\":3,\"logprobs\":1}").json().get("choices").get(0).get("logprobs");
        assertEquals("[\"O\",\"n\",\"c\"]", lp.get("tokens").toString());
        assertEquals(3, lp.get("token_logprobs").size());
        assertEquals("[0,1,2]", lp.get("text_offset").toString());
        assertEquals(1, lp.get("top_logprobs").get(0).size());
    }

    @Test
    void samplingParametersReachTheEngine() {
        http.post("/v1/chat/completions", """
                {"messages":[{"role":"user","content":"Hi"}],"temperature":0.5,"top_p":0.9,"seed":42,"presence_penalty":0.5,
                 "frequency_penalty":-0.25,"logit_bias":{"65":5,"66":-100},"top_k":7,"max_completion_tokens":3,"n":1,"user":"u"}""");
        var s = engine.requests.getLast().sampling();
        assertEquals(0.5f, s.temperature());
        assertEquals(0.9f, s.topP());
        assertEquals(42L, s.seed());
        assertEquals(0.5f, s.presencePenalty());
        assertEquals(-0.25f, s.frequencyPenalty());
        assertEquals(7, s.topK());
        assertEquals(5f, s.logitBias().get(65));
        assertEquals(-100f, s.logitBias().get(66));
        assertEquals(3, engine.requests.getLast().maxTokens());
        http.post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"max_tokens\":1}");
        assertEquals(1f, engine.requests.getLast().sampling().temperature(), "OpenAI's default temperature is 1");
        http.post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"max_tokens\":1,\"temperature\":0}");
        assertTrue(engine.requests.getLast().sampling().greedy());
    }

    @Test
    void apiKeyIsRequiredOnV1() {
        SluiceServer s = SluiceServer.start(engine, ServerConfig.defaults().withPort(0).withApiKey("sekrit"));
        try {
            Http anon = new Http(s.baseUrl(), null);
            assertEquals("invalid_api_key", assertError(anon.get("/v1/models"), 401, null).get("code").asText());
            assertError(anon.post("/v1/chat/completions", "{}"), 401, null);
            assertError(new Http(s.baseUrl(), "wrong").get("/v1/models"), 401, null);
            assertEquals(200, anon.get("/health").status(), "health is open for probes");
            Http ok = new Http(s.baseUrl(), "sekrit");
            assertEquals(200, ok.get("/v1/models").status());
            assertEquals(200, ok.post("/v1/completions", "{\"prompt\":\"a\",\"max_tokens\":1}").status());
        } finally {
            s.stop();
        }
    }

    static Stream<Arguments> badRequests() {
        String msgs = "\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]";
        String chat = "/v1/chat/completions", cmpl = "/v1/completions";
        return Stream.of(
                Arguments.of(chat, "{\"messages\":[{\"role\":\"user\",", 400, null),
                Arguments.of(chat, "not json", 400, null),
                Arguments.of(chat, "", 400, null),
                Arguments.of(chat, "[1,2]", 400, null),
                Arguments.of(chat, "{" + msgs + "} trailing", 400, null),
                Arguments.of(chat, "{" + msgs + "," + msgs + "}", 400, null),
                Arguments.of(chat, "{}", 400, "messages"),
                Arguments.of(chat, "{\"messages\":[]}", 400, "messages"),
                Arguments.of(chat, "{\"messages\":\"Hi\"}", 400, "messages"),
                Arguments.of(chat, "{\"messages\":[\"Hi\"]}", 400, "messages[0]"),
                Arguments.of(chat, "{\"messages\":[{\"content\":\"Hi\"}]}", 400, "messages[0].role"),
                Arguments.of(chat, "{\"messages\":[{\"role\":\"wizard\",\"content\":\"Hi\"}]}", 400, "messages[0].role"),
                Arguments.of(chat, "{\"messages\":[{\"role\":\"user\",\"content\":5}]}", 400, "messages[0].content"),
                Arguments.of(chat, "{\"messages\":[{\"role\":\"user\"}]}", 400, "messages[0].content"),
                Arguments.of(chat, "{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\",\"colour\":\"red\"}]}", 400, "messages[0].colour"),
                Arguments.of(chat, "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":{}}]}]}", 400, "messages[0].content[0].type"),
                Arguments.of(chat, "{" + msgs + ",\"model\":\"gpt-4\"}", 404, "model"),
                Arguments.of(chat, "{" + msgs + ",\"model\":7}", 400, "model"),
                Arguments.of(chat, "{" + msgs + ",\"frobnicate\":true}", 400, "frobnicate"),
                Arguments.of(chat, "{" + msgs + ",\"max_tokens\":0}", 400, "max_tokens"),
                Arguments.of(chat, "{" + msgs + ",\"max_tokens\":-1}", 400, "max_tokens"),
                Arguments.of(chat, "{" + msgs + ",\"max_tokens\":1.5}", 400, "max_tokens"),
                Arguments.of(chat, "{" + msgs + ",\"max_tokens\":\"10\"}", 400, "max_tokens"),
                Arguments.of(chat, "{" + msgs + ",\"max_tokens\":1000000000000}", 400, "max_tokens"),
                Arguments.of(chat, "{" + msgs + ",\"max_tokens\":100000}", 400, "max_tokens"),
                Arguments.of(chat, "{" + msgs + ",\"max_completion_tokens\":0}", 400, "max_completion_tokens"),
                Arguments.of(chat, "{" + msgs + ",\"temperature\":\"hot\"}", 400, "temperature"),
                Arguments.of(chat, "{" + msgs + ",\"temperature\":3}", 400, "temperature"),
                Arguments.of(chat, "{" + msgs + ",\"top_p\":1.5}", 400, "top_p"),
                Arguments.of(chat, "{" + msgs + ",\"presence_penalty\":5}", 400, "presence_penalty"),
                Arguments.of(chat, "{" + msgs + ",\"seed\":\"x\"}", 400, "seed"),
                Arguments.of(chat, "{" + msgs + ",\"n\":2}", 400, "n"),
                Arguments.of(chat, "{" + msgs + ",\"stream\":\"yes\"}", 400, "stream"),
                Arguments.of(chat, "{" + msgs + ",\"stream\":true,\"stream_options\":{\"include_usage\":true,\"x\":1}}", 400, "stream_options.x"),
                Arguments.of(chat, "{" + msgs + ",\"stop\":[1]}", 400, "stop"),
                Arguments.of(chat, "{" + msgs + ",\"stop\":[\"\"]}", 400, "stop"),
                Arguments.of(chat, "{" + msgs + ",\"logit_bias\":{\"abc\":1}}", 400, "logit_bias"),
                Arguments.of(chat, "{" + msgs + ",\"logit_bias\":{\"999999\":1}}", 400, "logit_bias"),
                Arguments.of(chat, "{" + msgs + ",\"logit_bias\":{\"5\":1000}}", 400, "logit_bias"),
                Arguments.of(chat, "{" + msgs + ",\"top_logprobs\":3}", 400, "top_logprobs"),
                Arguments.of(chat, "{" + msgs + ",\"logprobs\":true,\"top_logprobs\":21}", 400, "top_logprobs"),
                Arguments.of(chat, "{" + msgs + ",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],\"response_format\":{\"type\":\"json_object\"}}", 400, "tools"),
                Arguments.of(chat, "{" + msgs + ",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"g\"}}}", 400, "tool_choice.function.name"),
                Arguments.of(chat, "{" + msgs + ",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],\"tool_choice\":\"always\"}", 400, "tool_choice"),
                Arguments.of(chat, "{" + msgs + ",\"tool_choice\":\"required\"}", 400, "tool_choice"),
                Arguments.of(chat, "{" + msgs + ",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],\"parallel_tool_calls\":\"yes\"}", 400, "parallel_tool_calls"),
                Arguments.of(chat, "{" + msgs + ",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":{\"type\":\"object\",\"not\":{}}}}],\"tool_choice\":\"required\"}", 400, "tools"),
                Arguments.of(chat, "{" + msgs + ",\"reasoning_format\":\"hidden\"}", 400, "reasoning_format"),
                Arguments.of(chat, "{" + msgs + ",\"reasoning_effort\":\"max\"}", 400, "reasoning_effort"),
                Arguments.of(chat, "{" + msgs + ",\"response_format\":{\"type\":\"json_schema\"}}", 400, "response_format.json_schema"),
                Arguments.of(chat, "{" + msgs + ",\"response_format\":{\"type\":\"xml\"}}", 400, "response_format.type"),
                Arguments.of(chat, "{" + msgs + ",\"response_format\":\"json\"}", 400, "response_format"),
                Arguments.of(chat, "{" + msgs + ",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"x\",\"schema\":{\"type\":\"object\",\"properties\":{\"a\":{\"not\":{}}}}}}}", 400, "response_format.json_schema.schema"),
                Arguments.of(chat, "{" + msgs + ",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"schema\":{},\"strict\":\"yes\"}}}", 400, "response_format.json_schema.strict"),
                Arguments.of(chat, "{" + msgs + ",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"schema\":{},\"extra\":1}}}", 400, "response_format.json_schema.extra"),
                Arguments.of(chat, "{" + msgs + ",\"response_format\":{\"type\":\"json_object\"},\"grammar\":\"root ::= \\\"a\\\"\"}", 400, "grammar"),
                Arguments.of(chat, "{" + msgs + ",\"grammar\":\"root ::= undefined-rule\"}", 400, "grammar"),
                Arguments.of(chat, "{" + msgs + ",\"grammar\":42}", 400, "grammar"),
                Arguments.of(cmpl, "{\"prompt\":\"a\",\"json_schema\":{\"type\":\"string\",\"format\":\"hostname\"}}", 400, "json_schema"),
                Arguments.of(cmpl, "{\"prompt\":\"a\",\"json_schema\":5}", 400, "json_schema"),
                Arguments.of(cmpl, "{\"prompt\":\"a\",\"grammar\":\"root ::= [\"}", 400, "grammar"),
                Arguments.of(cmpl, "{\"prompt\":\"a\",\"response_format\":{\"type\":\"text\"}}", 400, "response_format"),
                Arguments.of(chat, "{\"messages\":[{\"role\":\"user\",\"content\":\"" + "x".repeat(300) + "\"}]}", 400, "messages"),
                Arguments.of(cmpl, "{}", 400, "prompt"),
                Arguments.of(cmpl, "{\"prompt\":\"\"}", 400, "prompt"),
                Arguments.of(cmpl, "{\"prompt\":42}", 400, "prompt"),
                Arguments.of(cmpl, "{\"prompt\":[\"a\",\"b\"]}", 400, "prompt"),
                Arguments.of(cmpl, "{\"prompt\":[1,99999]}", 400, "prompt"),
                Arguments.of(cmpl, "{\"prompt\":[1,-1]}", 400, "prompt"),
                Arguments.of(cmpl, "{\"prompt\":\"a\",\"echo\":true}", 400, "echo"),
                Arguments.of(cmpl, "{\"prompt\":\"a\",\"best_of\":3}", 400, "best_of"),
                Arguments.of(cmpl, "{\"prompt\":\"a\",\"logprobs\":true}", 400, "logprobs"),
                Arguments.of(cmpl, "{\"prompt\":\"a\",\"messages\":[]}", 400, "messages"),
                Arguments.of(cmpl, "{\"prompt\":\"" + "y".repeat(400) + "\"}", 400, "prompt"));
    }

    @ParameterizedTest
    @MethodSource("badRequests")
    void badInputGets4xxWithAnOpenAiErrorObject(String path, String body, int status, String param) {
        assertError(http.post(path, body), status, param);
        assertEquals(200, http.get("/health").status(), "server still fine");
    }

    @Test
    void promptLongerThanContextNamesTheCode() {
        JsonNode e = assertError(http.post("/v1/completions", "{\"prompt\":\"" + "z".repeat(CTX) + "\"}"), 400, "prompt");
        assertEquals("context_length_exceeded", e.get("code").asText());
        assertTrue(e.get("message").asText().contains(Integer.toString(CTX)));
    }

    @Test
    void oversizedBodiesAre413EvenWhenChunked() {
        SluiceServer s = SluiceServer.start(engine, ServerConfig.defaults().withPort(0).withMaxBodyBytes(1000));
        try {
            Http h = new Http(s.baseUrl(), null);
            String big = "{\"prompt\":\"" + "a".repeat(5000) + "\"}";
            assertError(h.post("/v1/completions", big), 413, null);
            // No Content-Length: the limit must hold while reading.
            byte[] bytes = big.getBytes(StandardCharsets.UTF_8);
            var chunked = HttpRequest.newBuilder(URI.create(s.baseUrl() + "/v1/completions")).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new java.io.ByteArrayInputStream(bytes)));
            assertError(h.send(chunked), 413, null);
            assertEquals(200, h.post("/v1/completions", "{\"prompt\":\"a\",\"max_tokens\":1}").status());
        } finally {
            s.stop();
        }
    }

    @Test
    void queueFullIs429WithRetryAfter() {
        engine.refuse = new EngineException(EngineException.Kind.QUEUE_FULL, "queue is full");
        Http.Resp r = http.post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}");
        assertError(r, 429, null);
        assertTrue(r.headers().firstValue("Retry-After").isPresent());
        engine.refuse = new EngineException(EngineException.Kind.SHUTDOWN, "bye");
        assertError(http.post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}"), 503, null);
    }

    @Test
    void unknownEndpointsAndMethods() {
        assertError(http.get("/v1/engines"), 404, null);
        assertError(http.post("/nope", "{}"), 404, null);
        Http.Resp r = http.get("/v1/chat/completions");
        assertTrue(r.status() == 405 || r.status() == 404, "status " + r.status());
        assertError(r, r.status(), null);
    }

    @Test
    void clientDisconnectCancelsTheGeneration() throws Exception {
        engine.script = "la ".repeat(80);
        engine.tokenDelayMs = 20;
        String body = "{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"stream\":true}";
        try (Socket sock = new Socket("127.0.0.1", server.port())) {
            sock.setSoTimeout(10_000);
            OutputStream out = sock.getOutputStream();
            out.write(("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
                    + body.length() + "\r\n\r\n" + body).getBytes(StandardCharsets.UTF_8));
            out.flush();
            InputStream in = sock.getInputStream();
            String seen = "";
            byte[] buf = new byte[4096];
            while (count(seen, "\"content\":\"") < 4) { // the role chunk plus a few tokens
                int n = in.read(buf);
                assertTrue(n > 0, "stream ended early: " + seen);
                seen += new String(buf, 0, n, StandardCharsets.UTF_8);
            }
        }
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (engine.cancelled.get() == 0 && System.nanoTime() < deadline) Thread.sleep(20);
        assertEquals(1, engine.cancelled.get(), "the generation was cancelled");
        assertEquals(0, engine.running.get());
        String metrics = http.get("/metrics").body();
        assertTrue(metrics.contains("sluice_requests_cancelled_total 1.0"), metrics);
    }

    private static int count(String s, String sub) {
        int n = 0;
        for (int i = s.indexOf(sub); i >= 0; i = s.indexOf(sub, i + 1)) n++;
        return n;
    }

    @Test
    void metricsArePrometheusText() {
        engine.tokenDelayMs = 2;
        http.post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"max_tokens\":5}");
        http.post("/v1/chat/completions", "{\"messages\":[]}");
        Http.Resp r = http.get("/metrics");
        assertEquals(200, r.status());
        assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("text/plain"));
        String m = r.body();
        List<String> missing = new ArrayList<>();
        for (String want : List.of(
                "sluice_http_requests_total{endpoint=\"/v1/chat/completions\",status=\"200\"} 1.0",
                "sluice_http_requests_total{endpoint=\"/v1/chat/completions\",status=\"400\"} 1.0",
                "sluice_time_to_first_token_seconds_count 1",
                "sluice_inter_token_latency_seconds_count 4",
                "sluice_time_to_first_token_seconds_bucket{le=",
                "sluice_kv_blocks_capacity 100.0", "sluice_kv_blocks_cached 3.0", "sluice_kv_blocks_free 100.0",
                "sluice_prefix_cache_hit_tokens_total 7.0", "sluice_requests_waiting 0.0", "sluice_preemptions_total 0.0",
                "sluice_prompt_tokens_total", "sluice_generation_tokens_total",
                "sluice_speculative_drafted_tokens_total 40.0", "sluice_speculative_accepted_tokens_total 24.0",
                "sluice_speculative_acceptance_rate 0.6",
                "sluice_speculative_source_drafted_tokens_total{source=\"ngram\"} 30.0",
                "sluice_speculative_source_accepted_tokens_total{source=\"ngram\"} 20.0",
                "sluice_speculative_source_drafted_tokens_total{source=\"draft\"} 10.0",
                "sluice_speculative_source_accepted_tokens_total{source=\"draft\"} 4.0")) {
            if (!m.contains(want)) missing.add(want);
        }
        assertEquals(List.of(), missing, m);
        assertFalse(m.contains("sluice_moe_"), "a dense model has no routing histograms");
    }
}
