package io.sluice.engine;

import java.util.Arrays;

/**
 * The KV blocks of one sequence, one row per {@linkplain io.sluice.model.KvLayout#groups() group of
 * layers}: position p lives, for group g's layers, in pool block {@code get(g, p / blockSize)}, or
 * nowhere (-1) once a sliding-window group has given that block back. The first
 * {@link #committed()} blocks of positions are full, computed, and known to the prefix cache by
 * their chain hash. Owned by a {@link KvCacheManager}, which is the only one that changes it.
 */
public final class BlockTable {
    /** [group][i] -> pool block of positions i·blockSize.., -1 when not held; rows may be longer than size. */
    int[][] blocks = new int[0][];
    long[] hashes = new long[8];
    int size;
    int committed;

    /** One row per group (the manager calls this before it uses the table). */
    void init(int groups) {
        if (blocks.length == groups) return;
        if (size != 0) throw new IllegalStateException("block table in use by a pool of another layout");
        blocks = new int[groups][8];
    }

    /** Blocks of positions covered: 0 .. size·blockSize - 1. */
    public int size() {
        return size;
    }

    /** Group 0's block i (a model without sliding windows has only that group). */
    public int get(int i) {
        return get(0, i);
    }

    public int get(int group, int i) {
        if (i >= size) throw new IndexOutOfBoundsException(i + " of " + size);
        return blocks[group][i];
    }

    /** Pool blocks this table holds in group g (those not given back). */
    public int held(int group) {
        int n = 0;
        for (int i = 0; i < size; i++) if (blocks[group][i] >= 0) n++;
        return n;
    }

    /** Full blocks whose hash is known (shared or shareable). */
    public int committed() {
        return committed;
    }

    /** The backing arrays for {@link io.sluice.model.Batch#addSequence}, one per group (may be longer than size). */
    public int[][] arrays() {
        return blocks;
    }

    /** Appends one block of positions: its pool block in each group (-1 where not held). */
    void add(int[] perGroup, long hash) {
        if (size == hashes.length) hashes = Arrays.copyOf(hashes, size * 2);
        for (int g = 0; g < blocks.length; g++) {
            if (size == blocks[g].length) blocks[g] = Arrays.copyOf(blocks[g], size * 2);
            blocks[g][size] = perGroup[g];
        }
        hashes[size++] = hash;
    }

    void clear() {
        size = 0;
        committed = 0;
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder();
        for (int[] row : blocks) sb.append(Arrays.toString(Arrays.copyOf(row, size)));
        return sb.toString();
    }
}
