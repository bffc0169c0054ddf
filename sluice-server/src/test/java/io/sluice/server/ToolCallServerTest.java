package io.sluice.server;

import com.fasterxml.jackson.databind.JsonNode;
import io.sluice.engine.GenerationRequest;
import io.sluice.grammar.GrammarMatcher;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Tool calls and reasoning through the HTTP API, on the fake engine (it writes a script, one character
 * a token) behind real model templates: message.tool_calls, streamed deltas, finish reasons, fallbacks.
 */
@Timeout(60)
class ToolCallServerTest {
    static final String TOOLS = "[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"parameters\":{\"type\":\"object\","
            + "\"properties\":{\"city\":{\"type\":\"string\"}},\"required\":[\"city\"]}}},"
            + "{\"type\":\"function\",\"function\":{\"name\":\"search\",\"parameters\":{\"type\":\"object\",\"properties\":{\"q\":{\"type\":\"string\"}}}}}]";
    static final String CALL = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>";

    SluiceServer server;
    FakeEngine engine;

    @AfterEach
    void stop() {
        if (server != null) server.stop();
    }

    static String template(String file) throws Exception {
        try (InputStream in = ToolCallServerTest.class.getResourceAsStream("/chat-templates/templates/" + file)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    Http start(String templateFile, String script) throws Exception {
        engine = new FakeEngine(16384);
        engine.script = script;
        ServerConfig cfg = ServerConfig.defaults().withPort(0).withAlias("fake");
        if (templateFile != null) cfg = cfg.withChatTemplate(template(templateFile));
        server = SluiceServer.start(engine, cfg);
        return new Http(server.baseUrl(), null);
    }

    static String body(String user, String extra) {
        return "{\"messages\":[{\"role\":\"user\",\"content\":\"" + user + "\"}],\"tools\":" + TOOLS + (extra.isEmpty() ? "" : "," + extra) + "}";
    }

    @Test
    void hermesCallBecomesToolCalls() throws Exception {
        Http http = start("Qwen2.5-0.5B-Instruct.jinja", "I will check. " + CALL);
        Http.Resp r = http.post("/v1/chat/completions", body("Weather in Paris?", ""));
        assertEquals(200, r.status(), r.body());
        JsonNode choice = r.json().get("choices").get(0);
        assertEquals("tool_calls", choice.get("finish_reason").asText());
        JsonNode msg = choice.get("message");
        assertEquals("I will check. ", msg.get("content").asText());
        JsonNode call = msg.get("tool_calls").get(0);
        assertTrue(call.get("id").asText().matches("call_[A-Za-z0-9]{24}"), call.toString());
        assertEquals("function", call.get("type").asText());
        assertEquals("get_weather", call.get("function").get("name").asText());
        assertEquals("{\"city\":\"Paris\"}", call.get("function").get("arguments").asText());
        // the tools reached the template; tool_choice auto binds the answer from the call's marker on
        String prompt = http.post("/apply-template", body("Weather in Paris?", "")).json().get("prompt").asText();
        assertTrue(prompt.contains("<tools>") && prompt.contains("get_weather"), prompt);
        GrammarMatcher m = engine.requests.getLast().grammar().newMatcher();
        for (byte b : ("I will check. " + CALL).getBytes(StandardCharsets.UTF_8)) assertTrue(m.accept(b & 0xFF), "the answer, byte by byte");
        assertTrue(m.canEnd());
        GrammarMatcher wrong = engine.requests.getLast().grammar().newMatcher();
        boolean all = true;
        for (byte b : CALL.replace("get_weather", "get_wether").getBytes(StandardCharsets.UTF_8)) all &= wrong.accept(b & 0xFF);
        assertFalse(all, "a function that is not offered");
    }

    @Test
    void streamedCallsReassembleToTheSameCall() throws Exception {
        Http http = start("Qwen2.5-0.5B-Instruct.jinja", "Checking.\n" + CALL + "\n<tool_call>\n{\"name\": \"search\", \"arguments\": {\"q\": \"umbrella \\u00e9\"}}\n</tool_call>");
        List<JsonNode> events = http.post("/v1/chat/completions", body("Weather?", "\"stream\":true")).events();
        StringBuilder content = new StringBuilder();
        String[] names = new String[2], ids = new String[2];
        StringBuilder[] args = {new StringBuilder(), new StringBuilder()};
        String finish = null;
        for (JsonNode e : events) {
            JsonNode ch = e.get("choices").get(0);
            JsonNode d = ch.get("delta");
            if (d.hasNonNull("content")) content.append(d.get("content").asText());
            if (d.has("tool_calls")) {
                JsonNode tc = d.get("tool_calls").get(0);
                int i = tc.get("index").asInt();
                if (tc.has("id")) {
                    assertNull(names[i], "one header per call");
                    ids[i] = tc.get("id").asText();
                    names[i] = tc.get("function").get("name").asText();
                    assertEquals("function", tc.get("type").asText());
                }
                assertNotNull(names[i], "the id and name come first");
                args[i].append(tc.get("function").get("arguments").asText());
            }
            if (!ch.get("finish_reason").isNull()) finish = ch.get("finish_reason").asText();
        }
        assertEquals("tool_calls", finish);
        assertEquals("Checking.\n", content.toString());
        assertEquals("get_weather", names[0]);
        assertEquals("{\"city\":\"Paris\"}", args[0].toString());
        assertEquals("search", names[1]);
        assertEquals("{\"q\":\"umbrella é\"}", args[1].toString());
        assertFalse(ids[0].equals(ids[1]));
    }

    @Test
    void malformedCallsAreContent() throws Exception {
        for (String script : List.of("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": Paris}}\n</tool_call>",
                "<tool_call>\n{\"name\": \"rm_rf\", \"arguments\": {}}\n</tool_call>", "<tool_call>\n{\"name\": \"get_weather\", \"argu")) {
            Http http = start("Qwen2.5-0.5B-Instruct.jinja", script);
            for (boolean stream : new boolean[]{false, true}) {
                Http.Resp r = http.post("/v1/chat/completions", body("x", "\"stream\":" + stream));
                assertEquals(200, r.status(), r.body());
                String content;
                String finish;
                if (stream) {
                    StringBuilder sb = new StringBuilder();
                    String f = null;
                    for (JsonNode e : r.events()) {
                        JsonNode ch = e.get("choices").get(0);
                        assertFalse(ch.get("delta").has("tool_calls"), script);
                        if (ch.get("delta").hasNonNull("content")) sb.append(ch.get("delta").get("content").asText());
                        if (!ch.get("finish_reason").isNull()) f = ch.get("finish_reason").asText();
                    }
                    content = sb.toString();
                    finish = f;
                } else {
                    JsonNode ch = r.json().get("choices").get(0);
                    assertFalse(ch.get("message").has("tool_calls"), script);
                    content = ch.get("message").get("content").asText();
                    finish = ch.get("finish_reason").asText();
                }
                assertEquals(script, content);
                assertEquals("stop", finish);
            }
            server.stop();
            server = null;
        }
    }

    @Test
    void callLookalikesInUserContentAreNotCalls() throws Exception {
        Http http = start("Qwen2.5-0.5B-Instruct.jinja", "Plain answer.");
        Http.Resp r = http.post("/v1/chat/completions", body(CALL.replace("\"", "\\\"").replace("\n", "\\n"), ""));
        JsonNode ch = r.json().get("choices").get(0);
        assertEquals("stop", ch.get("finish_reason").asText());
        assertEquals("Plain answer.", ch.get("message").get("content").asText());
        assertFalse(ch.get("message").has("tool_calls"));
        // tool_choice none: the tools are not offered and a call-shaped answer is just text
        engine.script = CALL;
        r = http.post("/v1/chat/completions", body("x", "\"tool_choice\":\"none\""));
        assertEquals(CALL, r.json().get("choices").get(0).get("message").get("content").asText());
        assertFalse(http.post("/apply-template", body("x", "\"tool_choice\":\"none\"")).json().get("prompt").asText().contains("<tools>"));
    }

    @Test
    void forcedChoicesPutTheToolGrammarOnTheRequest() throws Exception {
        Http http = start("Qwen2.5-0.5B-Instruct.jinja", CALL);
        for (String choice : List.of("\"required\"", "{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}}")) {
            Http.Resp r = http.post("/v1/chat/completions", body("x", "\"tool_choice\":" + choice + ",\"parallel_tool_calls\":false"));
            assertEquals(200, r.status(), r.body());
            GenerationRequest req = engine.requests.getLast();
            assertNotNull(req.grammar(), choice);
            assertEquals("tool_calls", r.json().get("choices").get(0).get("finish_reason").asText());
        }
    }

    @Test
    void genericFormatForTemplatesWithoutTools() throws Exception {
        // ChatML (no tool support in the template): the tools go into a system message and JSON answers are read
        Http http = start(null, "{\"tool_call\": {\"name\": \"search\", \"arguments\": {\"q\": \"x\"}}}");
        Http.Resp r = http.post("/v1/chat/completions", body("x", ""));
        JsonNode msg = r.json().get("choices").get(0).get("message");
        assertEquals("search", msg.get("tool_calls").get(0).get("function").get("name").asText());
        assertNotNull(engine.requests.getLast().grammar(), "the generic format always constrains the answer");
        String prompt = http.post("/apply-template", body("x", "")).json().get("prompt").asText();
        assertTrue(prompt.contains("get_weather") && prompt.contains("\"response\""), prompt);
        engine.script = "{\"response\": \"It rains.\"}";
        msg = http.post("/v1/chat/completions", body("x", "")).json().get("choices").get(0).get("message");
        assertEquals("It rains.", msg.get("content").asText());
        assertFalse(msg.has("tool_calls"));
    }

    /** The newer formats: the model's call becomes tool_calls, and the call and its result go back through the template's history. */
    @Test
    void newFormatsRoundTripThroughTheirTemplates() throws Exception {
        // Functionary v3.1's template requires every tool to have a description
        String tools = TOOLS.replace("\"name\":\"get_weather\",", "\"name\":\"get_weather\",\"description\":\"Weather\",")
                .replace("\"name\":\"search\",", "\"name\":\"search\",\"description\":\"Search\",");
        String history = "{\"messages\":[{\"role\":\"user\",\"content\":\"Weather?\"},{\"role\":\"assistant\",\"content\":null,"
                + "\"reasoning_content\":\"Checking.\",\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
                + "\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}}]},{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"21C\"}],\"tools\":" + tools + "}";
        String[][] cases = {
                {"Qwen3-Coder-30B-A3B-Instruct.jinja", "<tool_call>\n<function=get_weather>\n<parameter=city>\nParis\n</parameter>\n</function>\n</tool_call>",
                        "<tool_call>\n<function=get_weather>\n<parameter=city>\nParis\n</parameter>\n</function>\n</tool_call>"},
                {"functionary-medium-v3.2.jinja", "all\nChecking.\n>>>get_weather\n{\"city\": \"Paris\"}", ">>>get_weather\n{\"city\":\"Paris\"}"},
                {"functionary-medium-v3.1.jinja", "<function=get_weather>{\"city\": \"Paris\"}</function>", "<function=get_weather>{\"city\":\"Paris\"}</function>"},
                {"c4ai-command-r7b-12-2024-tool_use.jinja", "<|START_THINKING|>Checking.<|END_THINKING|><|START_ACTION|>[{\"tool_call_id\": \"0\", "
                        + "\"tool_name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}]<|END_ACTION|>",
                        "<|START_THINKING|>Checking.<|END_THINKING|><|START_ACTION|>"}};
        for (String[] c : cases) {
            Http http = start(c[0], c[1]);
            Http.Resp first = http.post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"Weather?\"}],\"tools\":" + tools + "}");
            assertEquals(200, first.status(), c[0] + ": " + first.body());
            JsonNode msg = first.json().get("choices").get(0).get("message");
            assertEquals("get_weather", msg.get("tool_calls").get(0).get("function").get("name").asText(), c[0] + ": " + msg);
            assertEquals("{\"city\":\"Paris\"}", msg.get("tool_calls").get(0).get("function").get("arguments").asText(), c[0]);
            Http.Resp r = http.post("/apply-template", history);
            assertEquals(200, r.status(), c[0] + ": " + r.body());
            String prompt = r.json().get("prompt").asText();
            assertTrue(prompt.contains(c[2]) && prompt.contains("21C"), c[0] + ":\n" + prompt);
            server.stop();
            server = null;
        }
    }

    @Test
    void reasoningIsSplitOrKeptInline() throws Exception {
        Http http = start("Qwen3-0.6B.jinja", "<think>\nThe user greets.\n</think>\n\nHello!");
        String plain = "{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]";
        JsonNode msg = http.post("/v1/chat/completions", plain + "}").json().get("choices").get(0).get("message");
        assertEquals("The user greets.\n", msg.get("reasoning_content").asText());
        assertEquals("Hello!", msg.get("content").asText());
        msg = http.post("/v1/chat/completions", plain + ",\"reasoning_format\":\"none\"}").json().get("choices").get(0).get("message");
        assertEquals("<think>\nThe user greets.\n</think>\n\nHello!", msg.get("content").asText());
        assertFalse(msg.has("reasoning_content"));
        StringBuilder reasoning = new StringBuilder(), content = new StringBuilder();
        for (JsonNode e : http.post("/v1/chat/completions", plain + ",\"stream\":true}").events()) {
            JsonNode d = e.get("choices").get(0).get("delta");
            if (d.hasNonNull("reasoning_content")) reasoning.append(d.get("reasoning_content").asText());
            if (d.hasNonNull("content")) content.append(d.get("content").asText());
        }
        assertEquals("The user greets.\n", reasoning.toString());
        assertEquals("Hello!", content.toString());
        // enable_thinking false: the template closes the block itself, the answer is all content
        engine.script = "Hello!";
        String noThink = plain + ",\"chat_template_kwargs\":{\"enable_thinking\":false}}";
        assertTrue(http.post("/apply-template", noThink).json().get("prompt").asText().endsWith("<think>\n\n</think>\n\n"));
        msg = http.post("/v1/chat/completions", noThink).json().get("choices").get(0).get("message");
        assertEquals("Hello!", msg.get("content").asText());
        assertFalse(msg.has("reasoning_content"));
    }

    @Test
    void reasoningEffortReachesTheTemplate() throws Exception {
        Http http = start("gpt-oss-20b.jinja", "<|channel|>analysis<|message|>Think.<|end|><|start|>assistant<|channel|>final<|message|>Done.");
        String req = "{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"reasoning_effort\":\"high\"}";
        assertTrue(http.post("/apply-template", req).json().get("prompt").asText().contains("Reasoning: high"));
        JsonNode msg = http.post("/v1/chat/completions", req).json().get("choices").get(0).get("message");
        assertEquals("Think.", msg.get("reasoning_content").asText());
        assertEquals("Done.", msg.get("content").asText());
    }
}
