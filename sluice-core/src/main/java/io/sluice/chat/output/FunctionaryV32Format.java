package io.sluice.chat.output;

import io.sluice.chat.ChatMessage;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.UnaryOperator;

import static io.sluice.chat.output.ToolGrammar.lit;

/**
 * Functionary v3.2 ({@link FunctionaryV32Syntax}). Every answer starts with a recipient line, so its
 * parser runs even when no tools are offered (to drop {@code all\n}); a forced answer is
 * {@code NAME\n{...}} calls joined by {@code >>>} (the prompt already ends with the first one).
 */
final class FunctionaryV32Format implements ToolFormat {
    @Override
    public String name() {
        return "functionary-v3.2";
    }

    @Override
    public boolean matches(String s) {
        return s.contains(FunctionaryV32Syntax.SEP + FunctionaryV32Syntax.ALL);
    }

    @Override
    public OutputParser parser(Set<String> tools, boolean reasoning, boolean startInReasoning, IdSource ids) {
        return new MarkerParser(new FunctionaryV32Syntax(), tools, reasoning, startInReasoning, ids);
    }

    @Override
    public String grammar(List<Tool> tools, boolean parallel, boolean allowText, boolean startInReasoning, UnaryOperator<String> t) {
        if (allowText) return null;
        List<List<String>> rules = new ArrayList<>();
        String call = ToolGrammar.perTool(tools, tool -> lit(tool.name() + "\n"), "", rules);
        rules.addFirst(List.of("sluice-call ::= " + call));
        return ToolGrammar.join(ToolGrammar.repeat("sluice-call", parallel, lit(FunctionaryV32Syntax.SEP)), rules);
    }

    @Override
    public List<ChatMessage> history(List<ChatMessage> messages) {
        return FunctionaryV31Format.argumentsAsText(messages);
    }

    @Override
    public String toString() {
        return name();
    }
}
