package io.sluice.chat.output;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The parsers on outputs in each family's format, whole and streamed in random pieces, and on hostile output. */
class OutputParserTest {
    static final Set<String> TOOLS = Set.of("get_weather", "search");

    /** The answer parsed in one piece, checked to be the same when the text arrives in random pieces. */
    static ChatOutput parse(ToolFormat f, String text, boolean startInReasoning) {
        return parse(() -> f.parser(TOOLS, true, startInReasoning, IdSource.counting()), text);
    }

    /** The answer parsed by fresh parsers from this factory, whole and in random pieces (the same either way). */
    static ChatOutput parse(Supplier<OutputParser> parsers, String text) {
        ChatOutput whole = run(parsers, List.of(text));
        Random r = new Random(text.hashCode());
        for (int trial = 0; trial < 8; trial++) {
            List<String> pieces = new ArrayList<>();
            for (int i = 0; i < text.length(); ) {
                int n = 1 + r.nextInt(trial < 2 ? 1 : 7);
                pieces.add(text.substring(i, Math.min(text.length(), i + n)));
                i += n;
            }
            ChatOutput streamed = run(parsers, pieces);
            assertEquals(whole.content(), streamed.content(), "content streamed in " + pieces);
            assertEquals(whole.reasoning(), streamed.reasoning(), "reasoning streamed in " + pieces);
            assertEquals(whole.calls(), streamed.calls(), "calls streamed in " + pieces);
        }
        return whole;
    }

    static ChatOutput run(Supplier<OutputParser> parsers, List<String> pieces) {
        OutputParser p = parsers.get();
        ChatOutput out = new ChatOutput();
        for (String s : pieces) out.addAll(p.push(s));
        out.addAll(p.finish());
        return out;
    }

    static ChatOutput parse(ToolFormat f, String text) {
        return parse(f, text, false);
    }

    static void assertCall(ChatOutput o, int i, String name, String args) {
        assertTrue(o.calls().size() > i, "call " + i + " in " + o.calls());
        assertEquals(name, o.calls().get(i).name());
        assertEquals(args, o.calls().get(i).arguments());
        assertEquals(i, o.calls().get(i).index());
    }

    @Test
    void hermesCallsWithContentAndReasoning() {
        ChatOutput o = parse(ToolFormats.HERMES, "<think>\nThe user wants weather.\n</think>\n\nLet me check.\n<tool_call>\n"
                + "{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": 2}}\n</tool_call>\n<tool_call>\n"
                + "{\"name\": \"search\", \"arguments\": {\"q\": \"a <tool_call> in a string\"}}\n</tool_call>");
        assertEquals("The user wants weather.\n", o.reasoning());
        assertEquals("Let me check.\n", o.content());
        assertEquals(2, o.calls().size());
        assertCall(o, 0, "get_weather", "{\"city\":\"Paris\",\"days\":2}");
        assertCall(o, 1, "search", "{\"q\":\"a <tool_call> in a string\"}");
        assertEquals("call_0", o.calls().get(0).id());
    }

    @Test
    void hermesHostileOutputIsContent() {
        // unterminated (max_tokens hit inside the call)
        ChatOutput o = parse(ToolFormats.HERMES, "Sure. <tool_call>\n{\"name\": \"get_weather\", \"argu");
        assertEquals("Sure. <tool_call>\n{\"name\": \"get_weather\", \"argu", o.content());
        assertTrue(o.calls().isEmpty());
        // invalid JSON, then a valid call: only the valid one is a call
        o = parse(ToolFormats.HERMES, "<tool_call>{\"name\": get_weather}</tool_call> and <tool_call>{\"name\": \"search\", \"arguments\": {}}</tool_call>");
        assertEquals("<tool_call>{\"name\": get_weather}</tool_call> and ", o.content());
        assertCall(o, 0, "search", "{}");
        // an unknown function
        o = parse(ToolFormats.HERMES, "<tool_call>{\"name\": \"rm_rf\", \"arguments\": {}}</tool_call>");
        assertEquals("<tool_call>{\"name\": \"rm_rf\", \"arguments\": {}}</tool_call>", o.content());
        assertTrue(o.calls().isEmpty());
        // arguments that are not an object, a name that is not a string, deep nesting
        for (String bad : List.of("{\"name\": \"search\", \"arguments\": [1]}", "{\"name\": 7, \"arguments\": {}}",
                "{\"name\": \"search\", \"arguments\": " + "[".repeat(400) + "]".repeat(400) + "}")) {
            o = parse(ToolFormats.HERMES, "<tool_call>" + bad + "</tool_call>");
            assertTrue(o.calls().isEmpty(), bad);
            assertEquals("<tool_call>" + bad + "</tool_call>", o.content());
        }
        // arguments as a string of JSON (some models write them so) are unwrapped; a missing close tag is forgiven
        o = parse(ToolFormats.HERMES, "<tool_call>\n{\"name\": \"search\", \"arguments\": \"{\\\"q\\\": 1}\"}\n");
        assertCall(o, 0, "search", "{\"q\":1}");
        assertNull(o.content());
    }

    @Test
    void reasoningLeftOpenByThePrompt() {
        ChatOutput o = parse(ToolFormats.HERMES, "hmm, 2+2\n</think>\n\n4", true);
        assertEquals("hmm, 2+2\n", o.reasoning());
        assertEquals("4", o.content());
        // unterminated reasoning stays reasoning; text that only looks like a marker later is content
        o = parse(ToolFormats.HERMES, "thinking forever", true);
        assertEquals("thinking forever", o.reasoning());
        assertEquals("", o.content());
        o = parse(ToolFormats.HERMES, "The tag <think> is HTML-like.");
        assertEquals("The tag <think> is HTML-like.", o.content());
        assertNull(o.reasoning());
    }

    @Test
    void llama3JsonAndPythonTag() {
        ChatOutput o = parse(ToolFormats.LLAMA3, "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Oslo\"}}");
        assertCall(o, 0, "get_weather", "{\"city\":\"Oslo\"}");
        assertNull(o.content());
        o = parse(ToolFormats.LLAMA3, "<|python_tag|>{\"name\": \"search\", \"parameters\": {\"q\": \"x\"}}; {\"name\": \"get_weather\", \"parameters\": {}}");
        assertEquals(2, o.calls().size());
        assertCall(o, 1, "get_weather", "{}");
        // JSON that is no call, JSON later in prose, built-in tool python code: content
        for (String text : List.of("{\"answer\": 42}", "The call {\"name\": \"search\", \"parameters\": {}} is an example.",
                "<|python_tag|>brave_search.call(query=\"x\")", "  {\"name\": \"search\", \"parameters\": {\"q\": ")) {
            o = parse(ToolFormats.LLAMA3, text);
            assertTrue(o.calls().isEmpty(), text);
            assertEquals(text, o.content());
        }
    }

    @Test
    void mistralAndGraniteLists() {
        ChatOutput o = parse(ToolFormats.MISTRAL, "[TOOL_CALLS][{\"name\": \"search\", \"arguments\": {\"q\": \"a\"}}, {\"name\": \"get_weather\", \"arguments\": {\"city\": \"Rome\"}, \"id\": \"abc123xyz\"}]");
        assertEquals(2, o.calls().size());
        assertCall(o, 0, "search", "{\"q\":\"a\"}");
        assertCall(o, 1, "get_weather", "{\"city\":\"Rome\"}");
        o = parse(ToolFormats.MISTRAL, "[TOOL_CALLS]search[ARGS]{\"q\": \"b\"}[TOOL_CALLS]get_weather[ARGS]{}");
        assertCall(o, 0, "search", "{\"q\":\"b\"}");
        assertCall(o, 1, "get_weather", "{}");
        o = parse(ToolFormats.MISTRAL, "[TOOL_CALLS]search[CALL_ID]a1b2c3d4e[ARGS]{\"q\": \"e\"}");
        assertCall(o, 0, "search", "{\"q\":\"e\"}");
        o = parse(ToolFormats.MISTRAL, "[TOOL_CALLS][{\"name\": \"search\", \"arguments\": {\"q\": ]");
        assertTrue(o.calls().isEmpty());
        assertEquals("[TOOL_CALLS][{\"name\": \"search\", \"arguments\": {\"q\": ]", o.content());
        o = parse(ToolFormats.GRANITE, "<|tool_call|>[{\"name\": \"search\", \"arguments\": {\"q\": \"c\"}}]");
        assertCall(o, 0, "search", "{\"q\":\"c\"}");
    }

    @Test
    void harmonyChannels() {
        ChatOutput o = parse(ToolFormats.HARMONY, "<|channel|>analysis<|message|>User asks weather.<|end|><|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{\"city\":\"Tokyo\"}");
        assertEquals("User asks weather.", o.reasoning());
        assertCall(o, 0, "get_weather", "{\"city\":\"Tokyo\"}");
        assertNull(o.content());
        o = parse(ToolFormats.HARMONY, " to=functions.search<|channel|>commentary json<|message|>{\"q\": 1}");
        assertCall(o, 0, "search", "{\"q\":1}");
        o = parse(ToolFormats.HARMONY, "<|channel|>analysis<|message|>Easy.<|end|><|start|>assistant<|channel|>final<|message|>Hello!");
        assertEquals("Easy.", o.reasoning());
        assertEquals("Hello!", o.content());
        // not harmony; an unknown recipient; invalid arguments
        assertEquals("Just text.", parse(ToolFormats.HARMONY, "Just text.").content());
        o = parse(ToolFormats.HARMONY, "<|channel|>commentary to=functions.nope <|constrain|>json<|message|>{}");
        assertTrue(o.calls().isEmpty());
        assertEquals("{}", o.content());
        o = parse(ToolFormats.HARMONY, "<|channel|>commentary to=functions.search <|constrain|>json<|message|>{\"q\":");
        assertTrue(o.calls().isEmpty());
        assertEquals("{\"q\":", o.content());
    }

    @Test
    void genericJson() {
        ChatOutput o = parse(ToolFormats.GENERIC, "{\"tool_call\": {\"name\": \"search\", \"arguments\": {\"q\": \"d\"}}}");
        assertCall(o, 0, "search", "{\"q\":\"d\"}");
        o = parse(ToolFormats.GENERIC, "{\"tool_calls\": [{\"name\": \"search\", \"arguments\": {}}, {\"name\": \"get_weather\", \"arguments\": {}}]}");
        assertEquals(2, o.calls().size());
        o = parse(ToolFormats.GENERIC, "{\"response\": \"It is sunny.\"}");
        assertEquals("It is sunny.", o.content());
        assertTrue(o.calls().isEmpty());
        assertEquals("no JSON at all", parse(ToolFormats.GENERIC, "no JSON at all").content());
    }

    /** Qwen3-Coder's parser needs the parameters' types: a typed tool and one without a schema. */
    static final List<ToolFormat.Tool> TYPED = List.of(
            new ToolFormat.Tool("get_weather", ToolFormatsTest.parse("""
                    {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}, "metric": {"type": "boolean"},
                     "hours": {"type": "array", "items": {"type": "integer"}}, "unit": {"$ref": "#/$defs/unit"}, "note": {"type": ["string", "null"]}},
                     "required": ["city"], "$defs": {"unit": {"enum": ["c", "f"]}}}""")),
            new ToolFormat.Tool("search", null));

    static ChatOutput qwen(String text) {
        return parse(() -> ToolFormats.QWEN3_CODER.parser(TYPED, true, false, IdSource.counting()), text);
    }

    @Test
    void qwen3CoderXmlValuesTypedByTheirSchemas() {
        // as Qwen3-Coder writes them: a sentence first, typed values, a multi-line string, two calls
        ChatOutput o = qwen("I'll check the weather.\n<tool_call>\n<function=get_weather>\n<parameter=city>\nNew York\n</parameter>\n"
                + "<parameter=days>\n3\n</parameter>\n<parameter=metric>\ntrue\n</parameter>\n<parameter=hours>\n[9, 12]\n</parameter>\n"
                + "<parameter=unit>\nc\n</parameter>\n</function>\n</tool_call>\n<tool_call>\n<function=search>\n<parameter=q>\nline one\n  line two\n"
                + "</parameter>\n<parameter=n>\n5\n</parameter>\n</function>\n</tool_call>");
        assertEquals("I'll check the weather.\n", o.content());
        assertCall(o, 0, "get_weather", "{\"city\":\"New York\",\"days\":3,\"metric\":true,\"hours\":[9,12],\"unit\":\"c\"}");
        // search has no schema: JSON where the text is JSON, else the text
        assertCall(o, 1, "search", "{\"q\":\"line one\\n  line two\",\"n\":5}");
        // a string parameter keeps text that looks like JSON or markup; a nullable string's "null" is null
        o = qwen("<tool_call>\n<function=get_weather>\n<parameter=city>\n42\n</parameter>\n<parameter=note>\nnull\n</parameter>\n</function>\n</tool_call>");
        assertCall(o, 0, "get_weather", "{\"city\":\"42\",\"note\":null}");
        o = qwen("<tool_call>\n<function=get_weather>\n<parameter=city>\n<b>Paris</b>\n\n</parameter>\n</function>\n</tool_call>");
        assertCall(o, 0, "get_weather", "{\"city\":\"<b>Paris</b>\\n\"}");
        // a </tool_call> forgotten at the very end is forgiven
        o = qwen("<tool_call>\n<function=get_weather>\n<parameter=city>\nOslo\n</parameter>\n</function>\n");
        assertCall(o, 0, "get_weather", "{\"city\":\"Oslo\"}");
        assertNull(o.content());
        // without the schemas (the names-only parser) every value is JSON where it parses
        o = parse(ToolFormats.QWEN3_CODER, "<tool_call>\n<function=get_weather>\n<parameter=city>\n42\n</parameter>\n</function>\n</tool_call>");
        assertCall(o, 0, "get_weather", "{\"city\":42}");
    }

    @Test
    void qwen3CoderMalformedCallsAreContent() {
        for (String bad : List.of(
                "Sure. <tool_call>\n<function=get_weather>\n<parameter=city>\nPar", // cut off inside a value
                "<tool_call>\n<function=get_weather>\n<parameter=days>\nthree\n</parameter>\n</function>\n</tool_call>", // not an integer
                "<tool_call>\n<function=rm_rf>\n</function>\n</tool_call>", // not offered
                "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {}}\n</tool_call>", // Hermes JSON in an XML template
                "<tool_call>\n<function=get weather>\n</function>\n</tool_call>", // not a name
                "<tool_call>\n<function=get_weather>\n<parameter=city>\nRome\n</function>\n</tool_call>")) { // value never closed
            ChatOutput o = qwen(bad);
            assertTrue(o.calls().isEmpty(), bad);
            assertEquals(bad, o.content());
        }
        // a good call after a malformed one is still a call
        ChatOutput o = qwen("<tool_call>\n<function=nope>\n</function>\n</tool_call>\n<tool_call>\n<function=search>\n</function>\n</tool_call>");
        assertEquals("<tool_call>\n<function=nope>\n</function>\n</tool_call>\n", o.content());
        assertCall(o, 0, "search", "{}");
    }

    @Test
    void functionaryV32Recipients() {
        ChatOutput o = parse(ToolFormats.FUNCTIONARY_V3_2, "all\nLet me look that up.\n>>>get_weather\n{\"city\": \"Paris\"}\n>>>search\n{\"q\": \"umbrellas\"}");
        assertEquals("Let me look that up.\n", o.content());
        assertCall(o, 0, "get_weather", "{\"city\":\"Paris\"}");
        assertCall(o, 1, "search", "{\"q\":\"umbrellas\"}");
        // straight to a call (the prompt ends with >>>), and plain answers
        o = parse(ToolFormats.FUNCTIONARY_V3_2, "get_weather\n{\"city\": \"Rome\"}");
        assertCall(o, 0, "get_weather", "{\"city\":\"Rome\"}");
        assertNull(o.content());
        assertEquals("It is sunny >>> and warm.", parse(ToolFormats.FUNCTIONARY_V3_2, "all\nIt is sunny >>> and warm.").content());
        assertEquals("Hello!", parse(() -> ToolFormats.FUNCTIONARY_V3_2.parser(Set.of(), false, false, IdSource.counting()), "all\nHello!").content());
        // the python tool's raw code
        o = parse(() -> ToolFormats.FUNCTIONARY_V3_2.parser(Set.of("python"), false, false, IdSource.counting()), "python\nprint(2 + 2)\n");
        assertCall(o, 0, "python", "{\"code\":\"print(2 + 2)\"}");
        for (String bad : List.of("get_weather\n{\"city\": Paris}", "rm_rf\n{}", "get_weather\n{\"city\": \"Pa", "Sure, here it is.",
                "get_weather\n[1]", "search\nnot json")) {
            o = parse(ToolFormats.FUNCTIONARY_V3_2, bad);
            assertTrue(o.calls().isEmpty(), bad);
            assertEquals(bad, o.content());
        }
    }

    @Test
    void functionaryV31FunctionTagsAndPythonTag() {
        ChatOutput o = parse(ToolFormats.FUNCTIONARY_V3_1, "Let me check.<function=search>{\"q\": \"x\"}</function><function=get_weather>{}</function>");
        assertEquals("Let me check.", o.content());
        assertCall(o, 0, "search", "{\"q\":\"x\"}");
        assertCall(o, 1, "get_weather", "{}");
        o = parse(() -> ToolFormats.FUNCTIONARY_V3_1.parser(Set.of("python"), false, false, IdSource.counting()), "<|python_tag|>import math\nprint(math.pi)");
        assertCall(o, 0, "python", "{\"code\":\"import math\\nprint(math.pi)\"}");
        for (String bad : List.of("<function=get_weather>{\"city\": }</function>", "<function=rm_rf>{}</function>", "<function=get_weather>{\"city\": \"Pa",
                "<|python_tag|>print(1)", "<function=get_weather>[]</function>", "<function=>{}</function>")) {
            o = parse(ToolFormats.FUNCTIONARY_V3_1, bad);
            assertTrue(o.calls().isEmpty(), bad);
            assertEquals(bad, o.content());
        }
    }

    @Test
    void commandR7bPlanActionsAndResponse() {
        ChatOutput o = parse(ToolFormats.COMMAND_R7B, "<|START_THINKING|>I will look up the weather, then search.<|END_THINKING|><|START_ACTION|>[\n"
                + "    {\"tool_call_id\": \"0\", \"tool_name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}},\n"
                + "    {\"tool_call_id\": \"1\", \"tool_name\": \"search\", \"parameters\": {\"q\": \"umbrella\"}}\n]<|END_ACTION|>");
        assertEquals("I will look up the weather, then search.", o.reasoning());
        assertCall(o, 0, "get_weather", "{\"city\":\"Paris\"}");
        assertCall(o, 1, "search", "{\"q\":\"umbrella\"}");
        assertNull(o.content());
        o = parse(ToolFormats.COMMAND_R7B, "<|START_THINKING|>Easy.<|END_THINKING|><|START_RESPONSE|>It is sunny in Paris.<|END_RESPONSE|>");
        assertEquals("Easy.", o.reasoning());
        assertEquals("It is sunny in Paris.", o.content());
        assertEquals("Hi!", parse(ToolFormats.COMMAND_R7B, "<|START_RESPONSE|>Hi!<|END_RESPONSE|>").content());
        for (String bad : List.of("<|START_ACTION|>[{\"tool_call_id\": \"0\", \"tool_name\": \"get_weather\", \"parameters\": {\"city\": Paris}}]<|END_ACTION|>",
                "<|START_ACTION|>[{\"tool_call_id\": \"0\", \"tool_name\": \"rm_rf\", \"parameters\": {}}]<|END_ACTION|>",
                "<|START_ACTION|>[{\"tool_call_id\": \"0\", \"parameters\": {}}]<|END_ACTION|>",
                "<|START_ACTION|>[]<|END_ACTION|>",
                "<|START_ACTION|>[{\"tool_call_id\": \"0\", \"tool_na")) {
            o = parse(ToolFormats.COMMAND_R7B, bad);
            assertTrue(o.calls().isEmpty(), bad);
            assertEquals(bad, o.content());
        }
    }

    @Test
    void withoutToolsNothingIsACall() {
        OutputParser p = ToolFormats.HERMES.parser(Set.of(), true, false, IdSource.counting());
        ChatOutput out = new ChatOutput();
        out.addAll(p.push("<tool_call>{\"name\": \"search\", \"arguments\": {}}</tool_call>"));
        out.addAll(p.finish());
        assertTrue(out.calls().isEmpty());
        assertEquals("<tool_call>{\"name\": \"search\", \"arguments\": {}}</tool_call>", out.content());
    }
}
