package io.sluice.server;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Requests that fail below the API, sent over raw sockets: each is answered with OpenAI's error object
 * and the right status, never one of Jetty's HTML pages. Then strict UTF-8 on request text: every
 * ill-formed byte sequence and lone surrogate is a 400 naming the field it is in.
 */
@Timeout(60)
class ProtocolErrorTest {
    static FakeEngine engine;
    static SluiceServer server;

    @BeforeAll
    static void start() {
        engine = new FakeEngine(256);
        server = SluiceServer.start(engine, ServerConfig.defaults().withPort(0).withAlias("fake"));
    }

    @AfterAll
    static void stop() {
        server.stop();
    }

    private static RawHttp.Response raw(String request) throws Exception {
        return RawHttp.exchange(server.port(), request);
    }

    private static JsonNode assertProtocolError(String request, int status, String code) throws Exception {
        RawHttp.Response r = raw(request);
        JsonNode e = r.assertError(status);
        if (code != null) assertEquals(code, e.get("code").asText(), r.body());
        assertTrue(!r.body().contains("<h1>") && !r.body().contains("<html"), r.body());
        return e;
    }

    @Test
    void malformedRequestsGetJsonErrorsWithTheirStatus() throws Exception {
        assertProtocolError("GET /%2e%2e/x HTTP/1.1\r\nHost: x\r\n\r\n", 400, "bad_request");
        assertProtocolError("GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n", 400, "bad_request");
        assertProtocolError("GET /v1/models/%00 HTTP/1.1\r\nHost: x\r\n\r\n", 400, "bad_request");
        assertProtocolError("GET /" + "a".repeat(9000) + " HTTP/1.1\r\nHost: x\r\n\r\n", 414, "uri_too_long");
        assertProtocolError("GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + "b".repeat(9000) + "\r\n\r\n", 431, "headers_too_large");
        assertProtocolError("GET /health HTTP/9.9\r\nHost: x\r\n\r\n", 505, "http_version_not_supported");
        assertProtocolError("GET /health HTTP/2.0\r\nHost: x\r\n\r\n", 426, "upgrade_required");
        assertProtocolError("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 426, "upgrade_required");
        assertProtocolError("GET /health HTTP/1.1\r\n\r\n", 400, "bad_request"); // no Host
        assertProtocolError("GET /health HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", 400, "bad_request");
        assertProtocolError("\u0001\u0002garbage\r\n\r\n", 400, "bad_request");
        assertProtocolError("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello", 400, null);
        assertProtocolError("POST /v1/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 400, null);
        assertProtocolError("GET /health HTTP/1.1\r\nHost: x\r\nExpect: 100-banana\r\n\r\n", 417, "expectation_failed");
        assertProtocolError("GET http://other/health HTTP/1.1\r\nHost: x\r\n\r\n", 400, null);
        assertProtocolError("GET * HTTP/1.1\r\nHost: x\r\n\r\n", 400, null);
        // Jetty's reason, where it has one, is kept in the message.
        JsonNode noHost = assertProtocolError("GET /health HTTP/1.1\r\n\r\n", 400, null);
        assertTrue(noHost.get("message").asText().contains("No Host"), noHost.toString());
        assertEquals(200, raw("GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").status(), "the server still serves");
    }

    @Test
    void unknownMethodsAreNamedAsSent() throws Exception {
        JsonNode e = assertProtocolError("FOO /v1/models HTTP/1.1\r\nHost: x\r\n\r\n", 405, "method_not_allowed");
        assertTrue(e.get("message").asText().contains("FOO"), e.toString());
        assertTrue(!e.get("message").asText().contains("INVALID"), e.toString());
        e = assertProtocolError("BREW /nothing HTTP/1.1\r\nHost: x\r\n\r\n", 404, "unknown_url");
        assertTrue(e.get("message").asText().contains("BREW /nothing"), e.toString());
        e = assertProtocolError("DELETE /v1/chat/completions HTTP/1.1\r\nHost: x\r\n\r\n", 405, "method_not_allowed");
        assertTrue(e.get("message").asText().contains("DELETE"), e.toString());
        assertProtocolError("TRACE /health HTTP/1.1\r\nHost: x\r\n\r\n", 405, "method_not_allowed");
    }

    // ---- strict UTF-8 ----

    private static RawHttp.Response postBytes(String path, byte[] body) throws Exception {
        ByteArrayOutputStream req = new ByteArrayOutputStream();
        req.write(("POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: "
                + body.length + "\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
        req.write(body);
        return RawHttp.exchange(server.port(), req.toByteArray());
    }

    /** A JSON body whose text has raw bytes spliced in where {@code #} stands. */
    private static byte[] splice(String json, int... bytes) {
        byte[] t = json.getBytes(StandardCharsets.UTF_8);
        int at = json.indexOf('#');
        byte[] out = new byte[t.length - 1 + bytes.length];
        System.arraycopy(t, 0, out, 0, at);
        for (int i = 0; i < bytes.length; i++) out[at + i] = (byte) bytes[i];
        System.arraycopy(t, at + 1, out, at + bytes.length, t.length - at - 1);
        return out;
    }

    private static JsonNode assertBadUtf8(String path, byte[] body, String param) throws Exception {
        RawHttp.Response r = postBytes(path, body);
        JsonNode e = r.assertError(400);
        assertEquals(param, e.get("param").isNull() ? null : e.get("param").asText(), r.body());
        assertEquals("invalid_utf8", e.get("code").asText(), r.body());
        return e;
    }

    @Test
    void illFormedUtf8InTheBodyIsA400NamingTheField() throws Exception {
        String completion = "{\"prompt\":\"a#b\",\"max_tokens\":2}";
        String chat = "{\"messages\":[{\"role\":\"system\",\"content\":\"ok\"},{\"role\":\"user\",\"content\":\"x#y\"}],\"max_tokens\":2}";
        // The overlong C0 AF would decode as '/' in a lenient decoder; E0 80 AF and F0 80 80 AF likewise.
        JsonNode e = assertBadUtf8("/v1/completions", splice(completion, 0xC0, 0xAF), "prompt");
        assertTrue(e.get("message").asText().contains("overlong"), e.toString());
        assertBadUtf8("/v1/completions", splice(completion, 0xE0, 0x80, 0xAF), "prompt");
        assertBadUtf8("/v1/completions", splice(completion, 0xF0, 0x80, 0x80, 0xAF), "prompt");
        // CESU-8: a surrogate encoded as three bytes.
        e = assertBadUtf8("/v1/chat/completions", splice(chat, 0xED, 0xA0, 0x80), "messages[1].content");
        assertTrue(e.get("message").asText().contains("surrogate"), e.toString());
        assertBadUtf8("/v1/chat/completions", splice(chat, 0xED, 0xB0, 0x80), "messages[1].content");
        // Above U+10FFFF.
        e = assertBadUtf8("/v1/completions", splice(completion, 0xF4, 0x90, 0x80, 0x80), "prompt");
        assertTrue(e.get("message").asText().contains("U+10FFFF"), e.toString());
        assertBadUtf8("/v1/completions", splice(completion, 0xF5, 0x80, 0x80, 0x80), "prompt");
        // Bytes that never occur, stray continuations, truncated sequences.
        assertBadUtf8("/v1/completions", splice(completion, 0xFF), "prompt");
        assertBadUtf8("/v1/completions", splice(completion, 0xF8, 0x88, 0x80, 0x80, 0x80), "prompt");
        assertBadUtf8("/v1/completions", splice(completion, 0x80), "prompt");
        assertBadUtf8("/v1/completions", splice(completion, 0xE2, 0x82), "prompt");
        assertBadUtf8("/v1/chat/completions", splice("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"stop\":[\"a\",\"#\"]}", 0xC1, 0x81), "stop[1]");
        // In a field name the field's path is named.
        RawHttp.Response name = postBytes("/v1/completions", splice("{\"prompt\":\"a\",\"x#\":1}", 0xC0, 0x80));
        assertTrue(name.assertError(400).get("param").asText().startsWith("x"), name.body());
        // Outside any string it is still refused.
        assertBadUtf8("/v1/completions", splice("{\"prompt\":\"a\"}#", 0xFF), null);
        assertEquals(0, engine.requests.stream().filter(r -> r.promptTokens().length > 0 && r.promptTokens()[r.promptTokens().length - 1] == '/').count(),
                "no overlong form reached the tokenizer");
    }

    @Test
    void loneSurrogateEscapesAreA400AndValidPairsAreServed() throws Exception {
        RawHttp.Response r = postBytes("/v1/completions", "{\"prompt\":\"a\\ud800b\",\"max_tokens\":2}".getBytes(StandardCharsets.UTF_8));
        assertEquals("prompt", r.assertError(400).get("param").asText());
        r = postBytes("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"\\udc00\"}]}".getBytes(StandardCharsets.UTF_8));
        assertEquals("messages[0].content", r.assertError(400).get("param").asText());
        r = postBytes("/v1/completions", "{\"prompt\":\"\\ud83d\\ud83d\",\"max_tokens\":2}".getBytes(StandardCharsets.UTF_8)); // two highs
        assertEquals("prompt", r.assertError(400).get("param").asText());
        r = postBytes("/v1/completions", "{\"prompt\":\"x\\ud83d\"}".getBytes(StandardCharsets.UTF_8)); // high at the end
        assertEquals("prompt", r.assertError(400).get("param").asText());
        // A correctly escaped pair and the same character as raw UTF-8 are one and the same prompt.
        int before = engine.requests.size();
        assertEquals(200, postBytes("/v1/completions", "{\"prompt\":\"\\ud83d\\ude00\",\"max_tokens\":2}".getBytes(StandardCharsets.UTF_8)).status());
        assertEquals(200, postBytes("/v1/completions", "{\"prompt\":\"\uD83D\uDE00\",\"max_tokens\":2}".getBytes(StandardCharsets.UTF_8)).status());
        assertEquals(before + 2, engine.requests.size());
        assertTrue(java.util.Arrays.equals(engine.requests.get(before).promptTokens(), engine.requests.get(before + 1).promptTokens()));
        // Four-byte UTF-8 up to U+10FFFF itself is fine.
        assertEquals(200, postBytes("/v1/completions", splice("{\"prompt\":\"#\",\"max_tokens\":2}", 0xF4, 0x8F, 0xBF, 0xBF)).status());
    }

    @Test
    void urlsMustBeUtf8AfterPercentDecoding() throws Exception {
        JsonNode e = assertProtocolError("GET /v1/models/%ff HTTP/1.1\r\nHost: x\r\n\r\n", 400, null);
        assertTrue(e.get("message").asText().contains("UTF-8"), e.toString());
        assertProtocolError("GET /v1/models/%C0%AF HTTP/1.1\r\nHost: x\r\n\r\n", 400, null);
        assertProtocolError("GET /health?x=%ED%A0%80 HTTP/1.1\r\nHost: x\r\n\r\n", 400, null);
        RawHttp.Response ok = raw("GET /v1/models/%E2%82%AC HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        assertEquals(404, ok.status(), "a valid escape reaches the handler: " + ok.body());
        assertTrue(ok.body().contains("\u20ac"), ok.body());
    }
}
