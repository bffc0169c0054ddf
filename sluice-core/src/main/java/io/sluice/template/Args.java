package io.sluice.template;

import java.util.List;
import java.util.Map;

/**
 * The arguments of one call: positional, then keyword (in call order). {@code taintedNames}: some keyword
 * names came from untrusted data ({@code f(**message.extra)}), so strings made from them are untrusted.
 */
public record Args(List<Value> positional, Map<String, Value> keywords, boolean taintedNames) {
    public static final Args NONE = new Args(List.of(), Map.of());

    public Args(List<Value> positional, Map<String, Value> keywords) {
        this(positional, keywords, false);
    }

    public int size() {
        return positional.size();
    }

    /** Argument {@code i} given by position or by {@code name}, or null when neither. */
    public Value get(int i, String name) {
        if (i < positional.size()) {
            if (name != null && keywords.containsKey(name)) throw new TemplateException("got multiple values for argument '" + name + "'", 0);
            return positional.get(i);
        }
        return name == null ? null : keywords.get(name);
    }

    public Value get(int i, String name, Value dflt) {
        Value v = get(i, name);
        return v == null ? dflt : v;
    }

    /** Fails unless at most {@code names.length} positional arguments and only these keywords were given. */
    public Args expect(String function, String... names) {
        if (positional.size() > names.length) {
            throw new TemplateException(function + "() takes at most " + names.length + " argument(s) (" + positional.size() + " given)", 0);
        }
        outer:
        for (String k : keywords.keySet()) {
            for (String n : names) if (n.equals(k)) continue outer;
            throw new TemplateException(function + "() got an unexpected keyword argument '" + k + "'", 0);
        }
        return this;
    }

    /** Like {@link #expect} and also requires the first {@code required} arguments. */
    public Args require(String function, int required, String... names) {
        expect(function, names);
        for (int i = 0; i < required; i++) {
            if (get(i, names[i]) == null) throw new TemplateException(function + "() missing required argument '" + names[i] + "'", 0);
        }
        return this;
    }
}
