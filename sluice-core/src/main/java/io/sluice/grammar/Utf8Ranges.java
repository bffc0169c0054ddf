package io.sluice.grammar;

import java.util.ArrayList;
import java.util.List;

/**
 * Turns a code point range into the UTF-8 byte-range sequences that encode exactly its code points
 * (the construction regex engines use for byte automata): [U+0080, U+07FF] is the one sequence
 * [C2-DF][80-BF], while [U+0000, U+10FFFF] needs seven. A sequence is int[2k]: lo0, hi0, lo1, hi1...
 */
final class Utf8Ranges {
    private Utf8Ranges() {
    }

    private static final int[] MAX_OF_LENGTH = {0x7F, 0x7FF, 0xFFFF, 0x10FFFF};

    static List<int[]> of(int lo, int hi) {
        List<int[]> out = new ArrayList<>();
        split(lo, hi, out);
        return out;
    }

    private static void split(int lo, int hi, List<int[]> out) {
        if (lo > hi) return;
        // Both ends must encode to the same number of bytes.
        for (int i = 0; i < MAX_OF_LENGTH.length - 1; i++) {
            int max = MAX_OF_LENGTH[i];
            if (lo <= max && hi > max) {
                split(lo, max, out);
                split(max + 1, hi, out);
                return;
            }
        }
        if (hi <= 0x7F) {
            out.add(new int[]{lo, hi});
            return;
        }
        // Split until every continuation position spans its full 80-BF range or lo and hi agree above it.
        for (int i = 1; i < 4; i++) {
            int m = (1 << (6 * i)) - 1;
            if ((lo & ~m) != (hi & ~m)) {
                if ((lo & m) != 0) {
                    split(lo, lo | m, out);
                    split((lo | m) + 1, hi, out);
                    return;
                }
                if ((hi & m) != m) {
                    split(lo, (hi & ~m) - 1, out);
                    split(hi & ~m, hi, out);
                    return;
                }
            }
        }
        byte[] a = encode(lo), b = encode(hi);
        int[] seq = new int[a.length * 2];
        for (int i = 0; i < a.length; i++) {
            seq[2 * i] = a[i] & 0xFF;
            seq[2 * i + 1] = b[i] & 0xFF;
        }
        out.add(seq);
    }

    static byte[] encode(int cp) {
        if (cp < 0x80) return new byte[]{(byte) cp};
        if (cp < 0x800) return new byte[]{(byte) (0xC0 | cp >> 6), (byte) (0x80 | cp & 0x3F)};
        if (cp < 0x10000) return new byte[]{(byte) (0xE0 | cp >> 12), (byte) (0x80 | cp >> 6 & 0x3F), (byte) (0x80 | cp & 0x3F)};
        return new byte[]{(byte) (0xF0 | cp >> 18), (byte) (0x80 | cp >> 12 & 0x3F), (byte) (0x80 | cp >> 6 & 0x3F), (byte) (0x80 | cp & 0x3F)};
    }
}
