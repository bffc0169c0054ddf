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
 * Cohere Command R7B ({@link CommandR7bSyntax}): the plan it writes between {@code <|START_THINKING|>}
 * and {@code <|END_THINKING|>} is reasoning, and goes back to its template as the message's
 * {@code tool_plan}. A forced answer is one action list of calls of the tools.
 */
final class CommandR7bFormat implements ToolFormat {
    static final String THINKING = "<|START_THINKING|>", END_THINKING = "<|END_THINKING|>";

    @Override
    public String name() {
        return "command-r7b";
    }

    @Override
    public boolean matches(String s) {
        return s.contains(END_THINKING + CommandR7bSyntax.ACTION);
    }

    @Override
    public OutputParser parser(Set<String> tools, boolean reasoning, boolean startInReasoning, IdSource ids) {
        // The syntax runs without tools too: the response markers are dropped either way.
        return new MarkerParser(new CommandR7bSyntax(), tools, reasoning, startInReasoning, ids, THINKING, END_THINKING);
    }

    @Override
    public String grammar(List<Tool> tools, boolean parallel, boolean allowText, boolean startInReasoning, UnaryOperator<String> t) {
        if (allowText) return null;
        ObjectNode list = ToolSyntax.JSON.createObjectNode();
        list.put("type", "array");
        list.put("minItems", 1);
        if (!parallel) list.put("maxItems", 1);
        if (tools.size() == 1) {
            list.set("items", call(tools.getFirst(), "/items"));
        } else {
            ArrayNode any = list.putObject("items").putArray("anyOf");
            for (int i = 0; i < tools.size(); i++) any.add(call(tools.get(i), "/items/anyOf/" + i));
        }
        String root = t.apply(CommandR7bSyntax.ACTION) + " sluice-actions " + t.apply(CommandR7bSyntax.END_ACTION);
        return ToolGrammar.join(root, List.of(JsonSchemaGrammar.toGbnfRules(list, "sluice-actions")));
    }

    /** One action: the template numbers the calls itself, so the id only has to be the integer string it expects. */
    private static ObjectNode call(Tool tool, String at) {
        ObjectNode s = ToolSyntax.JSON.createObjectNode();
        s.put("type", "object");
        ObjectNode props = s.putObject("properties");
        props.putObject("tool_call_id").put("type", "string").put("pattern", "^[0-9]{1,10}$");
        props.putObject("tool_name").put("const", tool.name());
        props.set("parameters", ToolGrammar.parameters(tool, at + "/properties/parameters"));
        s.putArray("required").add("tool_call_id").add("tool_name").add("parameters");
        s.put("additionalProperties", false);
        return s;
    }

    /** The template writes an assistant turn's plan from {@code tool_plan}: the reasoning that came with its calls. */
    @Override
    public List<ChatMessage> history(List<ChatMessage> messages) {
        List<ChatMessage> out = new ArrayList<>(messages.size());
        for (ChatMessage m : messages) {
            if (!m.toolCalls().isEmpty() && m.reasoningContent() != null && !m.extra().containsKey("tool_plan")) {
                Map<String, Object> extra = new LinkedHashMap<>(m.extra());
                extra.put("tool_plan", m.reasoningContent());
                m = m.withExtra(extra);
            }
            out.add(m);
        }
        return out;
    }

    @Override
    public String toString() {
        return name();
    }
}
