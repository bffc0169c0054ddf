package io.sluice.grammar;

import java.util.Arrays;

/**
 * A set of parse stacks: stack i is the node {@code tops[i]} (where the next byte or token is
 * consumed) over the frames {@code rests[i]} (null: nothing below). {@code accepting}: one way of
 * reading the input so far has finished the grammar. {@code bottom}: in a context-free walk, the
 * walked rule has returned (see {@link TokenGrammar}). Mutable while being built; a matcher keeps
 * an immutable copy.
 */
final class Stacks {
    /** A stack set larger than this means an ambiguous grammar gone wild: refuse rather than crawl. */
    static final int MAX_STACKS = 10_000;
    /** Deeper nesting than this is not followed (a token that would need it is rejected). */
    static final int MAX_DEPTH = 1_000;

    int[] tops;
    Frame[] rests;
    int size;
    boolean accepting;
    boolean bottom;
    private int[] table; // open addressing over indices + 1, used once the set is large
    private int hash;

    Stacks() {
        this(4);
    }

    Stacks(int capacity) {
        tops = new int[capacity];
        rests = new Frame[capacity];
    }

    void clear() {
        size = 0;
        accepting = false;
        bottom = false;
        if (table != null) Arrays.fill(table, 0);
        hash = 0;
    }

    boolean alive() {
        return size > 0 || accepting;
    }

    static int hash(int top, Frame rest) {
        int h = top * 0x9E3779B1 + Frame.hash(rest) * 31;
        return h ^ (h >>> 15);
    }

    /** Adds a stack unless it is already there. */
    void add(int top, Frame rest) {
        if (rest != null && rest.depth > MAX_DEPTH) return;
        int h = hash(top, rest);
        if (table == null) {
            for (int i = 0; i < size; i++) {
                if (tops[i] == top && Frame.same(rests[i], rest)) return;
            }
        } else {
            int mask = table.length - 1;
            for (int slot = h & mask; ; slot = (slot + 1) & mask) {
                int at = table[slot];
                if (at == 0) break;
                if (tops[at - 1] == top && Frame.same(rests[at - 1], rest)) return;
            }
        }
        if (size == tops.length) {
            if (size >= MAX_STACKS) throw new GrammarException("the grammar is too ambiguous: over " + MAX_STACKS + " parses of the same text");
            tops = Arrays.copyOf(tops, size * 2);
            rests = Arrays.copyOf(rests, size * 2);
        }
        tops[size] = top;
        rests[size] = rest;
        size++;
        hash += h; // order-independent
        if (table == null && size > 16) rebuildTable();
        else if (table != null) {
            if (size * 2 > table.length) rebuildTable();
            else insert(size - 1, h);
        }
    }

    private void rebuildTable() {
        int cap = Integer.highestOneBit(Math.max(64, size * 4) - 1) << 1;
        table = new int[cap];
        for (int i = 0; i < size; i++) insert(i, hash(tops[i], rests[i]));
    }

    private void insert(int i, int h) {
        int mask = table.length - 1;
        int slot = h & mask;
        while (table[slot] != 0) slot = (slot + 1) & mask;
        table[slot] = i + 1;
    }

    void addAll(Stacks o) {
        for (int i = 0; i < o.size; i++) add(o.tops[i], o.rests[i]);
        accepting |= o.accepting;
        bottom |= o.bottom;
    }

    /** An immutable copy (used as a matcher state and as a mask-cache key). */
    Stacks snapshot() {
        Stacks s = new Stacks(Math.max(1, size));
        System.arraycopy(tops, 0, s.tops, 0, size);
        System.arraycopy(rests, 0, s.rests, 0, size);
        s.size = size;
        s.accepting = accepting;
        s.bottom = bottom;
        s.hash = hash;
        return s;
    }

    @Override
    public int hashCode() {
        return hash * 2 + (accepting ? 1 : 0);
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof Stacks s) || s.size != size || s.accepting != accepting || s.hash != hash) return false;
        outer:
        for (int i = 0; i < size; i++) {
            for (int j = 0; j < size; j++) {
                if (tops[i] == s.tops[j] && Frame.same(rests[i], s.rests[j])) continue outer;
            }
            return false;
        }
        return true;
    }
}
