package io.sluice.chat.output;

import io.sluice.chat.ChatMessage;
import io.sluice.chat.ToolCall;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.UnaryOperator;

import static io.sluice.chat.output.ToolGrammar.lit;

/** Functionary v3.1 ({@link FunctionaryV31Syntax}); a forced answer is {@code <function=NAME>{...}</function>} calls. */
final class FunctionaryV31Format implements ToolFormat {
    @Override
    public String name() {
        return "functionary-v3.1";
    }

    @Override
    public boolean matches(String s) {
        return s.contains("<|start_header_id|>") && s.contains(FunctionaryV31Syntax.OPEN);
    }

    @Override
    public OutputParser parser(Set<String> tools, boolean reasoning, boolean startInReasoning, IdSource ids) {
        return new MarkerParser(tools.isEmpty() ? null : new FunctionaryV31Syntax(), tools, reasoning, startInReasoning, ids);
    }

    @Override
    public String grammar(List<Tool> tools, boolean parallel, boolean allowText, boolean startInReasoning, UnaryOperator<String> t) {
        if (allowText) return null;
        List<List<String>> rules = new ArrayList<>();
        String call = ToolGrammar.perTool(tools, tool -> lit(FunctionaryV31Syntax.OPEN + tool.name() + ">"), lit(FunctionaryV31Syntax.CLOSE), rules);
        rules.addFirst(List.of("sluice-call ::= " + call));
        return ToolGrammar.join(ToolGrammar.closeReasoning(startInReasoning) + ToolGrammar.repeat("sluice-call", parallel, ""), rules);
    }

    @Override
    public List<ChatMessage> history(List<ChatMessage> messages) {
        return argumentsAsText(messages);
    }

    /**
     * The calls' arguments as JSON text, for the Functionary templates, which concatenate them to
     * strings (an object fails there); the python tool's {@code {"code": ...}} as the bare code the
     * model writes for it.
     */
    static List<ChatMessage> argumentsAsText(List<ChatMessage> messages) {
        List<ChatMessage> out = new ArrayList<>(messages.size());
        for (ChatMessage m : messages) {
            if (m.toolCalls().isEmpty()) {
                out.add(m);
                continue;
            }
            List<ToolCall> calls = new ArrayList<>();
            for (ToolCall c : m.toolCalls()) {
                Object args = c.arguments();
                if (c.name().equals(FunctionaryV31Syntax.PYTHON) && args instanceof Map<?, ?> a && a.size() == 1 && a.get("code") instanceof String code) {
                    args = code;
                } else if (!(args instanceof String)) {
                    args = ToolSyntax.JSON.valueToTree(args).toString();
                }
                calls.add(new ToolCall(c.id(), c.name(), args));
            }
            out.add(new ChatMessage(m.role(), m.content(), m.reasoningContent(), calls, m.toolCallId(), m.name(), m.extra()));
        }
        return out;
    }

    @Override
    public String toString() {
        return name();
    }
}
