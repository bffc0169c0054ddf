package io.sluice.chat.output;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sluice.chat.ChatMessage;
import io.sluice.grammar.JsonSchemaGrammar;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.UnaryOperator;

/**
 * llama-server's generic tool format, for templates that know no tools: the model is told the tools
 * and the answer's JSON shape in a system message and always held to it by a grammar -
 * {@code {"tool_call": {"name", "arguments"}}} (or {@code {"tool_calls": [...]}} with parallel calls),
 * or {@code {"response": "..."}} when it may answer in text. Earlier calls and results in the
 * conversation are written the same way, as text.
 */
final class GenericFormat implements ToolFormat {
    @Override
    public String name() {
        return "generic";
    }

    @Override
    public boolean matches(String templateSource) {
        return false; // the fallback: never chosen by its markers
    }

    @Override
    public OutputParser parser(Set<String> tools, boolean reasoning, boolean startInReasoning, IdSource ids) {
        return new MarkerParser(tools.isEmpty() ? null : new GenericSyntax(), tools, reasoning, startInReasoning, ids);
    }

    @Override
    public boolean templateRendersTools() {
        return false;
    }

    @Override
    public String grammar(List<Tool> tools, boolean parallel, boolean allowText, boolean startInReasoning, UnaryOperator<String> t) {
        String root = ToolGrammar.closeReasoning(startInReasoning) + "sluice-answer";
        return ToolGrammar.join(root, List.of(JsonSchemaGrammar.toGbnfRules(schema(tools, parallel, allowText), "sluice-answer")));
    }

    static ObjectNode schema(List<Tool> tools, boolean parallel, boolean allowText) {
        String base = allowText ? "/anyOf/0" : "";
        ObjectNode calls = ToolSyntax.JSON.createObjectNode();
        calls.put("type", "object");
        ObjectNode props = calls.putObject("properties");
        if (parallel) {
            ObjectNode arr = props.putObject("tool_calls");
            arr.put("type", "array");
            arr.put("minItems", 1);
            arr.set("items", ToolGrammar.callSchema(tools, "name", "arguments", base + "/properties/tool_calls/items"));
            calls.putArray("required").add("tool_calls");
        } else {
            props.set("tool_call", ToolGrammar.callSchema(tools, "name", "arguments", base + "/properties/tool_call"));
            calls.putArray("required").add("tool_call");
        }
        calls.put("additionalProperties", false);
        if (!allowText) return calls;
        ObjectNode response = ToolSyntax.JSON.createObjectNode();
        response.put("type", "object");
        response.putObject("properties").putObject("response").put("type", "string");
        response.putArray("required").add("response");
        response.put("additionalProperties", false);
        ObjectNode any = ToolSyntax.JSON.createObjectNode();
        ArrayNode alts = any.putArray("anyOf");
        alts.add(calls);
        alts.add(response);
        return any;
    }

    @Override
    public List<ChatMessage> prepare(List<ChatMessage> messages, List<Tool> tools, boolean parallel, boolean allowText) {
        StringBuilder sys = new StringBuilder();
        sys.append("You can call these tools:\n");
        for (Tool tool : tools) {
            ObjectNode d = ToolSyntax.JSON.createObjectNode();
            d.put("name", tool.name());
            d.set("parameters", tool.parameters());
            sys.append(d).append('\n');
        }
        sys.append("Respond in JSON format, ").append(allowText ? "either with `tool_call" + (parallel ? "s`" : "`")
                + " (a request to call tools) or with `response` (your reply to the user's request)" : "with `tool_call" + (parallel ? "s`" : "`")
                + " (a request to call tools)").append(", following this schema:\n").append(schema(tools, parallel, allowText));
        List<ChatMessage> out = new ArrayList<>();
        boolean placed = false;
        for (ChatMessage m : messages) {
            if (!placed && m.role().equals("system") && m.content() instanceof String s) {
                out.add(new ChatMessage("system", s + "\n\n" + sys, null, null, null, null, null));
                placed = true;
                continue;
            }
            if (!placed) {
                out.add(ChatMessage.system(sys.toString()));
                placed = true;
            }
            if (!m.toolCalls().isEmpty()) {
                out.add(ChatMessage.assistant(callsAsText(m, parallel)));
            } else if (m.role().equals("tool")) {
                Map<String, Object> result = new LinkedHashMap<>();
                result.put("tool_response", Map.of("tool", m.name() == null ? "" : m.name(), "content", m.content() == null ? "" : m.content()));
                out.add(ChatMessage.user(ToolSyntax.JSON.valueToTree(result).toString()));
            } else {
                out.add(m);
            }
        }
        return out;
    }

    private static String callsAsText(ChatMessage m, boolean parallel) {
        ObjectNode o = ToolSyntax.JSON.createObjectNode();
        List<ObjectNode> calls = new ArrayList<>();
        for (var c : m.toolCalls()) {
            ObjectNode call = ToolSyntax.JSON.createObjectNode();
            call.put("name", c.name());
            call.set("arguments", ToolSyntax.JSON.valueToTree(c.arguments()));
            calls.add(call);
        }
        if (calls.size() == 1 && !parallel) o.set("tool_call", calls.getFirst());
        else o.putArray("tool_calls").addAll(calls);
        return o.toString();
    }
}
