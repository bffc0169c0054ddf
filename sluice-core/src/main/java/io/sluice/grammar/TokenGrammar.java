package io.sluice.grammar;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A grammar bound to a vocabulary: computes which tokens may come next in a parse state, in
 * microseconds rather than by running every token through the grammar.
 *
 * <p>How (XGrammar's adaptive token-mask cache, over a token trie): a parse state is a set of stacks;
 * only the top of a stack decides most tokens. For every automaton node that can be a top, the
 * vocabulary trie is walked once from that node alone, with a marker below it, and each token is
 * sorted into <em>accepted</em> (it fits inside the node's rule whatever lies below), or
 * <em>uncertain</em>: the rule can end after k of its bytes and the rest, the suffix, is for the
 * context to judge. Everything else is rejected; a rejected prefix skips its whole subtree. Since
 * non-recursive rules are inlined, most nodes have no or few uncertain tokens. At run time a mask is
 * the OR of the accepted sets of the state's tops plus, per top, a walk of the (small) trie of its
 * uncertain suffixes with the real stack below. Masks are also memoized per parse state, which
 * repeats inside strings and across requests with the same grammar.
 *
 * <p>Thread-safe: the caches fill lazily under this object's lock; one instance serves every request
 * that uses the same grammar text on the same vocabulary.
 */
public final class TokenGrammar {
    private static final int MEMO_BYTES = 32 << 20;
    private static final int MEMO_MAX_STACKS = 64;

    final Automaton a;
    final TokenVocabulary vocab;
    private final int words;
    private final PositionMask[] positions;
    private final Map<Stacks, long[]> memo;
    private final int memoCapacity;
    private final Stacks initial;

    private TokenGrammar(Automaton a, TokenVocabulary vocab, int memoEntries) {
        this.a = a;
        this.vocab = vocab;
        this.words = TokenVocabulary.words(vocab.size);
        this.positions = new PositionMask[a.nodes];
        this.memoCapacity = memoEntries;
        this.memo = new LinkedHashMap<>(16, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<Stacks, long[]> eldest) {
                return size() > memoCapacity;
            }
        };
        Stacks s = new Stacks();
        expand(a.ruleStart[0], null, s);
        this.initial = s.snapshot();
    }

    /** Compiles g for this vocabulary (token terminals are resolved against it), memoizing masks of up to 32 MiB. */
    public static TokenGrammar compile(Grammar g, TokenVocabulary vocab) {
        int words = TokenVocabulary.words(vocab.size);
        return compile(g, vocab, Math.max(8, Math.min(1024, MEMO_BYTES / Math.max(8, words * 8))));
    }

    /** As {@link #compile(Grammar, TokenVocabulary)}, keeping at most memoEntries masks of recent parse states (0: none). */
    public static TokenGrammar compile(Grammar g, TokenVocabulary vocab, int memoEntries) {
        Automaton a = Automaton.compile(g, vocab::tokenByText);
        for (int[] te : a.tokenEdges) {
            for (int k = 0; k < te.length; k += 3) {
                if (te[k] < 0 || te[k] >= vocab.size) throw new GrammarException("token id " + te[k] + " is outside the vocabulary (0.." + (vocab.size - 1) + ")");
            }
        }
        TokenGrammar tg = new TokenGrammar(a, vocab, memoEntries);
        return tg;
    }

    public GrammarMatcher newMatcher() {
        return new GrammarMatcher(this, initial);
    }

    public TokenVocabulary vocabulary() {
        return vocab;
    }

    /** Longs in a token mask: bit t of mask[t / 64] is token t. */
    public int maskWords() {
        return words;
    }

    /** Automaton nodes (for diagnostics and benchmarks). */
    public int nodes() {
        return a.nodes;
    }

    // ---- the pushdown automaton's moves ----

    /** Adds the stacks that a stack at (node over rest) becomes before consuming anything. */
    void expand(int node, Frame rest, Stacks out) {
        if (a.plain[node]) {
            out.add(node, rest);
            return;
        }
        for (int[] p : a.closurePaths[node]) {
            Frame f = rest;
            for (int k = p.length - 1; k >= 1; k--) f = new Frame(p[k], f);
            out.add(p[0], f);
        }
        if (a.closurePops[node]) popInto(rest, out);
    }

    /** The rule on top has returned: continue with what is below. */
    void popInto(Frame rest, Stacks out) {
        if (rest == null) out.accepting = true;
        else if (rest == Frame.BOTTOM) out.bottom = true;
        else expand(rest.node, rest.parent, out);
    }

    /** out = in after one byte (out is cleared first). */
    void step(Stacks in, int b, Stacks out) {
        out.clear();
        int cls = a.classOf[b & 0xFF];
        int[] delta = a.delta;
        int classes = a.classes;
        for (int i = 0; i < in.size; i++) {
            int m = delta[in.tops[i] * classes + cls];
            if (m >= 0) expand(m, in.rests[i], out);
        }
    }

    /** The state after token, or null when the grammar does not allow it there. */
    Stacks advance(Stacks state, int token) {
        if (token < 0 || token >= vocab.size) return null;
        byte[] bytes = vocab.bytes[token];
        boolean text = (vocab.textTokens[token >>> 6] & (1L << token)) != 0;
        Stacks out = new Stacks();
        Stacks cur = new Stacks(), nxt = new Stacks();
        for (int i = 0; i < state.size; i++) {
            int top = state.tops[i];
            Frame rest = state.rests[i];
            int[] te = a.tokenEdges[top];
            for (int k = 0; k < te.length; k += 3) {
                boolean match = te[k + 1] == 0 ? te[k] == token : te[k] != token && text;
                if (match) expand(te[k + 2], rest, out);
            }
            if (!text || !a.hasBytes[top]) continue;
            cur.clear();
            cur.add(top, rest);
            boolean dead = false;
            for (byte b : bytes) {
                if (cur.size == 0) { // finished or stuck with bytes left
                    dead = true;
                    break;
                }
                step(cur, b, nxt);
                Stacks t = cur;
                cur = nxt;
                nxt = t;
            }
            if (!dead && cur.alive()) out.addAll(cur);
        }
        return out.alive() ? out.snapshot() : null;
    }

    // ---- masks ----

    /** Sets in mask (maskWords() longs, overwritten) the tokens allowed in state. */
    void fillMask(Stacks state, long[] mask) {
        boolean memoize = memoCapacity > 0 && state.size <= MEMO_MAX_STACKS;
        if (memoize) {
            long[] hit;
            synchronized (this) {
                hit = memo.get(state);
            }
            if (hit != null) {
                System.arraycopy(hit, 0, mask, 0, words);
                return;
            }
        }
        Arrays.fill(mask, 0, words, 0L);
        Stacks cont = null;
        for (int i = 0; i < state.size; i++) {
            int top = state.tops[i];
            if (a.hasBytes[top]) {
                PositionMask pm = position(top);
                pm.orInto(mask);
                if (pm.suffixes != null) {
                    if (cont == null) cont = new Stacks();
                    cont.clear();
                    popInto(state.rests[i], cont);
                    walk(pm.suffixes, cont, mask);
                }
            }
            int[] te = a.tokenEdges[top];
            for (int k = 0; k < te.length; k += 3) {
                int t = te[k];
                if (te[k + 1] == 0) {
                    mask[t >>> 6] |= 1L << t;
                } else {
                    boolean had = (mask[t >>> 6] & (1L << t)) != 0;
                    for (int w = 0; w < words; w++) mask[w] |= vocab.textTokens[w];
                    if (!had) mask[t >>> 6] &= ~(1L << t);
                }
            }
        }
        if (state.accepting) {
            for (int w = 0; w < words; w++) mask[w] |= vocab.eogTokens[w];
        }
        if (memoize) {
            long[] copy = Arrays.copyOf(mask, words);
            synchronized (this) {
                memo.put(state, copy);
            }
        }
    }

    /** Marks the tokens of trie t whose bytes the state start can consume. */
    private void walk(TokenTrie t, Stacks start, long[] mask) {
        Walker w = new Walker(t.maxDepth);
        w.set(0, start);
        int i = 0;
        while (i < t.size) {
            int d = t.depth[i];
            if (!w.step(d, t.label[i]) || w.size(d) == 0 && !w.accepting(d)) {
                i = t.skip[i];
                continue;
            }
            for (int k = t.first[i]; k < t.first[i + 1]; k++) {
                int id = t.ids[k];
                mask[id >>> 6] |= 1L << id;
            }
            i++;
        }
    }

    private PositionMask position(int node) {
        PositionMask pm = positions[node];
        if (pm != null) return pm;
        synchronized (this) {
            pm = positions[node];
            if (pm == null) {
                pm = computePosition(node);
                positions[node] = pm;
            }
            return pm;
        }
    }

    /** Classifies every token at a top node with nothing known below it (the class comment). */
    private PositionMask computePosition(int node) {
        TokenTrie t = vocab.trie;
        Walker w = new Walker(t.maxDepth);
        w.setSimple(0, node, Frame.BOTTOM);
        long[] follow = a.followBytes[a.ruleOf[node]];
        int[] bottoms = new int[t.maxDepth + 1];
        int nb = 0;
        long[] accepted = new long[words];
        int acceptedCount = 0;
        List<byte[]> suffixes = new ArrayList<>();
        List<Integer> suffixIds = new ArrayList<>();
        int i = 0;
        while (i < t.size) {
            int d = t.depth[i];
            while (nb > 0 && bottoms[nb - 1] >= d) nb--;
            boolean alive = w.step(d, t.label[i]);
            if (!alive || (w.size(d) == 0 && !w.bottom(d))) {
                if (nb > 0) {
                    for (int j = i, end = t.skip[i]; j < end; j++) {
                        for (int k = t.first[j]; k < t.first[j + 1]; k++) {
                            int id = t.ids[k];
                            byte[] b = vocab.bytes[id];
                            for (int q = 0; q < nb; q++) {
                                int at = bottoms[q], c = b[at] & 0xFF;
                                // After the rule returns only its follow bytes can come, in any context.
                                if ((follow[c >>> 6] & (1L << c)) == 0) continue;
                                suffixes.add(Arrays.copyOfRange(b, at, b.length));
                                suffixIds.add(id);
                            }
                        }
                    }
                }
                i = t.skip[i];
                continue;
            }
            if (w.bottom(d)) bottoms[nb++] = d;
            // Alive here, or the rule ends exactly here (nothing left for the context to judge).
            for (int k = t.first[i]; k < t.first[i + 1]; k++) {
                int id = t.ids[k];
                accepted[id >>> 6] |= 1L << id;
                acceptedCount++;
            }
            i++;
        }
        TokenTrie suffixTrie = null;
        if (!suffixes.isEmpty()) {
            int[] ids = new int[suffixIds.size()];
            for (int k = 0; k < ids.length; k++) ids[k] = suffixIds.get(k);
            suffixTrie = TokenTrie.build(suffixes.toArray(new byte[0][]), ids);
        }
        return PositionMask.of(accepted, acceptedCount, suffixTrie);
    }

    /**
     * The parse state at each depth of a trie walk. Most steps go from one stack to one stack
     * through a node that only consumes bytes: those are kept as a bare (top, rest) pair, with no
     * set to build; anything else falls back to a {@link Stacks} per depth.
     */
    private final class Walker {
        final int[] top;
        final Frame[] rest;
        final Stacks[] sets;
        final boolean[] simple;

        Walker(int maxDepth) {
            top = new int[maxDepth + 1];
            rest = new Frame[maxDepth + 1];
            sets = new Stacks[maxDepth + 1];
            simple = new boolean[maxDepth + 1];
        }

        void setSimple(int d, int node, Frame r) {
            simple[d] = true;
            top[d] = node;
            rest[d] = r;
        }

        void set(int d, Stacks s) {
            simple[d] = false;
            sets[d] = s;
        }

        int size(int d) {
            return simple[d] ? 1 : sets[d].size;
        }

        boolean bottom(int d) {
            return !simple[d] && sets[d].bottom;
        }

        boolean accepting(int d) {
            return !simple[d] && sets[d].accepting;
        }

        /** Depth d = depth d-1 after byte b; false when no stack survives and nothing ended. */
        boolean step(int d, byte b) {
            int cls = a.classOf[b & 0xFF];
            if (simple[d - 1]) {
                int m = a.delta[top[d - 1] * a.classes + cls];
                if (m < 0) return false;
                if (a.plain[m]) {
                    setSimple(d, m, rest[d - 1]);
                    return true;
                }
                Stacks out = sets[d] == null ? (sets[d] = new Stacks()) : sets[d];
                out.clear();
                expand(m, rest[d - 1], out);
                return settle(d, out);
            }
            Stacks in = sets[d - 1];
            Stacks out = sets[d] == null || sets[d] == in ? (sets[d] = new Stacks()) : sets[d];
            TokenGrammar.this.step(in, b, out);
            return settle(d, out);
        }

        private boolean settle(int d, Stacks out) {
            if (out.size == 1 && !out.bottom && !out.accepting) {
                setSimple(d, out.tops[0], out.rests[0]);
                return true;
            }
            simple[d] = false;
            sets[d] = out;
            return out.size > 0 || out.bottom || out.accepting;
        }
    }

    /** One node's context-independent verdicts: accepted tokens (as bits or, when few, ids) and uncertain suffixes. */
    private record PositionMask(long[] bits, int[] ids, TokenTrie suffixes) {
        static PositionMask of(long[] accepted, int count, TokenTrie suffixes) {
            if ((long) count * 32 < (long) accepted.length * 64) {
                int[] ids = new int[count];
                int n = 0;
                for (int w = 0; w < accepted.length; w++) {
                    for (long x = accepted[w]; x != 0; x &= x - 1) ids[n++] = w * 64 + Long.numberOfTrailingZeros(x);
                }
                return new PositionMask(null, ids, suffixes);
            }
            return new PositionMask(accepted, null, suffixes);
        }

        void orInto(long[] mask) {
            if (bits != null) {
                for (int w = 0; w < bits.length; w++) mask[w] |= bits[w];
            } else {
                for (int id : ids) mask[id >>> 6] |= 1L << id;
            }
        }
    }
}
