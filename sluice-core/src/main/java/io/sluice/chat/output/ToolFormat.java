package io.sluice.chat.output;

import com.fasterxml.jackson.databind.JsonNode;
import io.sluice.chat.ChatMessage;

import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.UnaryOperator;

/**
 * One model family's way of calling tools: which chat templates use it, how its output is parsed, and
 * the grammar that makes the output nothing but calls (for {@code tool_choice} required or a named
 * function). The registry {@link ToolFormats} picks one from the chat template's source.
 */
public interface ToolFormat {
    /** A function the request offers: its name and its parameters' JSON Schema (null: any object). */
    record Tool(String name, JsonNode parameters) {
    }

    String name();

    /** This family's template (its source text). */
    boolean matches(String templateSource);

    /**
     * A parser for one answer.
     *
     * @param tools            the offered function names; empty when calls are not looked for
     * @param reasoning        split reasoning from the content
     * @param startInReasoning the rendered prompt ends inside an open reasoning block
     */
    OutputParser parser(Set<String> tools, boolean reasoning, boolean startInReasoning, IdSource ids);

    /** A parser given the tools' schemas too (formats whose arguments are not JSON read their types from them). */
    default OutputParser parser(List<Tool> tools, boolean reasoning, boolean startInReasoning, IdSource ids) {
        Set<String> names = new LinkedHashSet<>();
        for (Tool t : tools) names.add(t.name());
        return parser(names, reasoning, startInReasoning, ids);
    }

    /**
     * GBNF whose sentences are calls of these tools, arguments valid against their schemas.
     *
     * @param parallel  allow several calls
     * @param allowText allow a plain answer instead (tool_choice auto); null when the format cannot
     *                  constrain that case (the answer is then unconstrained)
     * @param tokens    the GBNF for a marker's text: a special token's reference where the vocabulary
     *                  has it as one, else a literal
     * @throws io.sluice.grammar.GrammarException when a parameter schema cannot be made a grammar
     */
    String grammar(List<Tool> tools, boolean parallel, boolean allowText, boolean startInReasoning, UnaryOperator<String> tokens);

    /** The ids this family's calls get (its template checks them when they come back in the history). */
    default IdSource ids() {
        return IdSource.random();
    }

    /** False when the template knows no tools: then {@link #prepare} tells the model about them. */
    default boolean templateRendersTools() {
        return true;
    }

    /** The conversation as this family's template reads it back (e.g. arguments as JSON text where it concatenates them). */
    default List<ChatMessage> history(List<ChatMessage> messages) {
        return messages;
    }

    /** The conversation the template is given when it does not render tools itself. */
    default List<ChatMessage> prepare(List<ChatMessage> messages, List<Tool> tools, boolean parallel, boolean allowText) {
        return messages;
    }
}
