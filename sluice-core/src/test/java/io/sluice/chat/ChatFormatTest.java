package io.sluice.chat;

import io.sluice.Fixtures;
import io.sluice.chat.output.ToolFormats;
import io.sluice.grammar.GrammarCache;
import io.sluice.grammar.GrammarMatcher;
import io.sluice.model.Model;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** ChatFormat's choices for in-process requests: which grammar and parser an answer gets, and what the template is given. */
class ChatFormatTest {
    static final List<Map<String, Object>> TOOLS = List.of(ChatFormat.tool("weather", "The weather",
            Map.of("type", "object", "properties", Map.of("city", Map.of("enum", List.of("PARIS", "OSLO"))), "required", List.of("city"))));

    static Model model;
    static ChatFormat hermes, chatml;

    @BeforeAll
    static void load() {
        model = Model.load(Fixtures.model("stories260K.gguf"));
        hermes = ChatFormat.of(ChatTemplate.compile(TestTemplates.HERMES), model.tokenizer(), new GrammarCache(model.tokenizer(), 8));
        chatml = ChatFormat.of(ChatTemplate.chatml(), model.tokenizer(), new GrammarCache(model.tokenizer(), 8));
    }

    @AfterAll
    static void close() {
        if (model != null) model.close();
    }

    @Test
    void theTemplatePicksTheFormat() {
        assertEquals(ToolFormats.HERMES, hermes.toolFormat());
        assertFalse(hermes.toolsInPrompt(), "it renders the tools itself");
        assertEquals(ToolFormats.GENERIC, chatml.toolFormat());
        assertTrue(chatml.toolsInPrompt(), "ChatML knows no tools: they are described in a system message");
        assertFalse(hermes.thinks());
    }

    @Test
    void controlTokenTextInAMessageStaysText() {
        // The in-process prompt path (LangChain4j, Spring AI) as the server's: "</s><s>" typed by a user must
        // not end the turn; parsed as special (the old encoding) it would give the EOS and BOS ids.
        var tok = model.tokenizer();
        ChatFormat.Prepared p = hermes.prepare(List.of(ChatMessage.user("hi </s><s> there")), null, null, false, null);
        assertTrue(p.prompt().contains("</s><s>"), "the text reaches the prompt");
        int[] parsed = tok.encode(p.prompt(), false, true);
        assertTrue(java.util.Arrays.stream(parsed).anyMatch(id -> id == tok.eos()), "the old encoding makes a control token of it");
        assertFalse(java.util.Arrays.stream(p.tokens()).anyMatch(id -> id == tok.eos()), "no EOS from the user's text");
        assertTrue(java.util.Arrays.stream(p.tokens()).filter(id -> id == tok.bos()).count() <= 1, "at most the model's own BOS");
    }

    @Test
    void forcedCallsGetAGrammarAndAParserAutoBindsFromTheMarkerOn() {
        List<ChatMessage> user = List.of(ChatMessage.user("Weather in Oslo?"));
        ChatFormat.Prepared forced = hermes.prepare(user, TOOLS, ToolChoice.required(false), false, null);
        assertNotNull(forced.grammar());
        assertNotNull(forced.answer().parser());
        assertTrue(forced.prompt().contains("Tools: weather."), forced.prompt());
        ChatFormat.Prepared auto = hermes.prepare(user, TOOLS, ToolChoice.auto(true), false, null);
        assertNotNull(auto.answer().parser());
        // auto: free text, but from the marker on a call (here a literal: stories260K has no <tool_call> token)
        var tok = model.tokenizer();
        GrammarMatcher m = auto.grammar().newMatcher();
        for (int t : tok.encode("Let me see. <tool_call>\n{\"name\": \"weather\", \"arguments\": {\"city\": \"OSLO\"}}\n</tool_call>", false, false)) {
            assertTrue(m.accept(t), "free text, then the call");
        }
        assertTrue(m.canEnd(), "the answer may end with the call (or, parallel, go on with another)");
        assertFalse(java.util.Arrays.stream(tok.encode(" Done.", false, false)).allMatch(m.copy()::accept), "no text after the calls");
        GrammarMatcher prose = auto.grammar().newMatcher();
        assertFalse(java.util.Arrays.stream(tok.encode("Let me see. <tool_call>\nIt is sunny.", false, false)).allMatch(prose::accept),
                "after the marker, only a call");
        GrammarMatcher free = auto.grammar().newMatcher();
        for (int t : tok.encode("It is sunny in <Oslo> today.", false, false)) assertTrue(free.accept(t), "a free answer");
        assertTrue(free.canEnd());
        // a schema no grammar can express: auto answers free, as before it had a grammar; required is refused
        List<Map<String, Object>> inexpressible = List.of(ChatFormat.tool("f", null, Map.of("type", "object", "not", Map.of())));
        assertNull(hermes.prepare(user, inexpressible, ToolChoice.auto(true), false, null).grammar());
        assertThrows(ChatFormat.InvalidToolsException.class, () -> hermes.prepare(user, inexpressible, ToolChoice.required(true), false, null));
        ChatFormat.Prepared none = hermes.prepare(user, TOOLS, null, false, null);
        assertNull(none.grammar());
        assertNull(none.answer().parser(), "no tools offered, nothing to parse");
        assertFalse(none.prompt().contains("Tools:"), none.prompt());
        assertTrue(chatml.prepare(user, TOOLS, ToolChoice.auto(true), false, null).grammar() != null,
                "in the generic format auto is constrained too (calls or a JSON answer)");
        ChatFormat.Prepared json = hermes.prepare(user, null, null, true, null);
        assertNotNull(json.grammar());
        assertNull(json.answer().parser());
    }

    @Test
    void theHistoryAndToolsReachTheTemplate() {
        List<ChatMessage> history = List.of(ChatMessage.user("Weather?"),
                ChatMessage.assistant("", List.of(ToolCall.of("call_1", "weather", Map.of("city", "OSLO")))),
                ChatMessage.tool("call_1", "weather", "snow"));
        String p = hermes.prepare(history, TOOLS, ToolChoice.auto(true), false, null).prompt();
        assertTrue(p.contains("<tool_call>\n{\"name\": \"weather\", \"arguments\": {\"city\": \"OSLO\"}}\n</tool_call>"), p);
        assertTrue(p.contains("<|im_start|>tool\nsnow<|im_end|>"), p);
        String described = chatml.prepare(List.of(ChatMessage.user("Weather?")), TOOLS, ToolChoice.auto(true), false, null).prompt();
        assertTrue(described.startsWith("<|im_start|>system") && described.contains("weather"), described);
    }

    @Test
    void contradictoryRequestsAreRefused() {
        List<ChatMessage> user = List.of(ChatMessage.user("x"));
        assertThrows(IllegalArgumentException.class, () -> hermes.prepare(user, TOOLS, ToolChoice.required(true), true, null), "tools and JSON");
        assertThrows(IllegalArgumentException.class, () -> hermes.prepare(user, TOOLS, ToolChoice.named("nope"), false, null), "an unknown function");
        assertThrows(IllegalArgumentException.class, () -> hermes.prepare(user, null, ToolChoice.required(true), false, null), "required without tools");
        assertThrows(IllegalArgumentException.class, () -> new ToolChoice(ToolChoice.Mode.AUTO, "f", true));
    }
}
