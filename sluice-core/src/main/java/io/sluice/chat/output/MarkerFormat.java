package io.sluice.chat.output;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.Predicate;
import java.util.function.Supplier;
import java.util.function.UnaryOperator;

/** A family whose calls sit in its text in a {@link ToolSyntax}, with {@code <think>} reasoning before them. */
final class MarkerFormat implements ToolFormat {
    /** The grammar of the calls alone, given the rule {@code sluice-call} for one call object. */
    interface CallsGrammar {
        String root(boolean parallel, UnaryOperator<String> tokens);
    }

    private final String name;
    private final Predicate<String> matches;
    private final Supplier<ToolSyntax> syntax;
    private final String nameKey, argsKey;
    /** The text that opens the calls (where tool_choice auto starts to bind them); null when they have none of their own. */
    private final String opens;
    private final CallsGrammar grammar;
    private final IdSource ids;

    MarkerFormat(String name, Predicate<String> matches, Supplier<ToolSyntax> syntax, String nameKey, String argsKey, String opens,
                 CallsGrammar grammar) {
        this(name, matches, syntax, nameKey, argsKey, opens, grammar, IdSource.random());
    }

    MarkerFormat(String name, Predicate<String> matches, Supplier<ToolSyntax> syntax, String nameKey, String argsKey, String opens,
                 CallsGrammar grammar, IdSource ids) {
        this.ids = ids;
        this.name = name;
        this.matches = matches;
        this.syntax = syntax;
        this.nameKey = nameKey;
        this.argsKey = argsKey;
        this.opens = opens;
        this.grammar = grammar;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public boolean matches(String templateSource) {
        return matches.test(templateSource);
    }

    @Override
    public OutputParser parser(Set<String> tools, boolean reasoning, boolean startInReasoning, IdSource ids) {
        return new MarkerParser(tools.isEmpty() ? null : syntax.get(), tools, reasoning, startInReasoning, ids);
    }

    @Override
    public String grammar(List<Tool> tools, boolean parallel, boolean allowText, boolean startInReasoning, UnaryOperator<String> tokens) {
        List<List<String>> rules = new ArrayList<>(List.of(ToolGrammar.calls(tools, nameKey, argsKey)));
        String calls = grammar.root(parallel, tokens);
        if (allowText) return opens == null ? null : ToolGrammar.join(ToolGrammar.textThenCalls(opens, calls, rules), rules);
        return ToolGrammar.join(ToolGrammar.closeReasoning(startInReasoning) + calls, rules);
    }

    @Override
    public IdSource ids() {
        return ids;
    }

    @Override
    public String toString() {
        return name;
    }
}
