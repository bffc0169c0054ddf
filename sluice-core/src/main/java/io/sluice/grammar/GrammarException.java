package io.sluice.grammar;

/**
 * A grammar or schema that cannot be used: a GBNF syntax error (with line and column), an undefined
 * or left-recursive rule, an unsupported JSON Schema keyword (with its path), or a grammar too large
 * to compile. The message is written for the person who sent the grammar.
 */
public final class GrammarException extends RuntimeException {
    public GrammarException(String message) {
        super(message);
    }
}
