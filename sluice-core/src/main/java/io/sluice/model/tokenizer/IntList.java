package io.sluice.model.tokenizer;

import java.util.Arrays;

/** A growable int array, so token output does not box every id. */
final class IntList {
    private int[] a = new int[16];
    private int n;

    void add(int v) {
        if (n == a.length) a = Arrays.copyOf(a, a.length * 2);
        a[n++] = v;
    }

    void addAll(int[] v) {
        for (int x : v) add(x);
    }

    int size() {
        return n;
    }

    int get(int i) {
        return a[i];
    }

    void truncate(int size) {
        n = size;
    }

    int[] toArray() {
        return Arrays.copyOf(a, n);
    }
}
