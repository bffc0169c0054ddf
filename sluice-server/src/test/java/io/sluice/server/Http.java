package io.sluice.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** A small raw HTTP client for tests: every call has a timeout. */
final class Http {
    static final ObjectMapper JSON = new ObjectMapper();
    static final HttpClient CLIENT = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).version(HttpClient.Version.HTTP_1_1).build();

    record Resp(int status, java.net.http.HttpHeaders headers, String body) {
        JsonNode json() {
            try {
                return JSON.readTree(body);
            } catch (IOException e) {
                throw new AssertionError("not JSON (status " + status + "): " + body, e);
            }
        }

        /** The JSON payloads of an SSE body, without the final [DONE]; asserts [DONE] ends it. */
        List<JsonNode> events() {
            List<JsonNode> out = new ArrayList<>();
            boolean done = false;
            for (String block : body.split("\n\n")) {
                if (block.isBlank() || block.startsWith(":")) continue;
                assertTrue(block.startsWith("data: "), "SSE block: " + block);
                assertFalse(done, "data after [DONE]");
                String data = block.substring(6);
                if (data.equals("[DONE]")) done = true;
                else {
                    try {
                        out.add(JSON.readTree(data));
                    } catch (IOException e) {
                        throw new AssertionError("bad SSE data: " + data, e);
                    }
                }
            }
            assertTrue(done, "stream must end with data: [DONE]: " + body);
            return out;
        }
    }

    private final String base;
    private final String apiKey;

    Http(String base, String apiKey) {
        this.base = base;
        this.apiKey = apiKey;
    }

    String base() {
        return base;
    }

    Resp get(String path) {
        return send(HttpRequest.newBuilder(URI.create(base + path)).GET());
    }

    Resp post(String path, String body) {
        return send(HttpRequest.newBuilder(URI.create(base + path)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)));
    }

    Resp send(HttpRequest.Builder b) {
        if (apiKey != null) b.header("Authorization", "Bearer " + apiKey);
        try {
            HttpResponse<String> r = CLIENT.send(b.timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
            return new Resp(r.statusCode(), r.headers(), r.body());
        } catch (IOException | InterruptedException e) {
            throw new AssertionError("request failed: " + e, e);
        }
    }

    /** Asserts an OpenAI error object with the given status (and param, when not null). */
    static JsonNode assertError(Resp r, int status, String param) {
        assertEquals(status, r.status(), "status for error; body: " + r.body());
        JsonNode e = r.json().get("error");
        if (e == null || !e.isObject()) fail("no error object: " + r.body());
        assertTrue(e.get("message").isTextual() && !e.get("message").asText().isBlank(), "message: " + r.body());
        assertTrue(e.get("type").isTextual(), "type: " + r.body());
        assertTrue(e.has("param") && e.has("code"), "param and code present: " + r.body());
        if (param != null) assertEquals(param, e.get("param").asText(), "param: " + r.body());
        return e;
    }
}
