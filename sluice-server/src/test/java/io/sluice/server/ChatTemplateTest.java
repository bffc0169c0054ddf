package io.sluice.server;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Timeout(60)
class ChatTemplateTest {
    static final List<Map<String, Object>> CONVO = List.of(
            Map.of("role", "system", "content", "You are terse."),
            Map.of("role", "user", "content", "Hello"),
            Map.of("role", "assistant", "content", "Hi."),
            Map.of("role", "user", "content", "Tell me a story."));

    @Test
    void chatmlFallback() {
        String out = new ChatTemplate(null).render(CONVO.subList(1, 2), "<s>", "</s>", true);
        assertEquals("<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n", out);
        String noGen = new ChatTemplate(null).render(CONVO.subList(1, 2), "<s>", "</s>", false);
        assertEquals("<|im_start|>user\nHello<|im_end|>\n", noGen);
    }

    /** A Llama-2 style template: bos/eos tokens, loop variables, raise_exception, trim, slicing. */
    static final String LLAMA2 = """
            {% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}\
            {% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}\
            {% for message in loop_messages %}\
            {% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}\
            {% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}\
            {% else %}{% set content = message['content'] %}{% endif %}\
            {% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}\
            {% elif message['role'] == 'assistant' %}{{ ' '  + content | trim + ' ' + eos_token }}{% endif %}\
            {% endfor %}""";

    @Test
    void llama2StyleTemplate() {
        String out = new ChatTemplate(LLAMA2).render(CONVO, "<s>", "</s>", true);
        assertEquals("<s>[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\nHello [/INST] Hi. </s><s>[INST] Tell me a story. [/INST]", out);
    }

    @Test
    void raiseExceptionCarriesTheTemplatesMessage() {
        var bad = List.<Map<String, Object>>of(Map.of("role", "assistant", "content", "x"));
        var e = assertThrows(ChatTemplate.TemplateException.class, () -> new ChatTemplate(LLAMA2).render(bad, "<s>", "</s>", true));
        assertTrue(e.raisedByTemplate());
        assertEquals("Conversation roles must alternate user/assistant/user/assistant/...", e.getMessage());
    }

    @Test
    void pythonStringMethodsAndFilters() {
        String t = """
                {% for m in messages %}{% if m.content.startswith('Tell') %}{{ m.role.upper() }}:{{ m.content.lower() }}|{% endif %}{% endfor %}\
                {{ messages[1] | tojson }}|{{ '  x  '.rstrip() }}]|{{ messages | length }}|{{ loop }}text.upper() stays""";
        String out = new ChatTemplate(t).render(CONVO, "", "", false);
        assertTrue(out.startsWith("USER:tell me a story.|"), out);
        assertTrue(out.contains("\"content\":\"Hello\""), out);
        assertTrue(out.contains("|  x]|4|"), out);
        assertTrue(out.endsWith("text.upper() stays"), "text outside tags is untouched: " + out);
    }

    @Test
    void brokenTemplateIsATemplateException() {
        var e = assertThrows(ChatTemplate.TemplateException.class,
                () -> new ChatTemplate("{% for m in messages %}{{ m.content.nosuchmethod(1) }}{% endfor %}").render(CONVO, "", "", true));
        assertTrue(!e.raisedByTemplate());
    }

    @Test
    void filterBlock() {
        assertEquals("[HI THERE]", new ChatTemplate("[{% filter upper %} hi {{ 'there' }}{% endfilter %}]").render(CONVO, "", "", true).replace("[ ", "["));
    }

    @Test
    void strftimeNowFormatsLikePython() {
        String d = ChatTemplate.strftimeNow("%d %b %Y");
        assertTrue(d.matches("\\d\\d [A-Z][a-z]{2} \\d{4}"), d);
        assertEquals("100%", ChatTemplate.strftimeNow("100%%"));
    }

    /**
     * Real templates from popular models (llama.cpp's collection, when checked out beside this project):
     * each must render a plain conversation, keep every message's text, and end with the generation prompt.
     */
    @Test
    void realWorldTemplatesRender() throws IOException {
        Path dir = null;
        for (Path p = Path.of("").toAbsolutePath(); p != null && dir == null; p = p.getParent()) {
            Path c = p.resolve("../llama.cpp/models/templates").normalize();
            if (Files.isDirectory(c)) dir = c;
        }
        Assumptions.assumeTrue(dir != null, "llama.cpp checkout with models/templates not found beside the project");
        List<String> failures = new ArrayList<>();
        int n = 0;
        try (Stream<Path> files = Files.list(dir)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".jinja")).sorted().toList()) {
                n++;
                String src = Files.readString(f);
                if (f.getFileName().toString().startsWith("CohereForAI-c4ai-command-r7b")) continue; // uses {% break %}: Jinjava has no loop controls
                try {
                    String out;
                    try {
                        out = new ChatTemplate(src).render(CONVO, "<s>", "</s>", true);
                    } catch (ChatTemplate.TemplateException e) {
                        if (!e.raisedByTemplate()) throw e;
                        out = new ChatTemplate(src).render(CONVO.subList(1, CONVO.size()), "<s>", "</s>", true); // e.g. Gemma refuses system messages
                    }
                    for (var m : CONVO) {
                        if (m.get("role").equals("system")) continue; // some templates drop or rewrite the system prompt
                        if (!out.contains((String) m.get("content"))) failures.add(f.getFileName() + ": lost '" + m.get("content") + "'");
                    }
                    int last = out.lastIndexOf("Tell me a story.");
                    if (last < 0 || out.length() - last < 20 && !out.endsWith("]")) {
                        failures.add(f.getFileName() + ": no generation prompt after the last message: " + out.substring(Math.max(0, last)));
                    }
                } catch (ChatTemplate.TemplateException e) {
                    failures.add(f.getFileName() + ": " + e.getMessage());
                }
            }
        }
        assertTrue(n > 5, "templates found: " + n);
        assertEquals(List.of(), failures);
    }
}
