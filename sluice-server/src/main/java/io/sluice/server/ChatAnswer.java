package io.sluice.server;

import com.fasterxml.jackson.databind.JsonNode;
import io.sluice.chat.output.OutputParser;
import io.sluice.chat.output.ToolFormat;
import io.sluice.chat.output.ToolFormats;
import io.sluice.engine.GenerationEvent;
import io.sluice.grammar.GrammarException;
import io.sluice.grammar.TokenGrammar;
import io.sluice.model.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static io.sluice.server.SluiceServer.JSON;

/**
 * How one chat answer is read: the parser that splits it into content, reasoning and tool calls (null
 * when the plain text is the answer), and the grammar a forced tool choice puts on it.
 */
record ChatAnswer(OutputParser parser, TokenGrammar grammar, Tokenizer tokenizer) {

    /** @param prompt the rendered prompt (a reasoning block it leaves open is where the answer starts) */
    static ChatAnswer of(ModelState s, ParsedRequest p, String prompt) {
        ToolFormat format = s.toolFormat();
        ToolChoice choice = p.tools();
        boolean reasoning = p.reasoning() && s.thinks();
        boolean startInReasoning = reasoning && prompt.stripTrailing().endsWith("<think>");
        TokenGrammar grammar = null;
        List<ToolFormat.Tool> offered = choice != null ? offered(p) : List.of();
        if (choice != null) {
            List<ToolFormat.Tool> tools = offered;
            if (choice.mode() == ToolChoice.Mode.NAMED) tools = tools.stream().filter(t -> t.name().equals(choice.function())).toList();
            String gbnf;
            try {
                // tool_choice auto is constrained only where the model was told to answer in the format's JSON
                gbnf = !choice.forced() && !s.toolsInPrompt() ? null
                        : format.grammar(tools, choice.parallel(), !choice.forced(), startInReasoning, ToolFormats.markers(s.tokenizer()));
            } catch (GrammarException e) {
                throw ApiException.invalid("tools", "A tool's parameters cannot constrain its calls: " + e.getMessage(), "invalid_tool_schema");
            }
            if (gbnf != null) {
                try {
                    grammar = s.grammars().gbnf(gbnf);
                } catch (GrammarException e) {
                    throw ApiException.invalid("tools", "The tools' call grammar is not usable: " + e.getMessage(), "invalid_tool_schema");
                }
            }
        }
        // Functionary v3.2 starts every answer with a recipient line, which plain answers lose too.
        boolean parse = choice != null || reasoning || format == ToolFormats.FUNCTIONARY_V3_2;
        OutputParser parser = parse ? format.parser(offered, reasoning, startInReasoning, format.ids()) : null;
        return new ChatAnswer(parser, grammar, s.tokenizer());
    }

    /** The request's tools as the formats take them. */
    static List<ToolFormat.Tool> offered(ParsedRequest p) {
        List<ToolFormat.Tool> out = new ArrayList<>();
        for (Map<String, Object> t : p.chat().tools()) {
            Map<?, ?> fn = (Map<?, ?>) t.get("function");
            Object params = fn.get("parameters");
            JsonNode schema = params == null ? null : JSON.valueToTree(params);
            out.add(new ToolFormat.Tool((String) fn.get("name"), schema));
        }
        return out;
    }

    /**
     * The text the parser reads for a token: its text, or a control token's own text (harmony's
     * {@code <|channel|>}, Mistral's {@code [TOOL_CALLS]} are control tokens that plain text leaves out).
     * End-of-generation tokens add nothing.
     */
    String piece(GenerationEvent.Token t) {
        if (t.text().isEmpty() && tokenizer.isControl(t.id()) && !tokenizer.isEog(t.id())) return tokenizer.tokenText(t.id());
        return t.text();
    }
}
