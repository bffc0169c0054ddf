package io.sluice.chat.output;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sluice.grammar.JsonSchemaGrammar;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/** Building blocks for the tool-call grammars: call objects as JSON Schema, GBNF literals, rule sets. */
final class ToolGrammar {
    private ToolGrammar() {
    }

    /**
     * The schema of one call object {NAME_KEY: "f", ARGS_KEY: {...}} of any of the tools (anyOf when
     * several), for placing at JSON pointer {@code at} of the whole schema (so the tools' own local
     * {@code $ref}s still resolve).
     */
    static ObjectNode callSchema(List<ToolFormat.Tool> tools, String nameKey, String argsKey, String at) {
        if (tools.size() == 1) return oneCall(tools.getFirst(), nameKey, argsKey, at);
        ObjectNode s = ToolSyntax.JSON.createObjectNode();
        ArrayNode any = s.putArray("anyOf");
        for (int i = 0; i < tools.size(); i++) any.add(oneCall(tools.get(i), nameKey, argsKey, at + "/anyOf/" + i));
        return s;
    }

    private static ObjectNode oneCall(ToolFormat.Tool t, String nameKey, String argsKey, String at) {
        ObjectNode s = ToolSyntax.JSON.createObjectNode();
        s.put("type", "object");
        ObjectNode props = s.putObject("properties");
        props.putObject(nameKey).put("const", t.name());
        props.set(argsKey, parameters(t, at + "/properties/" + argsKey));
        s.putArray("required").add(nameKey).add(argsKey);
        s.put("additionalProperties", false);
        return s;
    }

    /** The tool's parameter schema (any object when it has none), its local $refs moved to where it sits. */
    static JsonNode parameters(ToolFormat.Tool t, String at) {
        if (t.parameters() == null || t.parameters().isNull() || t.parameters().isEmpty()) {
            return ToolSyntax.JSON.createObjectNode().put("type", "object");
        }
        return moveRefs(t.parameters().deepCopy(), at);
    }

    private static JsonNode moveRefs(JsonNode n, String at) {
        if (n.isObject()) {
            ObjectNode o = (ObjectNode) n;
            JsonNode ref = o.get("$ref");
            if (ref != null && ref.isTextual() && ref.asText().startsWith("#")) o.put("$ref", "#" + at + ref.asText().substring(1));
            for (Iterator<Map.Entry<String, JsonNode>> it = o.fields(); it.hasNext(); ) {
                var e = it.next();
                if (!e.getKey().equals("$ref")) moveRefs(e.getValue(), at);
            }
        } else if (n.isArray()) {
            for (JsonNode c : n) moveRefs(c, at);
        }
        return n;
    }

    /** A GBNF string literal. */
    static String lit(String s) {
        StringBuilder sb = new StringBuilder("\"");
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> sb.append(c);
            }
        }
        return sb.append('"').toString();
    }

    /** A grammar: root first, then the rule sets, identical (shared primitive) lines once. */
    static String join(String root, List<List<String>> ruleSets) {
        Set<String> lines = new LinkedHashSet<>();
        lines.add("root ::= " + root);
        for (List<String> rs : ruleSets) lines.addAll(rs);
        return String.join("\n", lines) + "\n";
    }

    /** Rules for the call objects under the name {@code call}. */
    static List<String> calls(List<ToolFormat.Tool> tools, String nameKey, String argsKey) {
        return JsonSchemaGrammar.toGbnfRules(callSchema(tools, nameKey, argsKey, ""), "sluice-call");
    }

    /**
     * One alternative per tool, {@code prefix(tool) arguments suffix}, the arguments a JSON object valid
     * against the tool's schema (for formats that name the function outside the JSON); adds the rules.
     */
    static String perTool(List<ToolFormat.Tool> tools, Function<ToolFormat.Tool, String> prefix, String suffix, List<List<String>> rules) {
        List<String> alts = new ArrayList<>();
        for (int i = 0; i < tools.size(); i++) {
            String args = "sluice-args-" + i;
            rules.add(JsonSchemaGrammar.toGbnfRules(parameters(tools.get(i), ""), args));
            alts.add(prefix.apply(tools.get(i)) + " " + args + (suffix.isEmpty() ? "" : " " + suffix));
        }
        return "(" + String.join(" | ", alts) + ")";
    }

    /** What the grammar starts with when the prompt left a reasoning block open: its end. */
    static String closeReasoning(boolean startInReasoning) {
        return startInReasoning ? lit(MarkerParser.THINK_CLOSE + "\n\n") + " " : "";
    }

    /**
     * Under tool_choice auto: free text, then maybe the calls, which open with marker. The calls' grammar
     * binds from the marker on (what llama.cpp's lazy grammars do, here as one grammar); the text before it
     * is anything that does not contain the marker. Returns the root; adds the text's rules.
     */
    static String textThenCalls(String marker, String calls, List<List<String>> rules) {
        rules.add(textWithout("sluice-text", marker));
        return "sluice-text (" + calls + ")?";
    }

    /** Rules of {@code rule}: any text that does not contain marker (whose first character does not recur in it). */
    static List<String> textWithout(String rule, String marker) {
        char first = marker.charAt(0);
        String tail = marker.substring(1), f = classChar(first);
        if (tail.indexOf(first) >= 0) throw new IllegalArgumentException("the marker's first character recurs in it: " + marker);
        List<String> alts = new ArrayList<>();
        for (int k = 0; k < tail.length(); k++) {
            // the marker's first k characters after `first`, then (maybe) one that is neither the next nor `first`
            String leave = "([^" + classChar(tail.charAt(k)) + f + "] [^" + f + "]*)?";
            alts.add(k == 0 ? leave : lit(tail.substring(0, k)) + " " + leave);
        }
        return List.of(rule + " ::= [^" + f + "]* (" + lit(String.valueOf(first)) + " " + rule + "-tail)*",
                rule + "-tail ::= " + String.join(" | ", alts));
    }

    /** c inside a GBNF character class. */
    private static String classChar(char c) {
        return Character.isLetterOrDigit(c) || c == '<' || c == '>' || c == '_' || c == '|' || c == '/' || c == ' ' ? String.valueOf(c)
                : String.format("\\x%02X", (int) c);
    }

    /** One call, or with parallel one or more separated by sep. */
    static String repeat(String one, boolean parallel, String sep) {
        return parallel ? one + " (" + sep + " " + one + ")*" : one;
    }
}
