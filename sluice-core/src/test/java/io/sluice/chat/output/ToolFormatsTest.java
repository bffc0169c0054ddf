package io.sluice.chat.output;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.sluice.chat.ChatMessage;
import io.sluice.chat.ChatOptions;
import io.sluice.chat.ChatTemplate;
import io.sluice.chat.ToolCall;
import io.sluice.grammar.EarleyOracle;
import io.sluice.grammar.Grammar;
import io.sluice.grammar.GrammarException;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.UnaryOperator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The format chosen for the real templates, the forced-call grammars, and calls round-tripping through the template. */
class ToolFormatsTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final UnaryOperator<String> LITERAL = ToolGrammar::lit;

    static String template(String file) throws Exception {
        try (InputStream in = ToolFormatsTest.class.getResourceAsStream("/chat-templates/templates/" + file)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    @Test
    void formatsOfTheRealTemplates() throws Exception {
        Map<String, String> expected = new LinkedHashMap<>();
        expected.put("Qwen2.5-0.5B-Instruct.jinja", "hermes");
        expected.put("Qwen3-0.6B.jinja", "hermes");
        expected.put("QwQ-32B.jinja", "hermes");
        expected.put("Hermes-3-Llama-3.1-70B.jinja", "generic"); // its default template has no tool use
        expected.put("Llama-3.1-8B-Instruct.jinja", "llama3");
        expected.put("Llama-3.2-3B-Instruct.jinja", "llama3");
        expected.put("Mistral-7B-Instruct.jinja", "generic"); // v0.1/v0.2's template: no tools
        expected.put("granite-4.0.jinja", "hermes");
        expected.put("granite-4.1.jinja", "hermes");
        expected.put("Hermes-2-Pro-Llama-3-8B-tool_use.jinja", "hermes");
        expected.put("Llama-3.3-70B-Instruct.jinja", "llama3");
        expected.put("Mistral-Nemo-Instruct-2407.jinja", "mistral");
        expected.put("Mistral-Small-3.2-24B-Instruct-2506.jinja", "mistral");
        expected.put("gpt-oss-120b.jinja", "harmony");
        expected.put("granite-3.3-2b-instruct.jinja", "granite");
        expected.put("gpt-oss-20b.jinja", "harmony");
        expected.put("gemma-3-1b-it.jinja", "generic");
        expected.put("SmolLM2-135M-Instruct.jinja", "generic");
        expected.put("Meta-Llama-3-8B-Instruct.jinja", "generic");
        expected.put("Qwen3-Coder-30B-A3B-Instruct.jinja", "qwen3-coder");
        expected.put("functionary-medium-v3.1.jinja", "functionary-v3.1");
        expected.put("functionary-medium-v3.2.jinja", "functionary-v3.2");
        expected.put("c4ai-command-r7b-12-2024-tool_use.jinja", "command-r7b");
        expected.put("c4ai-command-r7b-12-2024.jinja", "command-r7b"); // its GGUF's template: the tool format, though it renders tools only with documents
        expected.put("c4ai-command-r-v01.jinja", "generic");
        for (var e : expected.entrySet()) assertEquals(e.getValue(), ToolFormats.forTemplate(template(e.getKey())).name(), e.getKey());
        assertEquals("generic", ToolFormats.forTemplate(ChatTemplate.CHATML_SOURCE).name());
        // Mistral v0.3's template (not among the conformance templates): it writes calls after [TOOL_CALLS]
        assertEquals("mistral", ToolFormats.forTemplate("{%- if message.tool_calls %}{{- \"[TOOL_CALLS] [\" }}{%- endif %}").name());
    }

    static final JsonNode WEATHER = parse("""
            {"type": "object", "properties": {"city": {"type": "string", "description": "City"}, "unit": {"$ref": "#/$defs/unit", "description": "Unit"}},
             "required": ["city", "unit"], "additionalProperties": false, "$defs": {"unit": {"enum": ["celsius", "fahrenheit"]}}}""");
    static final List<ToolFormat.Tool> TOOLS = List.of(new ToolFormat.Tool("get_weather", WEATHER), new ToolFormat.Tool("search", null));

    static JsonNode parse(String s) {
        try {
            return JSON.readTree(s);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    static boolean matches(String gbnf, String text) {
        return new EarleyOracle(Grammar.parseGbnf(gbnf)).sentence(text.getBytes(StandardCharsets.UTF_8));
    }

    /** format, a forced call in it, the same call with arguments its schema refuses. */
    static final List<String[]> CALLS = List.of(
            new String[]{"hermes", "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"unit\": \"celsius\"}}\n</tool_call>"},
            new String[]{"llama3", "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\", \"unit\": \"celsius\"}}"},
            new String[]{"mistral", "[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"unit\": \"celsius\"}}]"},
            new String[]{"granite", "<|tool_call|>[{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"unit\": \"celsius\"}}]"},
            new String[]{"harmony", "<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{\"city\": \"Paris\", \"unit\": \"celsius\"}"},
            new String[]{"generic", "{\"tool_call\": {\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"unit\": \"celsius\"}}}"},
            new String[]{"qwen3-coder", "<tool_call>\n<function=get_weather>\n<parameter=city>\nParis\n</parameter>\n<parameter=unit>\ncelsius\n</parameter>\n</function>\n</tool_call>"},
            new String[]{"functionary-v3.2", "get_weather\n{\"city\": \"Paris\", \"unit\": \"celsius\"}"},
            new String[]{"functionary-v3.1", "<function=get_weather>{\"city\": \"Paris\", \"unit\": \"celsius\"}</function>"},
            new String[]{"command-r7b", "<|START_ACTION|>[\n    {\"tool_call_id\": \"0\", \"tool_name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\", \"unit\": \"celsius\"}}\n]<|END_ACTION|>"});

    static ToolFormat byName(String name) {
        for (ToolFormat f : List.of(ToolFormats.HERMES, ToolFormats.LLAMA3, ToolFormats.MISTRAL, ToolFormats.GRANITE, ToolFormats.HARMONY, ToolFormats.GENERIC,
                ToolFormats.QWEN3_CODER, ToolFormats.FUNCTIONARY_V3_2, ToolFormats.FUNCTIONARY_V3_1, ToolFormats.COMMAND_R7B)) {
            if (f.name().equals(name)) return f;
        }
        throw new AssertionError(name);
    }

    @Test
    void forcedGrammarsAcceptExactlyValidCallsThatParseBack() {
        for (String[] c : CALLS) {
            ToolFormat f = byName(c[0]);
            String g = f.grammar(TOOLS, false, false, false, LITERAL);
            assertTrue(matches(g, c[1]), c[0] + " grammar accepts its call:\n" + g);
            assertFalse(matches(g, c[1].replace("celsius", "kelvin")), c[0] + ": an enum value outside the schema");
            assertFalse(matches(g, c[1].replace("get_weather", "get_wether")), c[0] + ": a function that is not offered");
            assertFalse(matches(g, c[1].replace("\"unit\": \"celsius\"", "\"unti\": \"celsius\"").replace("<parameter=unit>", "<parameter=unti>")),
                    c[0] + ": a misspelt required property");
            assertFalse(matches(g, "Sure! " + c[1]), c[0] + ": text before the call");
            OutputParser p = f.parser(Set.of("get_weather", "search"), true, false, IdSource.counting());
            ChatOutput out = new ChatOutput();
            out.addAll(p.push(c[1]));
            out.addAll(p.finish());
            assertEquals(1, out.calls().size(), c[0]);
            assertEquals("{\"city\":\"Paris\",\"unit\":\"celsius\"}", out.calls().getFirst().arguments(), c[0]);
        }
    }

    /** tool_choice auto: any text without the marker, then maybe calls that must be valid from the marker on. */
    @Test
    void autoBindsTheCallsFromTheirMarkerOn() {
        Map<String, String> markers = Map.of("hermes", "<tool_call>", "mistral", "[TOOL_CALLS]", "granite", "<|tool_call|>", "qwen3-coder", "<tool_call>");
        for (String[] c : CALLS) {
            String marker = markers.get(c[0]);
            if (marker == null) continue;
            String g = byName(c[0]).grammar(TOOLS, false, true, false, LITERAL);
            String call = c[1];
            for (String free : List.of("", "Paris is sunny.", "a < b and [x] | y", "<tool", "[TOOL", "<|tool_", "<<tool_call", "[[TOOL_CALLS",
                    "<think>\nI know this.\n</think>\n\nIt is 20 degrees.", "日本 é\n\n")) {
                assertTrue(matches(g, free), c[0] + ": a free answer " + free);
                assertTrue(matches(g, free + call), c[0] + ": a call after " + free);
                assertFalse(matches(g, free + call.replace("celsius", "kelvin")), c[0] + ": from the marker on, the schema binds");
                assertFalse(matches(g, free + call.replace("get_weather", "get_wether")), c[0] + ": only offered functions");
            }
            assertFalse(matches(g, "see " + marker + " here"), c[0] + ": the marker opens a call, it is not text");
            assertFalse(matches(g, call + " and some words"), c[0] + ": the answer ends with the calls");
            String both = marker.equals("<tool_call>") ? call + "\n" + call : call.replace("}}]", "}}, " + call.substring(call.indexOf("[{") + 1));
            assertTrue(matches(byName(c[0]).grammar(TOOLS, true, true, false, LITERAL), "Both: " + both), c[0] + ": parallel " + both);
        }
    }

    @Test
    void grammarVariants() {
        String hermes = ToolFormats.HERMES.grammar(TOOLS, true, false, true, LITERAL);
        String one = "<tool_call>\n{\"name\": \"search\", \"arguments\": {\"q\": 1}}\n</tool_call>";
        assertTrue(matches(hermes, "</think>\n\n" + one + "\n" + one), "parallel calls after the open reasoning is closed");
        assertFalse(matches(hermes, one), "the open reasoning block must be closed first");
        // named: only that function
        String named = ToolFormats.HERMES.grammar(List.of(TOOLS.get(1)), false, false, false, LITERAL);
        assertTrue(matches(named, one));
        assertFalse(matches(named, CALLS.getFirst()[1]));
        // generic with tool_choice auto may answer in text
        String generic = ToolFormats.GENERIC.grammar(TOOLS, true, true, false, LITERAL);
        assertTrue(matches(generic, "{\"response\": \"Hello\"}"));
        assertTrue(matches(generic, "{\"tool_calls\": [{\"name\": \"search\", \"arguments\": {}}]}"));
        assertFalse(matches(generic, "Hello"));
        // Llama 3's calls have no marker of their own: nothing says where one begins, so auto stays free
        assertEquals(null, ToolFormats.LLAMA3.grammar(TOOLS, false, true, false, LITERAL));
        // a parameter schema the grammar cannot express is refused, naming the keyword
        GrammarException e = assertThrows(GrammarException.class, () -> ToolFormats.HERMES.grammar(
                List.of(new ToolFormat.Tool("f", parse("{\"type\": \"object\", \"not\": {}}"))), false, false, false, LITERAL));
        assertTrue(e.getMessage().contains("not"), e.getMessage());
    }

    @Test
    void parsedCallsRoundTripThroughTheirTemplates() throws Exception {
        Map<String, String> files = Map.of("hermes", "Qwen2.5-0.5B-Instruct.jinja", "llama3", "Llama-3.1-8B-Instruct.jinja",
                "mistral", "Mistral-Nemo-Instruct-2407.jinja", "harmony", "gpt-oss-20b.jinja", "granite", "granite-3.3-2b-instruct.jinja",
                "qwen3-coder", "Qwen3-Coder-30B-A3B-Instruct.jinja", "functionary-v3.2", "functionary-medium-v3.2.jinja",
                "functionary-v3.1", "functionary-medium-v3.1.jinja", "command-r7b", "c4ai-command-r7b-12-2024-tool_use.jinja");
        // the call as each new format's template writes it back: the way the model wrote it
        Map<String, String> written = Map.of(
                "qwen3-coder", "<tool_call>\n<function=get_weather>\n<parameter=city>\nParis\n</parameter>\n<parameter=unit>\ncelsius\n</parameter>\n</function>\n</tool_call>",
                "functionary-v3.2", ">>>get_weather\n{\"city\":\"Paris\",\"unit\":\"celsius\"}",
                "functionary-v3.1", "<function=get_weather>{\"city\":\"Paris\",\"unit\":\"celsius\"}</function>",
                "command-r7b", "<|START_THINKING|>Checking the weather.<|END_THINKING|><|START_ACTION|>[\n    {\"tool_call_id\": \"0\", \"tool_name\": \"get_weather\", "
                        + "\"parameters\": {\"city\": \"Paris\", \"unit\": \"celsius\"}}\n]<|END_ACTION|>");
        List<Map<String, Object>> tools = List.of(Map.of("type", "function", "function",
                Map.of("name", "get_weather", "description", "Weather", "parameters", JSON.convertValue(WEATHER, Map.class))));
        for (String[] c : CALLS) {
            if (!files.containsKey(c[0])) continue;
            ToolFormat f = byName(c[0]);
            OutputParser p = f.parser(Set.of("get_weather"), true, false, f.ids());
            ChatOutput out = new ChatOutput();
            out.addAll(p.push(c[1]));
            out.addAll(p.finish());
            OutputDelta.Call call = out.calls().getFirst();
            @SuppressWarnings("unchecked")
            Map<String, Object> args = JSON.readValue(call.arguments(), Map.class);
            String id = call.id();
            if (c[0].equals("mistral")) assertTrue(id.matches("[A-Za-z0-9]{9}"), "Mistral's templates want 9-character ids: " + id);
            List<ChatMessage> history = List.of(ChatMessage.user("Weather in Paris?"),
                    ChatMessage.assistant("", List.of(new ToolCall(id, call.name(), args))).withReasoningContent("Checking the weather."),
                    ChatMessage.tool(id, call.name(), "{\"temp\": 21}"));
            String prompt = ChatTemplate.compile(template(files.get(c[0]))).render(f.history(history), ChatOptions.defaults().withTools(tools));
            assertTrue(prompt.contains("Paris") && prompt.contains("celsius") && prompt.contains("21"), c[0] + ":\n" + prompt);
            if (written.containsKey(c[0])) assertTrue(prompt.contains(written.get(c[0])), c[0] + ":\n" + prompt);
        }
    }
}
