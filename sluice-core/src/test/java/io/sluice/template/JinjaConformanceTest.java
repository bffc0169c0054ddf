package io.sluice.template;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.sluice.chat.ChatTemplate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.io.InputStream;
import java.time.Clock;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Jinja2 semantics, case by case: each snippet in chat-templates/jinja-cases.json was rendered by Python
 * Jinja2 in Hugging Face's environment (tools/generate.py); the interpreter must give the same text, or
 * fail where Jinja2 failed (with the same message for raise_exception).
 */
@Timeout(60)
class JinjaConformanceTest {
    static final ObjectMapper JSON = new ObjectMapper();
    /** The instant tools/hf_env.py fixes strftime_now at. */
    static final Clock FIXED = Clock.fixed(LocalDateTime.of(2025, 3, 7, 14, 5, 9).toInstant(ZoneOffset.UTC), ZoneOffset.UTC);

    static JsonNode resource(String name) throws IOException {
        try (InputStream in = JinjaConformanceTest.class.getResourceAsStream("/chat-templates/" + name)) {
            if (in == null) throw new IOException("missing test resource chat-templates/" + name);
            return JSON.readTree(in);
        }
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> plain(JsonNode n) {
        return JSON.convertValue(n, Map.class);
    }

    /** Renders like hf_env.render: the output, or "error:<kind>" / "raised:<message>". */
    static String outcome(String source, Map<String, Object> vars) {
        try {
            Map<String, Object> all = new HashMap<>(ChatTemplate.globals(FIXED));
            all.putAll(vars);
            return Template.compile(source).render(all);
        } catch (TemplateRaisedException e) {
            return "raised:" + e.reason();
        } catch (TemplateException e) {
            return "error:" + e.getMessage();
        }
    }

    static String expected(JsonNode result) {
        if (result.has("output")) return result.get("output").asText();
        return result.get("error").asText().equals("raised") ? "raised:" + result.get("message").asText() : "error:";
    }

    @Test
    void everyCaseMatchesJinja2() throws IOException {
        JsonNode cases = resource("jinja-cases.json").get("cases");
        assertTrue(cases.size() > 150, "cases: " + cases.size());
        List<String> failures = new ArrayList<>();
        for (JsonNode c : cases) {
            String source = c.get("template").asText();
            String want = expected(c.get("result"));
            String got = outcome(source, plain(c.get("vars")));
            boolean ok = want.equals("error:") ? got.startsWith("error:") : want.equals(got);
            if (!ok) failures.add(source + "\n    want " + show(want) + (c.get("result").has("message") ? " (" + c.get("result").get("message").asText() + ")" : "") + "\n    got  " + show(got));
        }
        assertEquals("", String.join("\n", failures), failures.size() + " of " + cases.size() + " cases differ from Jinja2");
    }

    static String show(String s) {
        return Py.repr(new Value.Str(s));
    }
}
