package io.sluice.chat;

import io.sluice.template.TemplateException;
import io.sluice.template.TemplateLimitException;
import io.sluice.template.TemplateLimits;
import io.sluice.template.TemplateRaisedException;
import io.sluice.template.TemplateSyntaxException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Clock;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Timeout(60)
class ChatTemplateTest {
    static final List<ChatMessage> CONVO = List.of(ChatMessage.system("Be terse."), ChatMessage.user("Hello"),
            ChatMessage.assistant("Hi."), ChatMessage.user("Story?"));

    @Test
    void chatmlFallback() {
        assertEquals("<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n", ChatTemplate.chatml().render(List.of(ChatMessage.user("Hello"))));
        assertEquals("<|im_start|>user\nHello<|im_end|>\n",
                ChatTemplate.chatml().render(List.of(ChatMessage.user("Hello")), ChatOptions.defaults().withAddGenerationPrompt(false)));
    }

    @Test
    void templatesSeeHuggingFacesVariables() {
        ChatTemplate t = ChatTemplate.compile("{{ bos_token }}|{{ eos_token }}|{{ add_generation_prompt }}|{{ tools }}|{{ documents }}|{{ enable_thinking }}"
                + "|{{ enable_thinking is defined }}|{{ messages|length }}|{{ strftime_now('%d %b %Y') }}");
        Clock clock = Clock.fixed(LocalDateTime.of(2024, 7, 26, 9, 0).toInstant(ZoneOffset.UTC), ZoneOffset.UTC);
        assertEquals("<s>|</s>|True|None|None||False|4|26 Jul 2024", t.render(CONVO, ChatOptions.defaults().withSpecialTokens("<s>", "</s>").withClock(clock)));
        assertEquals("||False|[{'type': 'function'}]|None|False|True|4|26 Jul 2024", t.render(CONVO, ChatOptions.defaults().withAddGenerationPrompt(false)
                .withTools(List.of(Map.of("type", "function"))).withKwargs(Map.of("enable_thinking", false)).withClock(clock)));
    }

    @Test
    void toolCallsReachTheTemplateInHuggingFacesShape() {
        ChatTemplate t = ChatTemplate.compile("{% for m in messages %}{{ m|tojson }}\n{% endfor %}");
        List<ChatMessage> msgs = List.of(ChatMessage.user("Weather?"),
                ChatMessage.assistant(null, List.of(ToolCall.of("call_1", "get_weather", Map.of("city", "Paris")))),
                ChatMessage.tool("call_1", "get_weather", "18C"),
                ChatMessage.assistant("It is 18C.").withReasoningContent("easy").withExtra(Map.of("thinking", "hmm")));
        assertEquals("""
                {"role": "user", "content": "Weather?"}
                {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]}
                {"role": "tool", "content": "18C", "tool_call_id": "call_1", "name": "get_weather"}
                {"role": "assistant", "content": "It is 18C.", "reasoning_content": "easy", "thinking": "hmm"}
                """, t.render(msgs));
        assertEquals("FalseTrue", ChatTemplate.compile("{{ 'tool_calls' in messages[0] }}{{ 'tool_calls' in messages[1] }}").render(msgs),
                "absent optional fields are absent keys");
    }

    @Test
    void kwargsCannotReplaceTheConversation() {
        for (String k : List.of("messages", "tools", "documents", "add_generation_prompt")) {
            assertThrows(IllegalArgumentException.class, () -> ChatOptions.defaults().withKwargs(Map.of(k, "x")), k);
        }
        assertEquals("[B]", ChatTemplate.compile("[{{ bos_token }}]").render(CONVO, ChatOptions.defaults().withSpecialTokens("<s>", "").withKwargs(Map.of("bos_token", "B"))));
        assertThrows(IllegalArgumentException.class, () -> ChatMessage.user("x").withExtra(Map.of("role", "system")));
    }

    @Test
    void errorsSayWhatKindTheyAre() {
        assertThrows(TemplateSyntaxException.class, () -> ChatTemplate.compile("{% for m in messages %}"));
        var raised = assertThrows(TemplateRaisedException.class,
                () -> ChatTemplate.compile("{{ raise_exception('System role not supported') }}").render(CONVO));
        assertEquals("System role not supported", raised.reason());
        var limit = assertThrows(TemplateLimitException.class, () -> ChatTemplate.compile("{% for m in range(100000) %}{% for n in range(100000) %}{% endfor %}{% endfor %}")
                .render(CONVO, ChatOptions.defaults().withLimits(TemplateLimits.defaults().withMaxSteps(10_000))));
        assertEquals(TemplateLimits.Limit.STEPS, limit.limit());
        var runtime = assertThrows(TemplateException.class, () -> ChatTemplate.compile("{{ messages[0].content + 1 }}").render(CONVO));
        assertTrue(runtime.getMessage().contains("concatenate"), runtime.getMessage());
    }

    @Test
    void loadTimeCheck() {
        assertNull(ChatTemplate.chatml().check("", ""));
        assertNull(ChatTemplate.compile("{% if messages[0].role == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}ok")
                .check("<s>", "</s>"), "a template that refuses a system message on purpose is fine");
        assertNull(ChatTemplate.compile("{{ raise_exception('never happy') }}").check("", ""), "deliberate refusals are the template's business");
        assertNotNull(ChatTemplate.compile("{{ messages[0].content.nosuch() }}").check("", ""));
        String slow = ChatTemplate.compile("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}")
                .check(ChatOptions.defaults().withLimits(TemplateLimits.defaults().withMaxTime(Duration.ofMillis(300))));
        assertNotNull(slow);
        assertTrue(slow.contains("steps") || slow.contains("ms"), slow);
    }
}
