package io.sluice.grammar;

/**
 * One generation's position in a grammar: which tokens may come next ({@link #fillMask}), moving on
 * with the chosen token ({@link #accept}), and whether the text so far is complete. End-of-generation
 * tokens are allowed exactly where the grammar may end. Not thread-safe: one per sequence.
 */
public final class GrammarMatcher {
    private final TokenGrammar grammar;
    private Stacks state;
    private boolean ended;

    GrammarMatcher(TokenGrammar grammar, Stacks initial) {
        this.grammar = grammar;
        this.state = initial;
    }

    /** An independent matcher at the same position (e.g. to try tokens ahead without moving this one). */
    public GrammarMatcher copy() {
        GrammarMatcher m = new GrammarMatcher(grammar, state);
        m.ended = ended;
        return m;
    }

    public TokenGrammar grammar() {
        return grammar;
    }

    /** Whether token may come next (without moving). */
    public boolean allows(int token) {
        if (ended) return false;
        if (grammar.vocab.eog.get(token) && state.accepting) return true;
        return grammar.advance(state, token) != null;
    }

    /**
     * Moves past token; false (and no move) when the grammar does not allow it. An allowed
     * end-of-generation token ends the matcher.
     */
    public boolean accept(int token) {
        if (ended || token < 0 || token >= grammar.vocab.size) return false;
        Stacks next = grammar.advance(state, token);
        if (next == null) {
            if (grammar.vocab.eog.get(token) && state.accepting) {
                ended = true;
                return true;
            }
            return false;
        }
        state = next;
        return true;
    }

    /** Writes the allowed next tokens into mask ({@link TokenGrammar#maskWords()} longs). */
    public void fillMask(long[] mask) {
        if (ended) {
            java.util.Arrays.fill(mask, 0, grammar.maskWords(), 0L);
            return;
        }
        grammar.fillMask(state, mask);
    }

    /** The text so far is a complete sentence of the grammar (the generation may stop here). */
    public boolean canEnd() {
        return !ended && state.accepting;
    }

    /** Complete and nothing may follow: the generation must stop. */
    public boolean isTerminated() {
        return ended || (state.accepting && state.size == 0);
    }
}
