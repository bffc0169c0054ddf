package io.sluice.chat.output;

import io.sluice.model.tokenizer.Tokenizer;

import java.util.List;
import java.util.function.UnaryOperator;

import static io.sluice.chat.output.ToolGrammar.repeat;

/**
 * The tool-call formats, most specific first; a template is served by the first whose markers it
 * contains, else by the generic JSON format (as llama-server picks its chat format).
 */
public final class ToolFormats {
    private ToolFormats() {
    }

    /** gpt-oss. */
    public static final ToolFormat HARMONY = new HarmonyFormat();

    /** Mistral v3+ (Mistral-7B-Instruct-v0.3, Small, Nemo, Devstral). */
    public static final ToolFormat MISTRAL = new MarkerFormat("mistral", s -> s.contains("[TOOL_CALLS]"),
            () -> new ListSyntax("[TOOL_CALLS]"), "name", "arguments", "[TOOL_CALLS]",
            (parallel, t) -> t.apply("[TOOL_CALLS]") + " \"[\" " + repeat("sluice-call", parallel, "\", \"") + " \"]\"",
            IdSource.nineAlphanumeric());

    /** Granite 3.x. */
    public static final ToolFormat GRANITE = new MarkerFormat("granite", s -> s.contains("<|tool_call|>"),
            () -> new ListSyntax("<|tool_call|>"), "name", "arguments", "<|tool_call|>",
            (parallel, t) -> t.apply("<|tool_call|>") + " \"[\" " + repeat("sluice-call", parallel, "\", \"") + " \"]\"");

    /** Llama 3.1, 3.2, 3.3 (JSON calls, the python tag). */
    public static final ToolFormat LLAMA3 = new MarkerFormat("llama3", s -> s.contains("<|python_tag|>")
            || (s.contains("<|start_header_id|>") && s.contains("\"parameters\"")),
            Llama3Syntax::new, "name", "parameters", null,
            (parallel, t) -> repeat("sluice-call", parallel, "\"; \""));

    /** Hermes 2 Pro / 3, Qwen2.5, QwQ, Qwen3 (and the many templates that copied them). */
    public static final ToolFormat HERMES = new MarkerFormat("hermes", s -> s.contains("<tool_call>"),
            HermesSyntax::new, "name", "arguments", HermesSyntax.OPEN,
            (parallel, t) -> {
                String block = "(" + t.apply(HermesSyntax.OPEN) + " \"\\n\" sluice-call \"\\n\" " + t.apply(HermesSyntax.CLOSE) + ")";
                return repeat(block, parallel, "\"\\n\"");
            });

    /** Qwen3-Coder (XML calls, raw parameter values). */
    public static final ToolFormat QWEN3_CODER = new QwenXmlFormat();

    /** Functionary v3.2 ({@code >>>recipient} messages). */
    public static final ToolFormat FUNCTIONARY_V3_2 = new FunctionaryV32Format();

    /** Functionary v3.1 ({@code <function=NAME>} calls, the python tag). */
    public static final ToolFormat FUNCTIONARY_V3_1 = new FunctionaryV31Format();

    /** Cohere Command R7B (action lists, its plan as reasoning). */
    public static final ToolFormat COMMAND_R7B = new CommandR7bFormat();

    /** Templates without a tool format of their own: JSON answers (llama-server's generic format). */
    public static final ToolFormat GENERIC = new GenericFormat();

    private static final List<ToolFormat> REGISTRY = List.of(HARMONY, FUNCTIONARY_V3_2, MISTRAL, GRANITE, COMMAND_R7B, QWEN3_CODER,
            FUNCTIONARY_V3_1, LLAMA3, HERMES);

    /**
     * GBNF for a marker's text in this vocabulary: a reference to the special token when the marker is
     * one control token (it has no text a literal could match), else a string literal.
     */
    public static UnaryOperator<String> markers(Tokenizer tok) {
        return text -> {
            int[] ids = tok.encode(text, false, true);
            if (ids.length == 1 && tok.isControl(ids[0])) return "<[" + ids[0] + "]>";
            return ToolGrammar.lit(text);
        };
    }

    /** The format of a chat template (GENERIC when no specific one matches). */
    public static ToolFormat forTemplate(String templateSource) {
        if (templateSource != null) {
            for (ToolFormat f : REGISTRY) if (f.matches(templateSource)) return f;
        }
        return GENERIC;
    }

}
