package io.sluice.server;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Slow and greedy clients against the connection limits: trickled headers are cut at the header deadline,
 * idle keep-alive connections close, a flood beyond the per-client or total cap is refused while other
 * clients are served, and a generation is never cut for being slow to produce tokens.
 */
@Timeout(60)
class SlowClientTest {
    FakeEngine engine = new FakeEngine(256);
    SluiceServer server;

    private SluiceServer start(ServerConfig cfg) {
        server = SluiceServer.start(engine, cfg.withPort(0).withAlias("fake"));
        return server;
    }

    @AfterEach
    void stop() {
        if (server != null) server.stop();
    }

    private static String get(String path) {
        return "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n";
    }

    private int healthFrom(String localAddress) throws IOException {
        try (Socket s = RawHttp.connect(server.port(), localAddress)) {
            s.getOutputStream().write(get("/health").getBytes(StandardCharsets.ISO_8859_1));
            RawHttp.Response r = RawHttp.read(s.getInputStream());
            return r == null ? -1 : r.status();
        }
    }

    /** Writes parts with a pause between them until the server stops reading; returns the answer and when it came. */
    private static RawHttp.Response trickle(int port, long pauseMs, String first, String repeated) throws Exception {
        try (Socket s = RawHttp.connect(port, null)) {
            OutputStream out = s.getOutputStream();
            out.write(first.getBytes(StandardCharsets.ISO_8859_1));
            Thread writer = Thread.ofVirtual().start(() -> {
                try {
                    for (int i = 0; i < 200; i++) {
                        Thread.sleep(pauseMs);
                        out.write(repeated.getBytes(StandardCharsets.ISO_8859_1));
                        out.flush();
                    }
                } catch (IOException | InterruptedException closed) {
                    // the server cut us off: expected
                }
            });
            try {
                return RawHttp.read(s.getInputStream());
            } finally {
                writer.interrupt();
            }
        }
    }

    @Test
    void trickledHeadersAreCutAtTheHeaderDeadline() throws Exception {
        start(ServerConfig.defaults().withHeaderTimeout(Duration.ofMillis(1000)).withIdleTimeout(Duration.ofSeconds(20)));
        long t0 = System.nanoTime();
        // One header every 300 ms: each byte resets Jetty's idle timeout, only the header deadline ends it.
        RawHttp.Response r = trickle(server.port(), 300, "GET /health HTTP/1.1\r\nHost: x\r\n", "X-Slow: 1\r\n");
        double s = (System.nanoTime() - t0) / 1e9;
        assertEquals("request_timeout", r.assertError(408).get("code").asText());
        assertTrue(s >= 0.9 && s < 5, "cut at about the 1 s header deadline, not the 20 s idle timeout: " + s);
        // A request line trickled a byte at a time is cut the same way.
        t0 = System.nanoTime();
        r = trickle(server.port(), 150, "G", "E");
        s = (System.nanoTime() - t0) / 1e9;
        r.assertError(408);
        assertTrue(s < 5, "slow request line cut: " + s);
        assertEquals(200, healthFrom(null), "normal clients are served");
        // Many trickling clients at once are all cut and nobody else is blocked.
        List<Thread> ts = new ArrayList<>();
        List<Integer> statuses = java.util.Collections.synchronizedList(new ArrayList<>());
        for (int i = 0; i < 20; i++) {
            ts.add(Thread.ofVirtual().start(() -> {
                try {
                    statuses.add(trickle(server.port(), 400, "POST /v1/completions HTTP/1.1\r\n", "X-Slow: 1\r\n").status());
                } catch (Exception e) {
                    statuses.add(-1);
                }
            }));
        }
        assertEquals(200, healthFrom(null));
        for (Thread t : ts) t.join(15_000);
        assertEquals(20, statuses.size());
        assertTrue(statuses.stream().allMatch(x -> x == 408), statuses.toString());
    }

    @Test
    void aTrickledBodyIsCutOnceItFallsBelowTheMinimumRate() throws Exception {
        start(ServerConfig.defaults().withHeaderTimeout(Duration.ofMillis(1000)).withIdleTimeout(Duration.ofSeconds(20)));
        long t0 = System.nanoTime();
        // A byte every 300 ms never trips the 20 s idle timeout; after the 1 s grace the average is far below 512 B/s.
        RawHttp.Response r = trickle(server.port(), 300,
                "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{", " ");
        double s = (System.nanoTime() - t0) / 1e9;
        JsonNode e = r.assertError(408);
        assertEquals("request_timeout", e.get("code").asText());
        assertTrue(e.get("message").asText().contains("too slowly"), e.toString());
        assertTrue(s < 6, "cut soon after the grace: " + s);
        // A small body read slowly by a busy server is not the client's fault: no rate check within the grace.
        Http http = new Http(server.baseUrl(), null);
        assertEquals(200, http.post("/v1/completions", "{\"prompt\":\"a\",\"max_tokens\":2}").status());
    }

    @Test
    void idleKeepAliveConnectionsAreClosed() throws Exception {
        start(ServerConfig.defaults().withIdleTimeout(Duration.ofMillis(800)));
        try (Socket s = RawHttp.connect(server.port(), null)) {
            s.getOutputStream().write(get("/health").getBytes(StandardCharsets.ISO_8859_1));
            InputStream in = s.getInputStream();
            assertEquals(200, RawHttp.read(in).status());
            long t0 = System.nanoTime();
            assertEquals(-1, in.read(), "the server closes the idle keep-alive connection");
            double secs = (System.nanoTime() - t0) / 1e9;
            assertTrue(secs > 0.5 && secs < 5, "closed after about the idle timeout: " + secs);
        }
        assertEquals(Duration.ofSeconds(15), ServerConfig.defaults().idleTimeout(), "the default keep-alive is well under a minute");
    }

    @Test
    void aFloodBeyondThePerClientCapIsRefusedWhileOthersAreServed() throws Exception {
        start(ServerConfig.defaults().withMaxConnections(50, 5).withIdleTimeout(Duration.ofSeconds(20)));
        List<Socket> held = new ArrayList<>();
        try {
            for (int i = 0; i < 5; i++) {
                Socket s = RawHttp.connect(server.port(), "127.0.0.1");
                held.add(s);
                s.getOutputStream().write(get("/health").getBytes(StandardCharsets.ISO_8859_1));
                assertEquals(200, RawHttp.read(s.getInputStream()).status(), "within the cap");
            }
            int refused = 0;
            for (int i = 0; i < 30; i++) {
                try (Socket s = RawHttp.connect(server.port(), "127.0.0.1")) {
                    RawHttp.Response r = RawHttp.read(s.getInputStream()); // answered before any request is sent
                    JsonNode e = r.assertError(429);
                    assertEquals("too_many_connections", e.get("code").asText());
                    assertTrue(e.get("message").asText().contains("127.0.0.1"), e.toString());
                    refused++;
                }
            }
            assertEquals(30, refused);
            assertEquals(200, healthFrom("127.0.0.2"), "another client address is served during the flood");
            for (Socket s : held) { // the held connections still work
                s.getOutputStream().write(get("/v1/models").getBytes(StandardCharsets.ISO_8859_1));
                assertEquals(200, RawHttp.read(s.getInputStream()).status());
            }
        } finally {
            for (Socket s : held) s.close();
        }
        // Once the flood's connections close, the address is admitted again.
        long deadline = System.nanoTime() + 5_000_000_000L;
        int st;
        while ((st = healthFrom("127.0.0.1")) != 200 && System.nanoTime() < deadline) Thread.sleep(50);
        assertEquals(200, st);
    }

    @Test
    void theTotalCapRefusesWith503() throws Exception {
        start(ServerConfig.defaults().withMaxConnections(6, 4).withIdleTimeout(Duration.ofSeconds(20)));
        List<Socket> held = new ArrayList<>();
        try {
            for (int i = 0; i < 6; i++) {
                Socket s = RawHttp.connect(server.port(), i < 4 ? "127.0.0.1" : "127.0.0.2");
                held.add(s);
                s.getOutputStream().write(get("/health").getBytes(StandardCharsets.ISO_8859_1));
                assertEquals(200, RawHttp.read(s.getInputStream()).status());
            }
            try (Socket s = RawHttp.connect(server.port(), "127.0.0.3")) {
                RawHttp.read(s.getInputStream()).assertError(503);
            }
            held.removeFirst().close();
            long deadline = System.nanoTime() + 5_000_000_000L;
            int st;
            while ((st = healthFrom("127.0.0.3")) != 200 && System.nanoTime() < deadline) Thread.sleep(50);
            assertEquals(200, st, "a freed slot is usable again");
        } finally {
            for (Socket s : held) s.close();
        }
    }

    @Test
    void generationsAreNotCutWhileTheyProduceTokens() throws Exception {
        start(ServerConfig.defaults().withIdleTimeout(Duration.ofMillis(500)).withHeaderTimeout(Duration.ofMillis(500)));
        engine.tokenDelayMs = 1200; // silence between tokens longer than the idle and header timeouts
        Http http = new Http(server.baseUrl(), null);
        Http.Resp stream = http.post("/v1/completions", "{\"prompt\":\"a\",\"max_tokens\":3,\"stream\":true}");
        assertEquals(200, stream.status());
        List<JsonNode> events = stream.events();
        StringBuilder text = new StringBuilder();
        for (JsonNode e : events) text.append(e.get("choices").get(0).get("text").asText());
        assertEquals("Onc", text.toString());
        assertEquals("length", events.getLast().get("choices").get(0).get("finish_reason").asText());
        Http.Resp plain = http.post("/v1/completions", "{\"prompt\":\"a\",\"max_tokens\":2}");
        assertEquals("On", plain.json().get("choices").get(0).get("text").asText());
    }
}
