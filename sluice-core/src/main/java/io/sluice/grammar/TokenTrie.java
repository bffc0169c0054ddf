package io.sluice.grammar;

import java.util.Arrays;

/**
 * A byte trie over token strings, stored in preorder so a walk is one loop over arrays: node i has
 * the byte {@code label[i]} at depth {@code depth[i]} (1 = first byte), its subtree is
 * {@code i .. skip[i]-1}, and the tokens whose bytes end exactly at it are
 * {@code ids[first[i] .. first[i+1]-1]}. A mask computation walks it with the grammar state of each
 * prefix and jumps over a whole subtree as soon as a prefix is rejected.
 */
final class TokenTrie {
    final int size;
    final byte[] label;
    final int[] depth;
    final int[] skip;
    final int[] first;
    final int[] ids;
    final int maxDepth;

    private TokenTrie(int size, byte[] label, int[] depth, int[] skip, int[] first, int[] ids, int maxDepth) {
        this.size = size;
        this.label = label;
        this.depth = depth;
        this.skip = skip;
        this.first = first;
        this.ids = ids;
        this.maxDepth = maxDepth;
    }

    /** A trie of keys[i] (non-empty) labelled with values[i]; equal keys share a node. */
    static TokenTrie build(byte[][] keys, int[] values) {
        long total = 0;
        int maxDepth = 0;
        for (byte[] k : keys) {
            if (k.length == 0) throw new IllegalArgumentException("empty trie key");
            total += k.length;
            maxDepth = Math.max(maxDepth, k.length);
        }
        Builder b = new Builder(keys, values, (int) Math.min(Integer.MAX_VALUE - 8, total), maxDepth);
        int[] all = new int[keys.length];
        for (int i = 0; i < all.length; i++) all[i] = i;
        b.children(all, 0, all.length, 0);
        int n = b.nodes;
        b.first[n] = b.nIds;
        return new TokenTrie(n, Arrays.copyOf(b.label, n), Arrays.copyOf(b.depth, n), Arrays.copyOf(b.skip, n),
                Arrays.copyOf(b.first, n + 1), b.ids, maxDepth);
    }

    /**
     * Most-significant-byte radix construction: the keys of one node are bucketed by their next
     * byte, and each bucket in byte order becomes a child; that order is the preorder. Linear in the
     * total key length, with no comparisons (a comparator sort of 150k keys costs seconds cold).
     */
    private static final class Builder {
        final byte[][] keys;
        final int[] values;
        final byte[] label;
        final int[] depth, skip, first, ids;
        final int[][] counts;
        final int[] scratch;
        int nodes, nIds;

        Builder(byte[][] keys, int[] values, int cap, int maxDepth) {
            this.keys = keys;
            this.values = values;
            label = new byte[cap];
            depth = new int[cap];
            skip = new int[cap];
            first = new int[cap + 1];
            ids = new int[keys.length];
            counts = new int[maxDepth + 1][];
            scratch = new int[keys.length];
        }

        /** Creates the children of the node whose keys (all longer than d) are idx[lo..hi), at depth d. */
        void children(int[] idx, int lo, int hi, int d) {
            if (hi - lo <= 24) {
                // Few keys (most nodes): an insertion sort on the byte beats clearing 257 counters.
                for (int i = lo + 1; i < hi; i++) {
                    int x = idx[i], xb = keys[x][d] & 0xFF, j = i - 1;
                    while (j >= lo && (keys[idx[j]][d] & 0xFF) > xb) {
                        idx[j + 1] = idx[j];
                        j--;
                    }
                    idx[j + 1] = x;
                }
                int start = lo;
                while (start < hi) {
                    int b = keys[idx[start]][d] & 0xFF, end = start + 1;
                    while (end < hi && (keys[idx[end]][d] & 0xFF) == b) end++;
                    node(idx, start, end, d + 1, (byte) b);
                    start = end;
                }
                return;
            }
            int[] count = counts[d] == null ? (counts[d] = new int[257]) : counts[d];
            Arrays.fill(count, 0);
            for (int i = lo; i < hi; i++) count[(keys[idx[i]][d] & 0xFF) + 1]++;
            for (int c = 1; c <= 256; c++) count[c] += count[c - 1];
            for (int i = lo; i < hi; i++) scratch[lo + count[keys[idx[i]][d] & 0xFF]++] = idx[i];
            System.arraycopy(scratch, lo, idx, lo, hi - lo);
            // count[c] is now the end of bucket c (relative to lo).
            int start = lo;
            for (int c = 0; c < 256; c++) {
                int end = lo + count[c];
                if (end > start) node(idx, start, end, d + 1, (byte) c);
                start = end;
            }
        }

        private void node(int[] idx, int lo, int hi, int d, byte b) {
            int me = nodes++;
            label[me] = b;
            depth[me] = d;
            first[me] = nIds;
            // Keys ending here first (moved to the front), then the children of the longer ones.
            int mid = lo;
            for (int i = lo; i < hi; i++) {
                if (keys[idx[i]].length == d) {
                    int t = idx[mid];
                    idx[mid] = idx[i];
                    idx[i] = t;
                    mid++;
                }
            }
            for (int i = lo; i < mid; i++) ids[nIds++] = values[idx[i]];
            if (mid < hi) children(idx, mid, hi, d);
            skip[me] = nodes;
        }
    }
}
