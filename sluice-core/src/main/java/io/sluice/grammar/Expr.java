package io.sluice.grammar;

import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * The right-hand side of a grammar rule. Terminals are UTF-8 bytes ({@link Literal}) or sets of
 * code points ({@link CharClass}); {@link Token} matches one whole vocabulary token (GBNF's
 * {@code <[id]>}, {@code <text>}, {@code !<...>}).
 */
sealed interface Expr {

    /** A fixed byte string (a GBNF literal, UTF-8 encoded). */
    record Literal(byte[] bytes) implements Expr {
        static Literal of(String s) {
            return new Literal(s.getBytes(StandardCharsets.UTF_8));
        }
    }

    /**
     * A set of code points: sorted, disjoint, non-adjacent inclusive ranges {lo0, hi0, lo1, hi1...},
     * already complemented for a negated class and never containing surrogates.
     */
    record CharClass(int[] ranges) implements Expr {
        static final int MAX_CODE_POINT = 0x10FFFF;

        /** The class of the given inclusive ranges (any order, may overlap), complemented when negated. */
        static CharClass of(int[] pairs, boolean negated) {
            int n = pairs.length / 2;
            long[] packed = new long[n];
            for (int i = 0; i < n; i++) packed[i] = ((long) pairs[2 * i] << 32) | (pairs[2 * i + 1] & 0xFFFFFFFFL);
            java.util.Arrays.sort(packed);
            int[] merged = new int[2 * n];
            int m = 0;
            for (long p : packed) {
                int lo = (int) (p >>> 32), hi = (int) p;
                if (lo > hi) continue;
                if (m > 0 && lo <= merged[m - 1] + 1) {
                    merged[m - 1] = Math.max(merged[m - 1], hi);
                } else {
                    merged[m++] = lo;
                    merged[m++] = hi;
                }
            }
            int[] r = java.util.Arrays.copyOf(merged, m);
            if (negated) r = complement(r);
            return new CharClass(withoutSurrogates(r));
        }

        static int[] complement(int[] r) {
            int[] out = new int[r.length + 2];
            int m = 0, next = 0;
            for (int i = 0; i < r.length; i += 2) {
                if (r[i] > next) {
                    out[m++] = next;
                    out[m++] = r[i] - 1;
                }
                next = r[i + 1] + 1;
            }
            if (next <= MAX_CODE_POINT) {
                out[m++] = next;
                out[m++] = MAX_CODE_POINT;
            }
            return java.util.Arrays.copyOf(out, m);
        }

        /** UTF-8 cannot encode U+D800..U+DFFF, so no class contains them. */
        private static int[] withoutSurrogates(int[] r) {
            int[] out = new int[r.length + 2];
            int m = 0;
            for (int i = 0; i < r.length; i += 2) {
                int lo = r[i], hi = Math.min(r[i + 1], MAX_CODE_POINT);
                if (lo > MAX_CODE_POINT) continue;
                if (hi < 0xD800 || lo > 0xDFFF) {
                    out[m++] = lo;
                    out[m++] = hi;
                    continue;
                }
                if (lo < 0xD800) {
                    out[m++] = lo;
                    out[m++] = 0xD7FF;
                }
                if (hi > 0xDFFF) {
                    out[m++] = 0xE000;
                    out[m++] = hi;
                }
            }
            return java.util.Arrays.copyOf(out, m);
        }

        static CharClass any() {
            return of(new int[]{0, MAX_CODE_POINT}, false);
        }
    }

    /** A reference to another rule. */
    record Ref(String name) implements Expr {
    }

    record Seq(List<Expr> items) implements Expr {
    }

    record Alt(List<Expr> options) implements Expr {
    }

    /** item repeated min..max times; max -1 is unbounded. */
    record Repeat(Expr item, int min, int max) implements Expr {
    }

    /**
     * One whole token: by id ({@code text} null) or by its text, resolved against the vocabulary when
     * the grammar is compiled. negated matches every text token except that one.
     */
    record Token(int id, String text, boolean negated) implements Expr {
    }

    Expr EMPTY = new Seq(List.of());
}
