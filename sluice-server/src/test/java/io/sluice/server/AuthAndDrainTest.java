package io.sluice.server;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static io.sluice.server.Http.assertError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The API key (scheme case, /metrics behind it unless public, /health always open) and graceful drain. */
@Timeout(60)
class AuthAndDrainTest {
    final FakeEngine engine = new FakeEngine(256);
    SluiceServer server;

    @AfterEach
    void stop() {
        if (server != null) server.stop();
    }

    private int status(String path, String authorization) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(server.baseUrl() + path)).GET();
        if (authorization != null) b.header("Authorization", authorization);
        return new Http(server.baseUrl(), null).send(b).status();
    }

    @Test
    void theBearerSchemeIsCaseInsensitiveAndTheKeyIsNot() {
        server = SluiceServer.start(engine, ServerConfig.defaults().withPort(0).withApiKey("Sekrit"));
        assertEquals(200, status("/v1/models", "Bearer Sekrit"));
        assertEquals(200, status("/v1/models", "bearer Sekrit"));
        assertEquals(200, status("/v1/models", "BEARER Sekrit"));
        assertEquals(200, status("/v1/models", "Bearer   Sekrit  "));
        assertEquals(401, status("/v1/models", "Bearer sekrit"));
        assertEquals(401, status("/v1/models", "Basic Sekrit"));
        assertEquals(401, status("/v1/models", "Sekrit"));
        assertEquals(401, status("/v1/models", "BearerSekrit"));
        assertEquals(401, status("/v1/models", null));
        Http.Resp r = new Http(server.baseUrl(), null).send(HttpRequest.newBuilder(URI.create(server.baseUrl() + "/v1/models"))
                .header("Authorization", "Basic Sekrit").GET());
        assertTrue(assertError(r, 401, null).get("message").asText().contains("scheme"), r.body());
    }

    @Test
    void metricsNeedTheKeyUnlessPublicAndHealthIsAlwaysOpen() {
        server = SluiceServer.start(engine, ServerConfig.defaults().withPort(0).withApiKey("k"));
        assertEquals(401, status("/metrics", null));
        assertEquals(401, status("/metrics", "Bearer wrong"));
        assertEquals(200, status("/metrics", "bearer k"));
        assertEquals(200, status("/health", null));
        server.stop();
        server = SluiceServer.start(engine, ServerConfig.defaults().withPort(0).withApiKey("k").withMetricsPublic(true));
        assertEquals(200, status("/metrics", null));
        assertEquals(401, status("/v1/models", null), "--metrics-public opens /metrics only");
        assertEquals(200, status("/health", null));
        server.stop();
        server = SluiceServer.start(engine, ServerConfig.defaults().withPort(0));
        assertEquals(200, status("/metrics", null), "without a key everything is open");
    }

    /** A streaming request whose body is collected; started completes at the first chunk. */
    private record Stream(CompletableFuture<String> body, CountDownLatch started) {
    }

    private Stream stream(int maxTokens) {
        CountDownLatch started = new CountDownLatch(1);
        HttpRequest req = HttpRequest.newBuilder(URI.create(server.baseUrl() + "/v1/completions")).timeout(Duration.ofSeconds(30))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"prompt\":\"a\",\"max_tokens\":" + maxTokens + ",\"stream\":true}")).build();
        CompletableFuture<String> body = Http.CLIENT.sendAsync(req, HttpResponse.BodyHandlers.ofLines()).thenApply(r -> {
            StringBuilder sb = new StringBuilder();
            r.body().forEach(line -> {
                if (line.startsWith("data: ")) started.countDown();
                sb.append(line).append('\n');
            });
            return sb.toString();
        });
        return new Stream(body, started);
    }

    private static List<JsonNode> events(String body) {
        return new Http.Resp(200, null, body).events(); // asserts the stream ends with [DONE]
    }

    @Test
    void drainLetsRunningStreamsFinishAndRefusesNewWork() throws Exception {
        server = SluiceServer.start(engine, ServerConfig.defaults().withPort(0));
        engine.tokenDelayMs = 40;
        List<Stream> streams = new ArrayList<>();
        for (int i = 0; i < 4; i++) streams.add(stream(25)); // about 1 s each
        for (Stream s : streams) assertTrue(s.started().await(10, TimeUnit.SECONDS));
        Http http = new Http(server.baseUrl(), null);
        CompletableFuture<Boolean> drained = CompletableFuture.supplyAsync(() -> server.drain(Duration.ofSeconds(20)));
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (http.get("/health").status() != 503 && System.nanoTime() < deadline) Thread.sleep(5);
        Http.Resp health = http.get("/health");
        assertEquals(503, health.status());
        assertEquals("draining", health.json().get("status").asText());
        assertEquals("shutting_down", assertError(http.post("/v1/completions", "{\"prompt\":\"a\",\"max_tokens\":2}"), 503, null).get("code").asText());
        assertTrue(drained.get(20, TimeUnit.SECONDS), "all finished within the drain timeout");
        for (Stream s : streams) {
            List<JsonNode> ev = events(s.body().get(5, TimeUnit.SECONDS));
            assertEquals("length", ev.getLast().get("choices").get(0).get("finish_reason").asText(), "finished normally");
            StringBuilder text = new StringBuilder();
            for (JsonNode e : ev) text.append(e.get("choices").get(0).get("text").asText());
            assertEquals(25, text.length());
        }
        assertEquals(0, engine.cancelled.get());
    }

    @Test
    void streamsStillRunningAtTheDrainTimeoutEndWithAnErrorEvent() throws Exception {
        server = SluiceServer.start(engine, ServerConfig.defaults().withPort(0));
        engine.tokenDelayMs = 50;
        List<Stream> streams = new ArrayList<>();
        for (int i = 0; i < 3; i++) streams.add(stream(200)); // 10 s each: cannot finish
        for (Stream s : streams) assertTrue(s.started().await(10, TimeUnit.SECONDS));
        CompletableFuture<String> plain = CompletableFuture.supplyAsync(() -> new Http(server.baseUrl(), null)
                .post("/v1/completions", "{\"prompt\":\"a\",\"max_tokens\":200}").body());
        Thread.sleep(200);
        long t0 = System.nanoTime();
        assertFalse(server.drain(Duration.ofMillis(500)));
        assertTrue((System.nanoTime() - t0) / 1e9 < 5, "the drain timeout bounds the shutdown");
        for (Stream s : streams) {
            List<JsonNode> ev = events(s.body().get(5, TimeUnit.SECONDS));
            JsonNode last = ev.getLast();
            assertTrue(last.has("error"), "a cut stream ends with an error event before [DONE]: " + last);
            assertEquals("cancelled", last.get("error").get("code").asText());
        }
        JsonNode err = Http.JSON.readTree(plain.get(5, TimeUnit.SECONDS)).get("error");
        assertEquals("cancelled", err.get("code").asText(), "a non-streaming request gets a 503 error object");
        assertEquals(4, engine.cancelled.get());
    }
}
