package io.sluice.chat.output;

import io.sluice.grammar.JsonSchemaGrammar;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.UnaryOperator;

import static io.sluice.chat.output.ToolGrammar.lit;

/** gpt-oss's harmony messages ({@link HarmonyParser}); a forced call is one commentary message to a function. */
final class HarmonyFormat implements ToolFormat {
    @Override
    public String name() {
        return "harmony";
    }

    @Override
    public boolean matches(String s) {
        return s.contains("<|channel|>") && s.contains("<|message|>");
    }

    @Override
    public OutputParser parser(Set<String> tools, boolean reasoning, boolean startInReasoning, IdSource ids) {
        return new HarmonyParser(tools, reasoning, ids);
    }

    @Override
    public String grammar(List<Tool> tools, boolean parallel, boolean allowText, boolean startInReasoning, UnaryOperator<String> t) {
        if (allowText) return null;
        List<String> alts = new ArrayList<>();
        List<List<String>> rules = new ArrayList<>();
        for (int i = 0; i < tools.size(); i++) {
            Tool tool = tools.get(i);
            String args = "sluice-args-" + i;
            rules.add(JsonSchemaGrammar.toGbnfRules(ToolGrammar.parameters(tool, ""), args));
            alts.add("(" + t.apply(HarmonyParser.CHANNEL) + " " + lit("commentary to=functions." + tool.name() + " ") + " "
                    + t.apply("<|constrain|>") + " " + lit("json") + " " + t.apply(HarmonyParser.MESSAGE) + " " + args + ")");
        }
        return ToolGrammar.join(String.join(" | ", alts), rules);
    }
}
