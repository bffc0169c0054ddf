package io.sluice.chat.output;

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
    private final CallsGrammar grammar;
    private final IdSource ids;

    MarkerFormat(String name, Predicate<String> matches, Supplier<ToolSyntax> syntax, String nameKey, String argsKey, CallsGrammar grammar) {
        this(name, matches, syntax, nameKey, argsKey, grammar, IdSource.random());
    }

    MarkerFormat(String name, Predicate<String> matches, Supplier<ToolSyntax> syntax, String nameKey, String argsKey, CallsGrammar grammar,
                 IdSource ids) {
        this.ids = ids;
        this.name = name;
        this.matches = matches;
        this.syntax = syntax;
        this.nameKey = nameKey;
        this.argsKey = argsKey;
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
        if (allowText) return null;
        String root = ToolGrammar.closeReasoning(startInReasoning) + grammar.root(parallel, tokens);
        return ToolGrammar.join(root, List.of(ToolGrammar.calls(tools, nameKey, argsKey)));
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
