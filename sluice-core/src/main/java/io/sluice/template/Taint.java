package io.sluice.template;

import java.util.Arrays;

/**
 * Which characters of a string came from untrusted data (a chat request's messages, tools, documents,
 * kwargs) rather than from the template: sorted, disjoint, non-adjacent {@code [start, end)} char ranges,
 * as {@code int[]{s0, e0, s1, e1, ...}}; {@code null} means none (wholly trusted). Arrays are never mutated
 * once built. The caller tokenizes untrusted characters without special-token parsing, so text a user typed
 * (say {@code <|im_end|>}) never becomes a control token.
 */
final class Taint {
    private Taint() {
    }

    /** Every character of a string of {@code len} chars untrusted. */
    static int[] full(int len) {
        return len == 0 ? null : new int[]{0, len};
    }

    /** The ranges of {@code t} within {@code [from, to)}, shifted to start at 0. */
    static int[] sub(int[] t, int from, int to) {
        if (t == null || from >= to) return null;
        if (t.length == 2 && t[0] <= from && t[1] >= to) return new int[]{0, to - from};
        int[] out = new int[t.length];
        int n = 0;
        for (int i = 0; i < t.length; i += 2) {
            int s = Math.max(t[i], from), e = Math.min(t[i + 1], to);
            if (s < e) {
                out[n++] = s - from;
                out[n++] = e - from;
            }
        }
        return n == 0 ? null : Arrays.copyOf(out, n);
    }

    /** Whether any char in {@code [from, to)} is untrusted. */
    static boolean any(int[] t, int from, int to) {
        if (t == null) return false;
        for (int i = 0; i < t.length; i += 2) if (t[i] < to && t[i + 1] > from) return true;
        return false;
    }

    /** Whether char {@code i} is untrusted. */
    static boolean at(int[] t, int i) {
        return any(t, i, i + 1);
    }

    /** A string with its taint, built by appending. */
    static final class Buf {
        final StringBuilder sb;
        private int[] r = null;
        private int n;

        Buf() {
            this(new StringBuilder());
        }

        Buf(StringBuilder sb) {
            this.sb = sb;
        }

        int length() {
            return sb.length();
        }

        Buf append(String s, int[] t) {
            int base = sb.length();
            sb.append(s);
            if (t != null) for (int i = 0; i < t.length; i += 2) mark(base + t[i], base + t[i + 1]);
            return this;
        }

        Buf append(Value.Str s) {
            return append(s.value(), s.taint());
        }

        Buf appendTrusted(String s) {
            sb.append(s);
            return this;
        }

        Buf append(String s, boolean untrusted) {
            int base = sb.length();
            sb.append(s);
            if (untrusted) mark(base, sb.length());
            return this;
        }

        /** The char at {@code i} of {@code s}, keeping its taint. */
        Buf appendChar(String s, int[] t, int i) {
            sb.append(s.charAt(i));
            if (at(t, i)) mark(sb.length() - 1, sb.length());
            return this;
        }

        private void mark(int s, int e) {
            if (s >= e) return;
            if (r == null) r = new int[8];
            if (n > 0 && r[n - 1] >= s) {
                r[n - 1] = Math.max(r[n - 1], e);
                return;
            }
            if (n == r.length) r = Arrays.copyOf(r, n * 2);
            r[n++] = s;
            r[n++] = e;
        }

        int[] taint() {
            return n == 0 ? null : Arrays.copyOf(r, n);
        }

        Value.Str toStr() {
            return Value.Str.of(sb.toString(), taint());
        }

        Value.Str toMarkup() {
            return Value.Str.markupOf(sb.toString(), taint());
        }
    }
}
