package io.sluice.grammar;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;

/**
 * An independent reference for the grammar engine: a plain Earley recognizer over code points,
 * built straight from the grammar's rules (no automata, no inlining, no caches). It answers
 * "is this byte string a prefix of some sentence" (with a trailing incomplete UTF-8 character
 * allowed when some allowed character starts with those bytes) and "is it a whole sentence".
 * Slow and simple on purpose. Token terminals are not supported.
 */
public final class EarleyOracle {
    private record Production(int lhs, int[] rhs) {
    }

    /** Symbols: >= 0 nonterminal, < 0 terminal -(index+1) into classes. */
    private final List<Production> productions = new ArrayList<>();
    private final List<List<Integer>> byLhs = new ArrayList<>();
    private final List<int[]> classes = new ArrayList<>();
    private final Map<String, Integer> ruleIds = new HashMap<>();
    private final Grammar grammar;
    private final int root;

    public EarleyOracle(Grammar g) {
        this.grammar = g;
        for (String name : g.rules.keySet()) nonterminal(name);
        for (Map.Entry<String, Expr> e : g.rules.entrySet()) define(ruleIds.get(e.getKey()), e.getValue());
        this.root = ruleIds.get(Grammar.ROOT);
    }

    private int nonterminal(String name) {
        return ruleIds.computeIfAbsent(name, n -> fresh());
    }

    private int fresh() {
        byLhs.add(new ArrayList<>());
        return byLhs.size() - 1;
    }

    private void production(int lhs, int... rhs) {
        productions.add(new Production(lhs, rhs));
        byLhs.get(lhs).add(productions.size() - 1);
    }

    private int terminal(int[] ranges) {
        classes.add(ranges);
        return -classes.size();
    }

    private void define(int lhs, Expr e) {
        production(lhs, symbols(e));
    }

    private int[] symbols(Expr e) {
        return switch (e) {
            case Expr.Literal l -> {
                int[] cps = new String(l.bytes(), java.nio.charset.StandardCharsets.UTF_8).codePoints().toArray();
                int[] out = new int[cps.length];
                for (int i = 0; i < cps.length; i++) out[i] = terminal(new int[]{cps[i], cps[i]});
                yield out;
            }
            case Expr.CharClass c -> new int[]{terminal(c.ranges())};
            case Expr.Ref r -> new int[]{nonterminal(r.name())};
            case Expr.Seq s -> {
                List<Integer> out = new ArrayList<>();
                for (Expr x : s.items()) for (int sym : symbols(x)) out.add(sym);
                yield out.stream().mapToInt(Integer::intValue).toArray();
            }
            case Expr.Alt a -> {
                int nt = fresh();
                for (Expr x : a.options()) production(nt, symbols(x));
                yield new int[]{nt};
            }
            case Expr.Repeat r -> {
                List<Integer> out = new ArrayList<>();
                int item = fresh();
                production(item, symbols(r.item()));
                for (int i = 0; i < r.min(); i++) out.add(item);
                if (r.max() < 0) {
                    int star = fresh(); // star -> item star | empty
                    production(star, item, star);
                    production(star);
                    out.add(star);
                } else {
                    int tail = -1;
                    for (int i = r.min(); i < r.max(); i++) {
                        int opt = fresh(); // opt -> item tail | empty
                        if (tail < 0) production(opt, item);
                        else production(opt, item, tail);
                        production(opt);
                        tail = opt;
                    }
                    if (tail >= 0) out.add(tail);
                }
                yield out.stream().mapToInt(Integer::intValue).toArray();
            }
            case Expr.Token t -> throw new UnsupportedOperationException("the oracle has no token terminals");
        };
    }

    /** An Earley item: production, dot position, origin set. */
    private record Item(int prod, int dot, int origin) {
    }

    /** The chart after some code points; immutable once built. */
    final class Chart {
        final List<LinkedHashSet<Item>> sets;

        Chart(List<LinkedHashSet<Item>> sets) {
            this.sets = sets;
        }

        Chart advance(int cp) {
            LinkedHashSet<Item> last = sets.getLast();
            LinkedHashSet<Item> next = new LinkedHashSet<>();
            for (Item it : last) {
                int[] rhs = productions.get(it.prod).rhs;
                if (it.dot < rhs.length && rhs[it.dot] < 0 && contains(classes.get(-rhs[it.dot] - 1), cp)) {
                    next.add(new Item(it.prod, it.dot + 1, it.origin));
                }
            }
            List<LinkedHashSet<Item>> s = new ArrayList<>(sets);
            s.add(next);
            close(s);
            return new Chart(s);
        }

        boolean alive() {
            return !sets.getLast().isEmpty();
        }

        boolean complete() {
            for (Item it : sets.getLast()) {
                Production p = productions.get(it.prod);
                if (p.lhs == root && it.origin == 0 && it.dot == p.rhs.length && isRootProduction(it.prod)) return true;
            }
            return false;
        }

        /** Some item can scan a code point in [lo, hi]. */
        boolean canScanIn(int lo, int hi) {
            for (Item it : sets.getLast()) {
                int[] rhs = productions.get(it.prod).rhs;
                if (it.dot < rhs.length && rhs[it.dot] < 0 && intersects(classes.get(-rhs[it.dot] - 1), lo, hi)) return true;
            }
            return false;
        }
    }

    private boolean isRootProduction(int prod) {
        return byLhs.get(root).contains(prod);
    }

    Chart start() {
        List<LinkedHashSet<Item>> s = new ArrayList<>();
        LinkedHashSet<Item> first = new LinkedHashSet<>();
        for (int p : byLhs.get(root)) first.add(new Item(p, 0, 0));
        s.add(first);
        close(s);
        return new Chart(s);
    }

    /** Predict and complete in the last set until nothing changes (handles empty productions). */
    private void close(List<LinkedHashSet<Item>> s) {
        int k = s.size() - 1;
        LinkedHashSet<Item> set = s.get(k);
        java.util.ArrayDeque<Item> work = new java.util.ArrayDeque<>(set);
        java.util.Set<Integer> nullable = new java.util.HashSet<>(); // nonterminals completed empty in this set
        while (!work.isEmpty()) {
            Item it = work.poll();
            int[] rhs = productions.get(it.prod).rhs;
            if (it.dot < rhs.length && rhs[it.dot] >= 0) {
                int nt = rhs[it.dot];
                for (int p : byLhs.get(nt)) {
                    Item n = new Item(p, 0, k);
                    if (set.add(n)) work.add(n);
                }
                if (nullable.contains(nt)) {
                    Item n = new Item(it.prod, it.dot + 1, it.origin);
                    if (set.add(n)) work.add(n);
                }
            } else if (it.dot == rhs.length) {
                int lhs = productions.get(it.prod).lhs;
                if (it.origin == k) nullable.add(lhs);
                for (Item parent : new ArrayList<>(s.get(it.origin))) {
                    int[] prhs = productions.get(parent.prod).rhs;
                    if (parent.dot < prhs.length && prhs[parent.dot] == lhs) {
                        Item n = new Item(parent.prod, parent.dot + 1, parent.origin);
                        if (set.add(n)) work.add(n);
                    }
                }
            }
        }
    }

    /** The chart after the complete characters of bytes, or null if they are not a viable prefix or not UTF-8. */
    Chart run(Chart from, byte[] bytes, int len) {
        Chart c = from;
        int i = 0;
        while (i < len) {
            int n = utf8Length(bytes[i] & 0xFF);
            if (n == 0 || i + n > len) break;
            int cp = decode(bytes, i, n);
            if (cp < 0) return null;
            c = c.advance(cp);
            if (!c.alive()) return null;
            i += n;
        }
        return c;
    }

    /** Whether bytes is a prefix of some sentence (a trailing incomplete character counts if it can be completed). */
    boolean viablePrefix(byte[] bytes) {
        return viablePrefix(start(), bytes);
    }

    /** The same for the text that from's code points are followed by bytes. */
    boolean viablePrefix(Chart from, byte[] bytes) {
        int done = completeLength(bytes);
        Chart c = run(from, bytes, done);
        if (c == null) return false;
        if (done == bytes.length) return true;
        int[] range = partialRange(bytes, done);
        return range != null && c.canScanIn(range[0], range[1]);
    }

    public boolean sentence(byte[] bytes) {
        return sentence(start(), bytes);
    }

    boolean sentence(Chart from, byte[] bytes) {
        if (completeLength(bytes) != bytes.length) return false;
        Chart c = run(from, bytes, bytes.length);
        return c != null && c.complete();
    }

    /** Bytes up to the start of a trailing incomplete (but so far valid-looking) character. */
    static int completeLength(byte[] b) {
        int i = 0;
        while (i < b.length) {
            int n = utf8Length(b[i] & 0xFF);
            if (n == 0) return i; // invalid lead: stops here (and decode fails later)
            if (i + n > b.length) return i;
            i += n;
        }
        return i;
    }

    static int utf8Length(int lead) {
        if (lead < 0x80) return 1;
        if (lead >= 0xC2 && lead <= 0xDF) return 2;
        if (lead >= 0xE0 && lead <= 0xEF) return 3;
        if (lead >= 0xF0 && lead <= 0xF4) return 4;
        return 0;
    }

    /** The code point, or -1 for an overlong form, a surrogate, a bad continuation or one past U+10FFFF. */
    static int decode(byte[] b, int at, int n) {
        int lead = b[at] & 0xFF;
        int cp = n == 1 ? lead : n == 2 ? lead & 0x1F : n == 3 ? lead & 0x0F : lead & 0x07;
        for (int k = 1; k < n; k++) {
            int c = b[at + k] & 0xFF;
            if ((c & 0xC0) != 0x80) return -1;
            cp = cp << 6 | (c & 0x3F);
        }
        int min = n == 1 ? 0 : n == 2 ? 0x80 : n == 3 ? 0x800 : 0x10000;
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return -1;
        return cp;
    }

    /** The code points whose encoding starts with the incomplete character b[at..]: {lo, hi}, or null. */
    static int[] partialRange(byte[] b, int at) {
        int len = b.length - at;
        int lead = b[at] & 0xFF;
        int n = utf8Length(lead);
        if (n == 0 || len >= n) return null;
        byte[] lo = Arrays.copyOfRange(b, at, at + n), hi = Arrays.copyOfRange(b, at, at + n);
        for (int k = 1; k < len; k++) if (((b[at + k] & 0xFF) & 0xC0) != 0x80) return null;
        for (int k = len; k < n; k++) {
            lo[k] = (byte) 0x80;
            hi[k] = (byte) 0xBF;
        }
        int l = loose(lo, n), h = loose(hi, n);
        int min = n == 2 ? 0x80 : n == 3 ? 0x800 : 0x10000;
        l = Math.max(l, min);
        h = Math.min(h, 0x10FFFF);
        if (l > h) return null;
        if (l >= 0xD800 && h <= 0xDFFF) return null;
        return new int[]{l, h};
    }

    private static int loose(byte[] b, int n) {
        int lead = b[0] & 0xFF;
        int cp = n == 2 ? lead & 0x1F : n == 3 ? lead & 0x0F : lead & 0x07;
        for (int k = 1; k < n; k++) cp = cp << 6 | (b[k] & 0x3F);
        return cp;
    }

    private static boolean contains(int[] r, int cp) {
        for (int i = 0; i < r.length; i += 2) if (cp >= r[i] && cp <= r[i + 1]) return true;
        return false;
    }

    private static boolean intersects(int[] r, int lo, int hi) {
        for (int i = 0; i < r.length; i += 2) {
            int a = Math.max(lo, r[i]), b = Math.min(hi, r[i + 1]);
            if (a > b) continue;
            // the overlap must hold a non-surrogate
            if (a < 0xD800 || b > 0xDFFF) return true;
        }
        return false;
    }
}
