package io.sluice.chat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.sluice.template.TemplateException;
import io.sluice.template.TemplateRaisedException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Real models' chat templates (chat-templates/templates, origins in its README) rendered on every
 * conversation of conversations.json must give exactly what Python Jinja2 in Hugging Face's environment
 * gave (expected.json, from tools/generate.py): the same prompt text, or a failure where HF failed
 * (the template's own message for raise_exception).
 *
 * <p>{@code -Dsluice.chatTemplates.dir=DIR} runs the same comparison on another folder laid out alike
 * (templates/, conversations.json, expected.json), e.g. a larger local collection.
 */
@Timeout(120)
class ChatTemplateConformanceTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final Clock FIXED = Clock.fixed(LocalDateTime.of(2025, 3, 7, 14, 5, 9).toInstant(ZoneOffset.UTC), ZoneOffset.UTC);

    static String read(String name) throws IOException {
        String dir = System.getProperty("sluice.chatTemplates.dir");
        if (dir != null) return Files.readString(Path.of(dir, name));
        try (InputStream in = ChatTemplateConformanceTest.class.getResourceAsStream("/chat-templates/" + name)) {
            if (in == null) throw new IOException("missing test resource chat-templates/" + name);
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> map(JsonNode n) {
        return JSON.convertValue(n, LinkedHashMap.class);
    }

    @SuppressWarnings("unchecked")
    static List<Map<String, Object>> maps(JsonNode n) {
        if (n == null || n.isNull()) return null;
        List<Map<String, Object>> out = new ArrayList<>();
        for (JsonNode x : n) out.add(map(x));
        return out;
    }

    /** An HF-shaped message dict as a ChatMessage (what the server builds from an OpenAI request). */
    static ChatMessage message(JsonNode m) {
        Map<String, Object> extra = new LinkedHashMap<>();
        m.fields().forEachRemaining(e -> {
            if (!ChatMessage.STANDARD_KEYS.contains(e.getKey())) extra.put(e.getKey(), JSON.convertValue(e.getValue(), Object.class));
        });
        List<ToolCall> calls = new ArrayList<>();
        if (m.has("tool_calls")) {
            for (JsonNode c : m.get("tool_calls")) {
                JsonNode fn = c.get("function");
                calls.add(new ToolCall(c.has("id") ? c.get("id").asText() : null, fn.get("name").asText(), JSON.convertValue(fn.get("arguments"), Object.class)));
            }
        }
        return new ChatMessage(m.get("role").asText(), m.has("content") ? JSON.convertValue(m.get("content"), Object.class) : null,
                m.hasNonNull("reasoning_content") ? m.get("reasoning_content").asText() : null, calls,
                m.hasNonNull("tool_call_id") ? m.get("tool_call_id").asText() : null, m.hasNonNull("name") ? m.get("name").asText() : null, extra);
    }

    static ChatOptions options(JsonNode conv) {
        return ChatOptions.defaults()
                .withTools(maps(conv.get("tools")))
                .withDocuments(maps(conv.get("documents")))
                .withAddGenerationPrompt(conv.get("add_generation_prompt").asBoolean())
                .withSpecialTokens(conv.get("bos_token").asText(), conv.get("eos_token").asText())
                .withKwargs(conv.has("kwargs") ? map(conv.get("kwargs")) : null)
                .withClock(FIXED);
    }

    static String outcome(ChatTemplate t, JsonNode conv) {
        List<ChatMessage> messages = new ArrayList<>();
        for (JsonNode m : conv.get("messages")) messages.add(message(m));
        try {
            return t.render(messages, options(conv));
        } catch (TemplateRaisedException e) {
            return "raised:" + e.reason();
        } catch (TemplateException e) {
            return "error:" + e.getMessage();
        }
    }

    @Test
    void realTemplatesRenderAsHuggingFaceDoes() throws IOException {
        JsonNode convs = JSON.readTree(read("conversations.json"));
        JsonNode expected = JSON.readTree(read("expected.json")).get("templates");
        assertTrue(expected.size() >= 20, "templates: " + expected.size());
        List<String> failures = new ArrayList<>();
        int compared = 0, rendered = 0;
        for (var it = expected.fields(); it.hasNext(); ) {
            var e = it.next();
            ChatTemplate t;
            try {
                t = ChatTemplate.compile(read("templates/" + e.getKey()));
            } catch (TemplateException ex) {
                failures.add(e.getKey() + ": does not compile: " + ex.getMessage());
                continue;
            }
            for (JsonNode conv : convs) {
                JsonNode want = e.getValue().get(conv.get("name").asText());
                String got = outcome(t, conv);
                compared++;
                if (want.has("output")) {
                    rendered++;
                    if (!want.get("output").asText().equals(got)) failures.add(e.getKey() + " / " + conv.get("name").asText() + ":\n  want " + quote(want.get("output").asText()) + "\n  got  " + quote(got));
                } else if (want.get("error").asText().equals("raised")) {
                    if (!got.equals("raised:" + want.get("message").asText())) failures.add(e.getKey() + " / " + conv.get("name").asText() + ": want raise_exception(" + want.get("message").asText() + "), got " + quote(got));
                } else if (!got.startsWith("error:")) {
                    failures.add(e.getKey() + " / " + conv.get("name").asText() + ": HF failed (" + want.get("message").asText() + "), Sluice rendered " + quote(got));
                }
            }
        }
        assertEquals("", String.join("\n", failures), failures.size() + " of " + compared + " renders differ (" + rendered + " expected outputs)");
        assertTrue(rendered > compared / 2, "most renders should succeed: " + rendered + " of " + compared);
    }

    static String quote(String s) {
        return s.length() > 600 ? JSON.valueToTree(s.substring(0, 600)) + "..." : JSON.valueToTree(s).toString();
    }
}
