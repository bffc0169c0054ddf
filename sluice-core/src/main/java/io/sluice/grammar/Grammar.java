package io.sluice.grammar;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A context-free grammar over text: named rules, starting at {@code root}. Made from GBNF
 * ({@link #parseGbnf}) or a JSON Schema ({@link JsonSchemaGrammar}); bound to a vocabulary with
 * {@link TokenGrammar#compile} to constrain generation.
 */
public final class Grammar {
    public static final String ROOT = "root";

    final Map<String, Expr> rules;

    Grammar(Map<String, Expr> rules) {
        this.rules = Collections.unmodifiableMap(new LinkedHashMap<>(rules));
    }

    /** Parses llama.cpp's GBNF; a syntax error, an undefined rule or a missing root is a {@link GrammarException}. */
    public static Grammar parseGbnf(String text) {
        return GbnfParser.parse(text);
    }

    /** Rule names, root first as written. */
    public java.util.Set<String> ruleNames() {
        return rules.keySet();
    }
}
