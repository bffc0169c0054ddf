package io.sluice.server;

import com.fasterxml.jackson.databind.JsonNode;
import io.sluice.chat.ChatTemplate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.net.URI;
import java.net.http.HttpRequest;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

import static io.sluice.server.Http.assertError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Chat templates through the server: /apply-template, tools and tool calls, kwargs, template errors and limits, JSON-only bodies, CORS. */
@Timeout(120)
class ChatTemplateServerTest {
    /** A Hermes/Qwen-style template that shows everything the request gives it. */
    static final String TOOLS_TEMPLATE = """
            {%- if tools %}<tools>{% for t in tools %}{{ t | tojson }}{% endfor %}</tools>
            {% endif %}
            {%- for m in messages %}<{{ m.role }}>{{ m.content }}
            {%- if m.tool_calls %}{% for c in m.tool_calls %}<call id={{ c.id }}>{"name": "{{ c.function.name }}", "arguments": {{ c.function.arguments | tojson }}}</call>{% endfor %}{% endif %}
            {%- if m.role == 'tool' %}[for {{ m.tool_call_id }}]{% endif %}</{{ m.role }}>
            {% endfor %}
            {%- if add_generation_prompt %}<assistant>{% if enable_thinking is defined and not enable_thinking %}<think></think>{% endif %}{% endif %}""";

    SluiceServer server;

    @AfterEach
    void stop() {
        if (server != null) server.stop();
    }

    Http start(ServerConfig cfg) {
        server = SluiceServer.start(new FakeEngine(256), cfg.withPort(0).withAlias("fake"));
        return new Http(server.baseUrl(), null);
    }

    static HttpRequest.Builder post(Http http, String path, String contentType, String body) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(http.base() + path)).POST(HttpRequest.BodyPublishers.ofString(body));
        if (contentType != null) b.header("Content-Type", contentType);
        return b;
    }

    @Test
    void applyTemplateReturnsThePromptWithToolsToolCallsAndKwargs() {
        Http http = start(ServerConfig.defaults().withChatTemplate(TOOLS_TEMPLATE));
        String body = """
                {"messages": [
                   {"role": "developer", "content": "Be brief."},
                   {"role": "user", "content": "Weather in Paris? {{ 7*7 }} {% for x in range(3) %}x{% endfor %}"},
                   {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
                      "function": {"name": "get_weather", "arguments": "{\\"city\\": \\"Paris\\", \\"n\\": 2}"}}]},
                   {"role": "tool", "tool_call_id": "call_1", "content": "18C"}],
                 "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
                 "chat_template_kwargs": {"enable_thinking": false}}""";
        Http.Resp r = http.post("/apply-template", body);
        assertEquals(200, r.status(), r.body());
        assertEquals("""
                <tools>{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}</tools>
                <system>Be brief.</system>
                <user>Weather in Paris? {{ 7*7 }} {% for x in range(3) %}x{% endfor %}</user>
                <assistant><call id=call_1>{"name": "get_weather", "arguments": {"city": "Paris", "n": 2}}</call></assistant>
                <tool>18C[for call_1]</tool>
                <assistant><think></think>""", r.json().get("prompt").asText());
        Http.Resp noGen = http.post("/apply-template", "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"add_generation_prompt\":false}");
        assertEquals("<user>hi</user>\n", noGen.json().get("prompt").asText());
    }

    @Test
    void chatCompletionsUseTheTemplate() {
        Http http = start(ServerConfig.defaults());
        Http.Resp ok = http.post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"{{ 7*7 }}\"}],\"max_tokens\":2}");
        assertEquals(200, ok.status(), ok.body());
        assertEquals("<|im_start|>user\n{{ 7*7 }}<|im_end|>\n<|im_start|>assistant\n",
                http.post("/apply-template", "{\"messages\":[{\"role\":\"user\",\"content\":\"{{ 7*7 }}\"}]}").json().get("prompt").asText());
    }

    @Test
    void badToolDataIsA400NamingTheField() {
        Http http = start(ServerConfig.defaults().withChatTemplate(TOOLS_TEMPLATE));
        String call = "{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"a\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{not json\"}}]}";
        assertError(http.post("/apply-template", "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}," + call + "]}"), 400, "messages[1].tool_calls[0].function.arguments");
        assertError(http.post("/apply-template", "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tools\":[{\"type\":\"function\"}]}"), 400, "tools[0].function");
        assertError(http.post("/apply-template", "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tools\":{}}"), 400, "tools");
        assertError(http.post("/apply-template", "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"chat_template_kwargs\":{\"messages\":[]}}"), 400,
                "chat_template_kwargs.messages");
        assertError(http.post("/apply-template", "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"chat_template_kwargs\":[1]}"), 400, "chat_template_kwargs");
        assertError(http.post("/apply-template", "{\"messages\":[{\"role\":\"user\",\"content\":\"x\",\"tool_calls\":[{\"function\":{\"name\":\"f\"}}]}]}"), 400,
                "messages[0].tool_calls");
    }

    @Test
    void templateFailuresAre400sThatSayWhich() {
        Http http = start(ServerConfig.defaults().withChatTemplate("""
                {%- if messages[0].content == 'raise' %}{{ raise_exception('Conversation roles must alternate') }}{% endif %}
                {%- if messages[0].content == 'type' %}{{ messages[0].content + 1 }}{% endif %}
                {%- if messages[0].content == 'loop' %}{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}{% endif %}
                {%- if messages[0].content == 'big' %}{{ 'x' * 10**9 }}{% endif %}ok"""));
        JsonNode raised = assertError(http.post("/apply-template", "{\"messages\":[{\"role\":\"user\",\"content\":\"raise\"}]}"), 400, "messages");
        assertEquals("chat_template_rejected", raised.get("code").asText());
        assertTrue(raised.get("message").asText().contains("Conversation roles must alternate"), raised.toString());
        assertEquals("chat_template_error", assertError(http.post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"type\"}]}"), 400, "messages")
                .get("code").asText());
        JsonNode big = assertError(http.post("/apply-template", "{\"messages\":[{\"role\":\"user\",\"content\":\"big\"}]}"), 400, "messages");
        assertEquals("chat_template_limit_exceeded", big.get("code").asText());
        assertTrue(big.get("message").asText().contains("allocated size"), big.toString());

        // While a render spins up to its limit, other requests (and /health) are answered.
        AtomicBoolean done = new AtomicBoolean();
        List<JsonNode> slow = new ArrayList<>();
        Thread t = new Thread(() -> {
            slow.add(assertError(http.post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"loop\"}]}"), 400, "messages"));
            done.set(true);
        });
        t.start();
        int healthy = 0;
        while (!done.get()) {
            long t0 = System.nanoTime();
            assertEquals(200, http.get("/health").status());
            assertTrue(System.nanoTime() - t0 < 1_500_000_000L, "/health took " + (System.nanoTime() - t0) / 1_000_000 + " ms during a bad render");
            healthy++;
        }
        assertTrue(healthy > 0);
        assertEquals("chat_template_limit_exceeded", slow.getFirst().get("code").asText());
        assertEquals("ok", http.post("/apply-template", "{\"messages\":[{\"role\":\"user\",\"content\":\"fine\"}]}").json().get("prompt").asText());
    }

    @Test
    void postBodiesMustBeJson() {
        Http http = start(ServerConfig.defaults());
        String body = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":1}";
        for (String type : new String[]{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", null}) {
            for (String path : List.of("/v1/chat/completions", "/v1/completions", "/apply-template")) {
                JsonNode e = assertError(http.send(post(http, path, type, body)), 415, null);
                assertEquals("unsupported_media_type", e.get("code").asText(), type + " " + path);
            }
        }
        assertEquals(200, http.send(post(http, "/v1/chat/completions", "application/json; charset=utf-8", body)).status());
        assertEquals(200, http.send(post(http, "/v1/chat/completions", "Application/JSON", body)).status());
    }

    @Test
    void noCorsHeadersUnlessConfigured() {
        Http http = start(ServerConfig.defaults());
        Http.Resp r = http.send(HttpRequest.newBuilder(URI.create(http.base() + "/v1/models")).header("Origin", "https://evil.example").GET());
        assertEquals(200, r.status());
        assertTrue(r.headers().firstValue("Access-Control-Allow-Origin").isEmpty(), r.headers().map().toString());
        Http.Resp pre = http.send(HttpRequest.newBuilder(URI.create(http.base() + "/v1/chat/completions")).header("Origin", "https://evil.example")
                .header("Access-Control-Request-Method", "POST").method("OPTIONS", HttpRequest.BodyPublishers.noBody()));
        assertTrue(pre.headers().firstValue("Access-Control-Allow-Origin").isEmpty(), pre.headers().map().toString());
    }

    @Test
    void corsOriginAllowsThatOriginOnly() {
        Http http = start(ServerConfig.defaults().withCorsOrigin("http://localhost:3000"));
        Http.Resp ok = http.send(HttpRequest.newBuilder(URI.create(http.base() + "/v1/models")).header("Origin", "http://localhost:3000").GET());
        assertEquals("http://localhost:3000", ok.headers().firstValue("Access-Control-Allow-Origin").orElse(""), ok.headers().map().toString());
        Http.Resp pre = http.send(HttpRequest.newBuilder(URI.create(http.base() + "/v1/chat/completions")).header("Origin", "http://localhost:3000")
                .header("Access-Control-Request-Method", "POST").header("Access-Control-Request-Headers", "content-type,authorization")
                .method("OPTIONS", HttpRequest.BodyPublishers.noBody()));
        assertEquals("http://localhost:3000", pre.headers().firstValue("Access-Control-Allow-Origin").orElse(""), pre.headers().map().toString());
        assertTrue(pre.headers().firstValue("Access-Control-Allow-Headers").orElse("").toLowerCase().contains("content-type"), pre.headers().map().toString());
        Http.Resp other = http.send(HttpRequest.newBuilder(URI.create(http.base() + "/v1/models")).header("Origin", "https://evil.example").GET());
        assertFalse(other.headers().firstValue("Access-Control-Allow-Origin").orElse("").contains("evil"), other.headers().map().toString());
    }

    @Test
    void aConfiguredTemplateThatFailsRefusesToStartAModelTemplateFallsBack() {
        var e = assertThrows(IllegalArgumentException.class,
                () -> ModelState.template(ServerConfig.defaults().withChatTemplate("{% for m in messages %}"), null, "", ""));
        assertTrue(e.getMessage().contains("configured chat template"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> ModelState.template(ServerConfig.defaults().withChatTemplate("{{ messages.nope() }}"), null, "", ""));
        assertSame(ChatTemplate.chatml(), ModelState.template(ServerConfig.defaults(), "{% for m in messages %}", "", ""));
        assertSame(ChatTemplate.chatml(), ModelState.template(ServerConfig.defaults(),
                "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", "", ""));
        assertSame(ChatTemplate.chatml(), ModelState.template(ServerConfig.defaults(), null, "", ""));
        String good = "{% for m in messages %}{{ m.content }}{% endfor %}";
        assertEquals(good, ModelState.template(ServerConfig.defaults(), good, "", "").source());
    }
}
