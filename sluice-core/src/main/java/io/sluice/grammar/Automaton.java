package io.sluice.grammar;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.function.ToIntFunction;

/**
 * A grammar compiled to a byte-level pushdown automaton: every rule that stays a rule is a
 * deterministic automaton over bytes whose edges may also call another rule or match a whole token;
 * a parse state is a set of stacks of positions in those automata ({@link Stacks}).
 *
 * <p>Rules that are not recursive are inlined into their callers (up to a size), so most grammars
 * from JSON schemas become one automaton and what follows a string or a number is known at every
 * position: that makes most token decisions independent of the stack (see {@link TokenGrammar}).
 * Only recursive rules remain calls. Character classes become UTF-8 byte paths, so a token may end
 * in the middle of a character and the next one continue it.
 *
 * <p>Each node's epsilon closure is computed once here: the ways a stack whose top is at that node
 * reaches positions that consume a byte or a token (pushing called rules) and whether the rule can
 * return from it. Left recursion is found there and rejected, as llama.cpp does.
 */
final class Automaton {
    /** A rule inlined into its callers only up to this many automaton states. */
    static final int INLINE_LIMIT = 20_000;
    static final int MAX_NFA_STATES = 2_000_000;
    static final int MAX_DFA_NODES = 200_000;
    static final int MAX_CLOSURE_PATHS = 20_000;

    final int nodes;
    /** Byte to its class: bytes no edge distinguishes share a class. */
    final int[] classOf = new int[256];
    final int classes;
    /** delta[node * classes + class]: the next node, or -1. */
    final int[] delta;
    final boolean[] isFinal;
    /** Pairs (rule, target) per node. */
    final int[][] calls;
    /** Triples (token id, negated 0/1, target) per node. */
    final int[][] tokenEdges;
    final boolean[] hasBytes;
    /** Consumes a byte and nothing else: its closure is itself. */
    final boolean[] plain;
    final int[] ruleStart;
    final String[] ruleNames;
    final int[] ruleOf;
    /** closurePaths[n]: stacks (top first, last replaces the frame at n) reachable without input. */
    final int[][][] closurePaths;
    /** closurePops[n]: the rule of n can return from n without input. */
    final boolean[] closurePops;
    /** followBytes[r]: the bytes that can come right after rule r returns, anywhere (256 bits). */
    final long[][] followBytes;

    private Automaton(Dfa dfa, String[] ruleNames, int[] ruleStart) {
        this.nodes = dfa.count;
        this.ruleNames = ruleNames;
        this.ruleStart = ruleStart;
        this.isFinal = new boolean[nodes];
        this.calls = new int[nodes][];
        this.tokenEdges = new int[nodes][];
        this.hasBytes = new boolean[nodes];
        this.plain = new boolean[nodes];
        this.ruleOf = new int[nodes];
        TreeSet<Integer> bounds = new TreeSet<>();
        bounds.add(0);
        bounds.add(256);
        for (int n = 0; n < nodes; n++) {
            for (int[] r : dfa.bytes.get(n)) {
                bounds.add(r[0]);
                bounds.add(r[1] + 1);
            }
        }
        int[] b = bounds.stream().mapToInt(Integer::intValue).toArray();
        this.classes = b.length - 1;
        for (int c = 0; c < classes; c++) Arrays.fill(classOf, b[c], b[c + 1], c);
        long size = (long) nodes * classes;
        if (size > 200_000_000L) throw new GrammarException("the grammar is too large to compile (" + nodes + " automaton states)");
        this.delta = new int[(int) size];
        Arrays.fill(delta, -1);
        for (int n = 0; n < nodes; n++) {
            isFinal[n] = dfa.isFinal.get(n);
            calls[n] = dfa.calls.get(n);
            tokenEdges[n] = dfa.tokens.get(n);
            ruleOf[n] = dfa.ruleOf.get(n);
            List<int[]> ranges = dfa.bytes.get(n);
            hasBytes[n] = !ranges.isEmpty();
            for (int[] r : ranges) {
                for (int c = classOf[r[0]]; c <= classOf[r[1]]; c++) delta[n * classes + c] = r[2];
            }
            plain[n] = hasBytes[n] && !isFinal[n] && calls[n].length == 0 && tokenEdges[n].length == 0;
        }
        this.closurePaths = new int[nodes][][];
        this.closurePops = new boolean[nodes];
        computeClosures();
        this.followBytes = new long[ruleStart.length][4];
        computeFollow();
    }

    int next(int node, int b) {
        return delta[node * classes + classOf[b & 0xFF]];
    }

    // ---- compilation ----

    static Automaton compile(Grammar g, ToIntFunction<String> tokenByText) {
        Map<String, Expr> rules = g.rules;
        List<String> names = new ArrayList<>(rules.keySet());
        boolean[] recursive = recursiveRules(rules, names);
        Map<String, Boolean> recursiveByName = new HashMap<>();
        for (int i = 0; i < names.size(); i++) recursiveByName.put(names.get(i), recursive[i]);
        Map<String, Long> sizes = new HashMap<>();
        for (String n : names) inlinedSize(n, rules, recursiveByName, sizes);

        Builder nfa = new Builder(rules, recursiveByName, sizes, tokenByText);
        // Rules that stay rules: root and whatever it (transitively) calls; building one may add more.
        nfa.keep(Grammar.ROOT);
        List<int[]> ruleNfa = new ArrayList<>(); // {start, end}
        for (int r = 0; r < nfa.keptOrder.size(); r++) {
            int start = nfa.state();
            int end = nfa.build(rules.get(nfa.keptOrder.get(r)), start, new ArrayDeque<>());
            ruleNfa.add(new int[]{start, end});
        }
        String[] ruleNames = nfa.keptOrder.toArray(new String[0]);
        Dfa dfa = new Dfa(nfa);
        int[] ruleStart = new int[ruleNames.length];
        for (int r = 0; r < ruleNames.length; r++) ruleStart[r] = dfa.determinize(r, ruleNfa.get(r)[0], ruleNfa.get(r)[1]);
        return new Automaton(dfa, ruleNames, ruleStart);
    }

    /** Rules on a cycle of references (Tarjan's strongly connected components). */
    private static boolean[] recursiveRules(Map<String, Expr> rules, List<String> names) {
        int n = names.size();
        Map<String, Integer> index = new HashMap<>();
        for (int i = 0; i < n; i++) index.put(names.get(i), i);
        List<List<Integer>> edges = new ArrayList<>();
        for (String name : names) {
            List<Integer> out = new ArrayList<>();
            refs(rules.get(name), r -> out.add(index.get(r)));
            edges.add(out);
        }
        boolean[] rec = new boolean[n];
        int[] idx = new int[n], low = new int[n];
        boolean[] onStack = new boolean[n];
        Arrays.fill(idx, -1);
        int[] counter = {0};
        ArrayDeque<Integer> stack = new ArrayDeque<>();
        for (int s = 0; s < n; s++) {
            if (idx[s] >= 0) continue;
            // Iterative Tarjan: frames of (node, next edge index).
            ArrayDeque<int[]> work = new ArrayDeque<>();
            work.push(new int[]{s, 0});
            idx[s] = low[s] = counter[0]++;
            stack.push(s);
            onStack[s] = true;
            while (!work.isEmpty()) {
                int[] f = work.peek();
                int v = f[0];
                if (f[1] < edges.get(v).size()) {
                    int w = edges.get(v).get(f[1]++);
                    if (w == v) rec[v] = true;
                    if (idx[w] < 0) {
                        idx[w] = low[w] = counter[0]++;
                        stack.push(w);
                        onStack[w] = true;
                        work.push(new int[]{w, 0});
                    } else if (onStack[w]) {
                        low[v] = Math.min(low[v], idx[w]);
                    }
                } else {
                    work.pop();
                    if (!work.isEmpty()) low[work.peek()[0]] = Math.min(low[work.peek()[0]], low[v]);
                    if (low[v] == idx[v]) {
                        List<Integer> comp = new ArrayList<>();
                        int w;
                        do {
                            w = stack.pop();
                            onStack[w] = false;
                            comp.add(w);
                        } while (w != v);
                        if (comp.size() > 1) for (int c : comp) rec[c] = true;
                    }
                }
            }
        }
        return rec;
    }

    private static void refs(Expr e, java.util.function.Consumer<String> out) {
        switch (e) {
            case Expr.Ref r -> out.accept(r.name());
            case Expr.Seq s -> s.items().forEach(x -> refs(x, out));
            case Expr.Alt a -> a.options().forEach(x -> refs(x, out));
            case Expr.Repeat r -> refs(r.item(), out);
            default -> {
            }
        }
    }

    /** Automaton states a rule takes when everything inlinable in it is inlined (saturating). */
    private static long inlinedSize(String name, Map<String, Expr> rules, Map<String, Boolean> rec, Map<String, Long> memo) {
        Long m = memo.get(name);
        if (m != null) return m;
        memo.put(name, 1L); // a recursive reference counts as one call
        long s = size(rules.get(name), rules, rec, memo);
        memo.put(name, s);
        return s;
    }

    private static long size(Expr e, Map<String, Expr> rules, Map<String, Boolean> rec, Map<String, Long> memo) {
        long s = switch (e) {
            case Expr.Literal l -> l.bytes().length + 1;
            case Expr.CharClass c -> 2L + 3L * c.ranges().length;
            case Expr.Ref r -> {
                if (rec.get(r.name())) yield 2;
                long inner = inlinedSize(r.name(), rules, rec, memo);
                yield inner <= INLINE_LIMIT ? inner : 2;
            }
            case Expr.Seq q -> {
                long t = 1;
                for (Expr x : q.items()) t += size(x, rules, rec, memo);
                yield t;
            }
            case Expr.Alt a -> {
                long t = 2;
                for (Expr x : a.options()) t += size(x, rules, rec, memo) + 1;
                yield t;
            }
            case Expr.Repeat r -> {
                long copies = Math.max(1, r.max() < 0 ? r.min() + 1 : r.max());
                yield 2 + copies * size(r.item(), rules, rec, memo);
            }
            case Expr.Token t -> 2;
        };
        return Math.min(s, Long.MAX_VALUE / 4096);
    }

    /** Builds the NFA (Thompson construction) of the kept rules, inlining the others. */
    static final class Builder {
        static final int EPS = 0, BYTES = 1, CALL = 2, TOKEN = 3;
        final List<List<int[]>> out = new ArrayList<>(); // per state: {kind, a, b, target}
        final Map<String, Integer> kept = new HashMap<>();
        final List<String> keptOrder = new ArrayList<>();
        private final Map<String, Expr> rules;
        private final Map<String, Boolean> recursive;
        private final Map<String, Long> sizes;
        private final ToIntFunction<String> tokenByText;

        Builder(Map<String, Expr> rules, Map<String, Boolean> recursive, Map<String, Long> sizes, ToIntFunction<String> tokenByText) {
            this.rules = rules;
            this.recursive = recursive;
            this.sizes = sizes;
            this.tokenByText = tokenByText;
        }

        /** The rule index of a rule that stays a rule. */
        int keep(String name) {
            return kept.computeIfAbsent(name, n -> {
                keptOrder.add(n);
                return keptOrder.size() - 1;
            });
        }

        int state() {
            if (out.size() >= MAX_NFA_STATES) {
                throw new GrammarException("the grammar is too large to compile (over " + MAX_NFA_STATES
                        + " automaton states; a large repetition count or enum?)");
            }
            out.add(new ArrayList<>(2));
            return out.size() - 1;
        }

        private void edge(int from, int kind, int a, int b, int to) {
            out.get(from).add(new int[]{kind, a, b, to});
        }

        /** Adds e starting at state from; returns the state where it ends. */
        int build(Expr e, int from, ArrayDeque<String> inlining) {
            switch (e) {
                case Expr.Literal l -> {
                    int cur = from;
                    for (byte x : l.bytes()) {
                        int nxt = state();
                        edge(cur, BYTES, x & 0xFF, x & 0xFF, nxt);
                        cur = nxt;
                    }
                    return cur;
                }
                case Expr.CharClass c -> {
                    int end = state();
                    int[] r = c.ranges();
                    for (int i = 0; i < r.length; i += 2) {
                        for (int[] seq : Utf8Ranges.of(r[i], r[i + 1])) {
                            int cur = from;
                            for (int k = 0; k < seq.length; k += 2) {
                                int nxt = k + 2 == seq.length ? end : state();
                                edge(cur, BYTES, seq[k], seq[k + 1], nxt);
                                cur = nxt;
                            }
                        }
                    }
                    return end;
                }
                case Expr.Ref r -> {
                    String name = r.name();
                    if (!recursive.get(name) && sizes.get(name) <= INLINE_LIMIT && !inlining.contains(name)) {
                        inlining.push(name);
                        int end = build(rules.get(name), from, inlining);
                        inlining.pop();
                        return end;
                    }
                    int end = state();
                    edge(from, CALL, keep(name), 0, end);
                    return end;
                }
                case Expr.Seq s -> {
                    int cur = from;
                    for (Expr x : s.items()) cur = build(x, cur, inlining);
                    return cur;
                }
                case Expr.Alt a -> {
                    int end = state();
                    for (Expr x : a.options()) {
                        int s = state();
                        edge(from, EPS, 0, 0, s);
                        edge(build(x, s, inlining), EPS, 0, 0, end);
                    }
                    return end;
                }
                case Expr.Repeat r -> {
                    int cur = from;
                    for (int i = 0; i < r.min(); i++) cur = build(r.item(), cur, inlining);
                    if (r.max() < 0) {
                        int loop = state();
                        edge(cur, EPS, 0, 0, loop);
                        int body = state();
                        edge(loop, EPS, 0, 0, body);
                        edge(build(r.item(), body, inlining), EPS, 0, 0, loop);
                        return loop;
                    }
                    int end = state();
                    edge(cur, EPS, 0, 0, end);
                    for (int i = r.min(); i < r.max(); i++) {
                        cur = build(r.item(), cur, inlining);
                        edge(cur, EPS, 0, 0, end);
                    }
                    return end;
                }
                case Expr.Token t -> {
                    int id = t.text() == null ? t.id() : tokenByText.applyAsInt(t.text());
                    if (id < 0) throw new GrammarException("token " + t.text() + " is not a single token of this vocabulary");
                    int end = state();
                    edge(from, TOKEN, id, t.negated() ? 1 : 0, end);
                    return end;
                }
            }
        }
    }

    /** Subset construction, rule by rule, into one numbering of deterministic nodes. */
    static final class Dfa {
        private final Builder nfa;
        int count;
        final List<List<int[]>> bytes = new ArrayList<>(); // per node: {lo, hi, target}
        final List<int[]> calls = new ArrayList<>();
        final List<int[]> tokens = new ArrayList<>();
        final List<Boolean> isFinal = new ArrayList<>();
        final List<Integer> ruleOf = new ArrayList<>();

        Dfa(Builder nfa) {
            this.nfa = nfa;
        }

        /** Determinizes one rule's NFA; returns its start node. */
        int determinize(int rule, int start, int end) {
            Map<Key, Integer> index = new HashMap<>();
            ArrayDeque<int[]> queue = new ArrayDeque<>();
            int[] s0 = closure(new int[]{start});
            int startNode = add(s0, rule, end, index, queue);
            while (!queue.isEmpty()) {
                int[] set = queue.poll();
                int node = index.get(new Key(set));
                // Byte edges split into disjoint ranges.
                List<int[]> edges = new ArrayList<>();
                Map<Integer, List<Integer>> callTargets = new LinkedHashMap<>();
                Map<Long, List<Integer>> tokenTargets = new LinkedHashMap<>();
                for (int s : set) {
                    for (int[] e : nfa.out.get(s)) {
                        switch (e[0]) {
                            case Builder.BYTES -> edges.add(e);
                            case Builder.CALL -> callTargets.computeIfAbsent(e[1], k -> new ArrayList<>()).add(e[3]);
                            case Builder.TOKEN -> tokenTargets.computeIfAbsent(((long) e[1] << 1) | e[2], k -> new ArrayList<>()).add(e[3]);
                            default -> {
                            }
                        }
                    }
                }
                List<int[]> ranges = new ArrayList<>();
                if (!edges.isEmpty()) {
                    TreeSet<Integer> cuts = new TreeSet<>();
                    for (int[] e : edges) {
                        cuts.add(e[1]);
                        cuts.add(e[2] + 1);
                    }
                    Integer[] c = cuts.toArray(new Integer[0]);
                    for (int i = 0; i + 1 < c.length; i++) {
                        int lo = c[i], hi = c[i + 1] - 1;
                        List<Integer> targets = new ArrayList<>();
                        for (int[] e : edges) if (e[1] <= lo && hi <= e[2]) targets.add(e[3]);
                        if (targets.isEmpty()) continue;
                        int target = add(closure(toArray(targets)), rule, end, index, queue);
                        if (!ranges.isEmpty() && ranges.getLast()[2] == target && ranges.getLast()[1] == lo - 1) ranges.getLast()[1] = hi;
                        else ranges.add(new int[]{lo, hi, target});
                    }
                }
                bytes.set(node, ranges);
                int[] cl = new int[callTargets.size() * 2];
                int k = 0;
                for (Map.Entry<Integer, List<Integer>> e : callTargets.entrySet()) {
                    cl[k++] = e.getKey();
                    cl[k++] = add(closure(toArray(e.getValue())), rule, end, index, queue);
                }
                calls.set(node, cl);
                int[] tk = new int[tokenTargets.size() * 3];
                k = 0;
                for (Map.Entry<Long, List<Integer>> e : tokenTargets.entrySet()) {
                    tk[k++] = (int) (e.getKey() >>> 1);
                    tk[k++] = (int) (e.getKey() & 1);
                    tk[k++] = add(closure(toArray(e.getValue())), rule, end, index, queue);
                }
                tokens.set(node, tk);
            }
            return startNode;
        }

        private int add(int[] set, int rule, int end, Map<Key, Integer> index, ArrayDeque<int[]> queue) {
            Key key = new Key(set);
            Integer id = index.get(key);
            if (id != null) return id;
            if (count >= MAX_DFA_NODES) throw new GrammarException("the grammar is too large to compile (over " + MAX_DFA_NODES + " automaton states)");
            id = count++;
            index.put(key, id);
            bytes.add(List.of());
            calls.add(new int[0]);
            tokens.add(new int[0]);
            isFinal.add(Arrays.binarySearch(set, end) >= 0);
            ruleOf.add(rule);
            queue.add(set);
            return id;
        }

        private int[] closure(int[] seeds) {
            java.util.BitSet seen = new java.util.BitSet();
            ArrayDeque<Integer> work = new ArrayDeque<>();
            for (int s : seeds) if (!seen.get(s)) {
                seen.set(s);
                work.push(s);
            }
            while (!work.isEmpty()) {
                int s = work.pop();
                for (int[] e : nfa.out.get(s)) {
                    if (e[0] == Builder.EPS && !seen.get(e[3])) {
                        seen.set(e[3]);
                        work.push(e[3]);
                    }
                }
            }
            return seen.stream().toArray();
        }

        private static int[] toArray(List<Integer> l) {
            int[] a = new int[l.size()];
            for (int i = 0; i < a.length; i++) a[i] = l.get(i);
            return a;
        }

        private record Key(int[] set) {
            @Override
            public boolean equals(Object o) {
                return o instanceof Key k && Arrays.equals(set, k.set);
            }

            @Override
            public int hashCode() {
                return Arrays.hashCode(set);
            }
        }
    }

    // ---- closures ----

    private void computeClosures() {
        byte[] state = new byte[nodes]; // 0 = not yet, 1 = in progress, 2 = done
        for (int n = 0; n < nodes; n++) closure(n, state);
    }

    private void closure(int n, byte[] state) {
        if (state[n] == 2) return;
        if (state[n] == 1) {
            throw new GrammarException("rule '" + ruleNames[ruleOf[n]] + "' is left-recursive (it can reach itself without "
                    + "consuming input), which this grammar engine does not support");
        }
        state[n] = 1;
        List<int[]> paths = new ArrayList<>();
        java.util.HashSet<List<Integer>> seenPaths = new java.util.HashSet<>();
        boolean pops = false;
        java.util.BitSet visited = new java.util.BitSet();
        ArrayDeque<Integer> work = new ArrayDeque<>();
        visited.set(n);
        work.push(n);
        while (!work.isEmpty()) {
            int m = work.pop();
            if (hasBytes[m] || tokenEdges[m].length > 0) addPath(paths, seenPaths, new int[]{m});
            if (isFinal[m]) pops = true;
            int[] cl = calls[m];
            for (int i = 0; i < cl.length; i += 2) {
                int start = ruleStart[cl[i]], ret = cl[i + 1];
                closure(start, state);
                for (int[] p : closurePaths[start]) {
                    int[] q = Arrays.copyOf(p, p.length + 1);
                    q[p.length] = ret;
                    addPath(paths, seenPaths, q);
                }
                if (closurePops[start] && !visited.get(ret)) {
                    visited.set(ret);
                    work.push(ret);
                }
            }
        }
        closurePaths[n] = paths.toArray(new int[0][]);
        closurePops[n] = pops;
        state[n] = 2;
    }

    /** FOLLOW sets as a fixpoint: what can come after a call of r is what its return nodes can start with. */
    private void computeFollow() {
        boolean changed = true;
        while (changed) {
            changed = false;
            for (int n = 0; n < nodes; n++) {
                int[] cl = calls[n];
                for (int i = 0; i < cl.length; i += 2) {
                    long[] first = firstBytes(cl[i + 1]);
                    long[] f = followBytes[cl[i]];
                    for (int w = 0; w < 4; w++) {
                        if ((f[w] | first[w]) != f[w]) {
                            f[w] |= first[w];
                            changed = true;
                        }
                    }
                }
            }
        }
    }

    /** The bytes a stack at node n can consume next (through its closure, and after its rule returns). */
    private long[] firstBytes(int n) {
        long[] out = new long[4];
        for (int[] p : closurePaths[n]) {
            for (int b = 0; b < 256; b++) if (next(p[0], b) >= 0) out[b >>> 6] |= 1L << b;
        }
        if (closurePops[n]) {
            long[] f = followBytes[ruleOf[n]];
            for (int w = 0; w < 4; w++) out[w] |= f[w];
        }
        return out;
    }

    private static void addPath(List<int[]> paths, java.util.Set<List<Integer>> seen, int[] p) {
        if (!seen.add(Arrays.stream(p).boxed().toList())) return;
        if (paths.size() >= MAX_CLOSURE_PATHS) throw new GrammarException("the grammar is too ambiguous to compile (over "
                + MAX_CLOSURE_PATHS + " ways to start a rule)");
        paths.add(p);
    }
}
