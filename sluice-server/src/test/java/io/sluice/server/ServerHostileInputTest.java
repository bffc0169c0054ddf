package io.sluice.server;

import com.fasterxml.jackson.databind.JsonNode;
import io.sluice.engine.GenerationRequest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;

import static io.sluice.server.Http.assertError;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Hostile clients: absurd JSON, huge parameter values, slow or stalled bodies, floods of bad requests
 * mixed with good ones, requests racing shutdown. Each gets a 4xx OpenAI error object (or a clean
 * close), and the good requests keep being answered correctly.
 */
@Timeout(60)
class ServerHostileInputTest {
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

    /**
     * The body-stall tests need a short idle timeout. The others keep the default: with 1 s, a pooled
     * keep-alive connection the client reuses just as the server closes it fails a POST ("received no bytes").
     */
    private void withShortIdleTimeout() {
        server.stop();
        server = SluiceServer.start(engine, ServerConfig.defaults().withPort(0).withAlias("fake").withIdleTimeout(Duration.ofSeconds(1)));
        http = new Http(server.baseUrl(), null);
    }

    @AfterEach
    void stop() {
        server.stop();
    }

    private String goodText() {
        JsonNode r = http.post("/v1/completions", "{\"prompt\":\"a\",\"max_tokens\":9}").json();
        return r.get("choices").get(0).get("text").asText();
    }

    @Test
    void deepNestingNonNumbersAndOverflowingNumbersAre400() {
        String deep = "{\"prompt\":\"a\",\"metadata\":" + "[".repeat(100_000) + "]".repeat(100_000) + "}";
        long t0 = System.nanoTime();
        assertError(http.post("/v1/completions", deep), 400, null);
        assertTrue(System.nanoTime() - t0 < 5_000_000_000L, "rejected quickly");
        assertError(http.post("/v1/completions", "{\"prompt\":\"a\",\"temperature\":NaN}"), 400, null);
        assertError(http.post("/v1/completions", "{\"prompt\":\"a\",\"temperature\":1e400}"), 400, "temperature");
        assertError(http.post("/v1/completions", "{\"prompt\":\"a\",\"max_tokens\":1e400}"), 400, "max_tokens");
        assertError(http.post("/v1/completions", "{\"prompt\":\"a\",\"max_tokens\":2147483648}"), 400, "max_tokens");
        assertError(http.post("/v1/completions", "{\"prompt\":\"a\",\"seed\":123456789012345678901234567890}"), 400, "seed");
        assertError(http.post("/v1/completions", "{\"prompt\":\"a\",\"logprobs\":1000}"), 400, "logprobs");
        assertEquals("Once upon", goodText());
    }

    @Test
    void aHugeRepeatWindowIsClampedToTheContextNotAllocated() {
        // The sampler keeps a window array of repeat_last_n ids: 2^31 - 1 must not reach it (that killed the engine thread).
        assertEquals(200, http.post("/v1/completions", "{\"prompt\":\"a\",\"max_tokens\":2,\"repeat_penalty\":1.5,\"repeat_last_n\":2147483647}").status());
        GenerationRequest r = engine.requests.getLast();
        assertEquals(CTX, r.sampling().penaltyLastN());
        assertEquals(200, http.post("/v1/completions", "{\"prompt\":\"a\",\"max_tokens\":2,\"repeat_last_n\":-1}").status());
        assertEquals(-1, engine.requests.getLast().sampling().penaltyLastN());
    }

    @Test
    void hugeLogitBiasAndStopValuesAreHandled() {
        StringBuilder bias = new StringBuilder("{");
        for (int i = 0; i < 100_000; i++) bias.append(i > 0 ? "," : "").append('"').append(i).append("\":1");
        assertError(http.post("/v1/completions", "{\"prompt\":\"a\",\"logit_bias\":" + bias + "}}"), 400, "logit_bias");
        StringBuilder all = new StringBuilder("{");
        for (int i = 0; i < FakeEngine.VOCAB; i++) all.append(i > 0 ? "," : "").append('"').append(i).append("\":-100");
        assertEquals(200, http.post("/v1/completions", "{\"prompt\":\"a\",\"max_tokens\":2,\"logit_bias\":" + all + "}}").status());
        assertEquals(FakeEngine.VOCAB, engine.requests.getLast().sampling().logitBias().size());
        // Long stop strings pass through (the FakeEngine's matcher is quadratic, so "long" here is 8 KiB; EngineLimitsTest covers MiBs).
        String hugeStop = "x".repeat(8 << 10);
        JsonNode r = http.post("/v1/completions", "{\"prompt\":\"a\",\"max_tokens\":9,\"stop\":[\"" + hugeStop + "\"]}").json();
        assertEquals("Once upon", r.get("choices").get(0).get("text").asText(), "a stop string longer than the output never matches");
    }

    @Test
    void nulAndEmojiInPromptsAreServedLoneSurrogatesRefused() {
        JsonNode r = http.post("/v1/completions", "{\"prompt\":\"a\\u0000b \uD83D\uDE00 c\",\"max_tokens\":3}").json();
        assertEquals("Onc", r.get("choices").get(0).get("text").asText());
        int[] ids = engine.requests.getLast().promptTokens();
        assertEquals(0, ids[2], "the NUL reaches the tokenizer as byte 0, BOS first: " + java.util.Arrays.toString(ids));
        assertEquals(200, http.post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"\\u0000\uD83E\uDD80\"}],\"max_tokens\":2}").status());
        // A lone surrogate escape is no Unicode text: refused, naming the field (see ProtocolErrorTest for the byte-level cases).
        assertError(http.post("/v1/completions", "{\"prompt\":\"a \\ud800 c\",\"max_tokens\":3}"), 400, "prompt");
    }

    /** Sends headers and part of a declared body over a raw socket, then runs {@code more}, then reads the whole answer. */
    private String partialBody(String firstPart, ThrowingConsumer<OutputStream> more) throws Exception {
        try (Socket s = new Socket("127.0.0.1", server.port())) {
            s.setSoTimeout(20_000);
            OutputStream out = s.getOutputStream();
            out.write(("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n" + firstPart)
                    .getBytes(StandardCharsets.UTF_8));
            out.flush();
            more.accept(out);
            InputStream in = s.getInputStream();
            ByteArrayOutputStream got = new ByteArrayOutputStream();
            byte[] buf = new byte[4096];
            try {
                for (int n; (n = in.read(buf)) > 0; ) {
                    got.write(buf, 0, n);
                    if (got.toString(StandardCharsets.UTF_8).contains("\"error\"") && got.toString(StandardCharsets.UTF_8).endsWith("}}")) break;
                }
            } catch (java.net.SocketException closed) {
                // The server may close right after answering.
            }
            return got.toString(StandardCharsets.UTF_8);
        }
    }

    interface ThrowingConsumer<T> {
        void accept(T t) throws Exception;
    }

    @Test
    void aStalledBodyGets408AndOthersAreServedMeanwhile() throws Exception {
        long t0 = System.nanoTime();
        AtomicInteger servedWhileStalled = new AtomicInteger();
        withShortIdleTimeout();
        String answer = partialBody("{\"prompt\":", out -> {
            if (goodText().equals("Once upon")) servedWhileStalled.incrementAndGet();
        });
        double s = (System.nanoTime() - t0) / 1e9;
        assertTrue(answer.startsWith("HTTP/1.1 408"), answer);
        assertTrue(answer.contains("\"code\":\"request_timeout\""), answer);
        assertTrue(s < 15, "answered after the 1 s body idle timeout, not the connection's: " + s);
        assertEquals(1, servedWhileStalled.get());
    }

    @Test
    void aTrickledBodyIsRefusedWith408() throws Exception {
        withShortIdleTimeout();
        String answer = partialBody("{", out -> {
            for (int i = 0; i < 6; i++) { // ~1 byte per 600 ms: below the minimum rate, above the idle timeout
                Thread.sleep(600);
                try {
                    out.write(' ');
                    out.flush();
                } catch (java.io.IOException closed) {
                    return;
                }
            }
        });
        assertTrue(answer.startsWith("HTTP/1.1 408"), answer);
        assertTrue(answer.contains("\"error\""), answer);
    }

    @Test
    void aFloodOfBadRequestsDoesNotDisturbTheGoodOnes() throws Exception {
        String[] bad = {"{", "[]", "{\"prompt\":\"a\",\"max_tokens\":-3}", "{\"prompt\":[1,99999]}", "{\"prompt\":\"a\",\"temperature\":NaN}",
                "{\"prompt\":\"" + "z".repeat(CTX + 10) + "\"}", "{\"prompt\":\"a\",\"n\":5}", "{\"prompt\":\"a\",\"frobnicate\":1}"};
        ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
        AtomicInteger good = new AtomicInteger(), refused = new AtomicInteger();
        List<Thread> ts = new ArrayList<>();
        for (int t = 0; t < 12; t++) {
            int id = t;
            ts.add(Thread.ofVirtual().start(() -> {
                for (int i = 0; i < 20; i++) {
                    try {
                        if ((id + i) % 3 == 0) {
                            Http.Resp r = http.post("/v1/completions", "{\"prompt\":\"a\",\"max_tokens\":9}");
                            if (r.status() == 200 && r.json().get("choices").get(0).get("text").asText().equals("Once upon")) good.incrementAndGet();
                            else failures.add("good request got " + r.status() + " " + r.body());
                        } else {
                            Http.Resp r = http.post("/v1/completions", bad[(id * 7 + i) % bad.length]);
                            assertError(r, 400, null);
                            refused.incrementAndGet();
                        }
                    } catch (Throwable e) {
                        failures.add(e.toString());
                    }
                }
            }));
        }
        for (Thread t : ts) t.join();
        assertTrue(failures.isEmpty(), () -> failures.size() + " failures, e.g. " + failures.peek());
        assertEquals(80, good.get());
        assertEquals(160, refused.get());
        assertEquals(200, http.get("/health").status());
    }

    @Test
    void requestsRacingShutdownEndCleanlyAndNeverHang() throws Exception {
        engine.tokenDelayMs = 20;
        ConcurrentLinkedQueue<String> outcomes = new ConcurrentLinkedQueue<>();
        List<Thread> ts = new ArrayList<>();
        for (int t = 0; t < 8; t++) {
            boolean stream = t % 2 == 0;
            ts.add(Thread.ofVirtual().start(() -> {
                try {
                    Http.Resp r = http.post("/v1/completions", "{\"prompt\":\"a\",\"max_tokens\":100,\"stream\":" + stream + "}");
                    if (r.status() == 200) outcomes.add(stream ? "stream-ended" : "complete");
                    else {
                        assertError(r, 503, null);
                        outcomes.add("503");
                    }
                } catch (AssertionError e) {
                    // Http wraps IOExceptions: the connection was closed by the stopping server.
                    outcomes.add(e.getMessage().startsWith("request failed") ? "closed" : "bad: " + e.getMessage());
                }
            }));
        }
        Thread.sleep(200);
        server.stop();
        for (Thread t : ts) t.join(20_000);
        for (Thread t : ts) assertFalse(t.isAlive(), "a client hung after shutdown");
        assertEquals(8, outcomes.size(), outcomes::toString);
        assertTrue(outcomes.stream().noneMatch(o -> o.startsWith("bad")), outcomes::toString);
        assertTrue(outcomes.stream().noneMatch(o -> o.equals("complete")), "100 tokens at 20 ms cannot finish in 200 ms: " + outcomes);
        server = SluiceServer.start(engine, ServerConfig.defaults().withPort(0)); // for @AfterEach
    }
}
