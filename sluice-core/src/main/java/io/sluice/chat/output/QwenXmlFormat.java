package io.sluice.chat.output;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sluice.grammar.GrammarException;
import io.sluice.grammar.JsonSchemaGrammar;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.UnaryOperator;

import static io.sluice.chat.output.ToolGrammar.lit;

/**
 * Qwen3-Coder's XML calls ({@link QwenXmlSyntax}). The forced grammar writes each function's
 * parameters in its schema's order, the required ones always: a string parameter as raw text (its
 * enum/const values, else any text without {@code </parameter>}), any other as JSON valid against its
 * schema. A string parameter's text cannot carry JSON Schema's string constraints (pattern, format,
 * lengths): such a schema is refused.
 */
final class QwenXmlFormat implements ToolFormat {
    /** Keywords a raw string parameter may have: they say nothing about its value. */
    private static final Set<String> ANNOTATIONS = Set.of("type", "description", "title", "default", "examples", "$comment",
            "deprecated", "readOnly", "writeOnly", "enum", "const");

    @Override
    public String name() {
        return "qwen3-coder";
    }

    @Override
    public boolean matches(String s) {
        return s.contains(QwenXmlSyntax.OPEN) && s.contains(QwenXmlSyntax.FUNCTION) && s.contains(QwenXmlSyntax.PARAMETER);
    }

    @Override
    public OutputParser parser(Set<String> tools, boolean reasoning, boolean startInReasoning, IdSource ids) {
        return new MarkerParser(tools.isEmpty() ? null : new QwenXmlSyntax(Map.of()), tools, reasoning, startInReasoning, ids);
    }

    @Override
    public OutputParser parser(List<Tool> tools, boolean reasoning, boolean startInReasoning, IdSource ids) {
        Map<String, JsonNode> schemas = new LinkedHashMap<>();
        for (Tool t : tools) schemas.put(t.name(), t.parameters());
        return new MarkerParser(tools.isEmpty() ? null : new QwenXmlSyntax(schemas), schemas.keySet(), reasoning, startInReasoning, ids);
    }

    @Override
    public String grammar(List<Tool> tools, boolean parallel, boolean allowText, boolean startInReasoning, UnaryOperator<String> t) {
        List<List<String>> rules = new ArrayList<>();
        List<String> functions = new ArrayList<>();
        for (int i = 0; i < tools.size(); i++) functions.add(function(tools.get(i), i, rules));
        rules.addFirst(List.of("sluice-function ::= " + String.join(" | ", functions)));
        rules.add(rawText());
        String block = "(" + t.apply(QwenXmlSyntax.OPEN) + " \"\\n\" sluice-function " + t.apply(QwenXmlSyntax.CLOSE) + ")";
        String calls = ToolGrammar.repeat(block, parallel, "\"\\n\"");
        if (allowText) return ToolGrammar.join(ToolGrammar.textThenCalls(QwenXmlSyntax.OPEN, calls, rules), rules);
        return ToolGrammar.join(ToolGrammar.closeReasoning(startInReasoning) + calls, rules);
    }

    /** The rule of one function's block (its parameters' rules added); returns the rule's name. */
    private static String function(Tool tool, int i, List<List<String>> rules) {
        JsonNode schema = tool.parameters() == null ? ToolSyntax.JSON.createObjectNode() : tool.parameters();
        Set<String> required = new HashSet<>();
        for (JsonNode r : schema.path("required")) required.add(r.asText());
        StringBuilder body = new StringBuilder(lit(QwenXmlSyntax.FUNCTION + tool.name() + ">\n"));
        int j = 0;
        for (Iterator<Map.Entry<String, JsonNode>> it = schema.path("properties").fields(); it.hasNext(); j++) {
            var p = it.next();
            String rule = "sluice-p" + i + "-" + j;
            String value = value(p.getValue(), schema, rule + "-value", "#/properties/" + p.getKey(), rules);
            rules.add(List.of(rule + " ::= " + lit(QwenXmlSyntax.PARAMETER + p.getKey() + ">\n") + " " + value + " "
                    + lit("\n" + QwenXmlSyntax.END_PARAMETER + "\n")));
            body.append(' ').append(rule).append(required.contains(p.getKey()) ? "" : "?");
        }
        body.append(' ').append(lit(QwenXmlSyntax.END_FUNCTION + "\n"));
        String name = "sluice-f" + i;
        rules.add(List.of(name + " ::= " + body));
        return name;
    }

    /** The GBNF of a parameter's value text. */
    private static String value(JsonNode param, JsonNode root, String rule, String where, List<List<String>> rules) {
        if (QwenXmlSyntax.kind(param, root) != QwenXmlSyntax.Kind.RAW) {
            rules.add(JsonSchemaGrammar.toGbnfRules(withDefs(QwenXmlSyntax.resolve(param, root), root), rule));
            return rule;
        }
        JsonNode s = QwenXmlSyntax.resolve(param, root);
        for (Iterator<String> it = s.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!ANNOTATIONS.contains(k)) {
                throw new GrammarException("'" + k + "' at " + where + " cannot constrain a parameter Qwen3-Coder writes as raw text");
            }
        }
        List<String> alts = new ArrayList<>();
        if (s.has("const")) alts.add(lit(s.get("const").asText()));
        else for (JsonNode v : s.path("enum")) alts.add(lit(v.asText()));
        return alts.isEmpty() ? "sluice-raw" : "(" + String.join(" | ", alts) + ")";
    }

    /** A parameter's schema with the tool's definitions beside it, so its local $refs still resolve. */
    private static JsonNode withDefs(JsonNode param, JsonNode root) {
        if (param == null) return ToolSyntax.JSON.createObjectNode();
        ObjectNode s = param.deepCopy();
        for (String defs : List.of("$defs", "definitions")) if (root.has(defs) && !s.has(defs)) s.set(defs, root.get(defs));
        return s;
    }

    /**
     * Text without {@code </parameter>} (so the value's end is unambiguous): after each {@code <}, a
     * proper beginning of {@code /parameter>} and then, if anything, a character that leaves it.
     */
    static List<String> rawText() {
        return ToolGrammar.textWithout("sluice-raw", QwenXmlSyntax.END_PARAMETER);
    }

    @Override
    public String toString() {
        return name();
    }
}
