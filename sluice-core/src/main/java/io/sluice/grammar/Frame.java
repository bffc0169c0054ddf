package io.sluice.grammar;

/**
 * One suspended rule below the top of a parse stack: the node its automaton returns to, and the
 * frames below it. Immutable and shared between stacks; equality is structural.
 */
final class Frame {
    /** Marks the bottom of a stack in a context-free walk (see {@link TokenGrammar}): returning into it means "the context decides". */
    static final Frame BOTTOM = new Frame(-1, null);

    final int node;
    final Frame parent;
    final int hash;
    final int depth;

    Frame(int node, Frame parent) {
        this.node = node;
        this.parent = parent;
        this.hash = parent == null ? node : parent.hash * 31 + node;
        this.depth = parent == null ? 1 : parent.depth + 1;
    }

    static int hash(Frame f) {
        return f == null ? 0 : f.hash;
    }

    static boolean same(Frame a, Frame b) {
        while (a != b) {
            if (a == null || b == null || a.hash != b.hash || a.node != b.node) return false;
            a = a.parent;
            b = b.parent;
        }
        return true;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Frame f && same(this, f);
    }

    @Override
    public int hashCode() {
        return hash;
    }
}
