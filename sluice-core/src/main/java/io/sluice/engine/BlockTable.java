package io.sluice.engine;

import java.util.Arrays;

/**
 * The KV blocks of one sequence, in position order: position p lives in block
 * {@code get(p / blockSize)}. The first {@link #committed()} blocks are full, computed, and
 * known to the prefix cache by their chain hash. Owned by a {@link KvCacheManager}, which is the
 * only one that changes it.
 */
public final class BlockTable {
    int[] blocks = new int[8];
    long[] hashes = new long[8];
    int size;
    int committed;

    public int size() {
        return size;
    }

    public int get(int i) {
        if (i >= size) throw new IndexOutOfBoundsException(i + " of " + size);
        return blocks[i];
    }

    /** Full blocks whose hash is known (shared or shareable). */
    public int committed() {
        return committed;
    }

    /** The backing array for {@link io.sluice.model.Batch#addSequence} (may be longer than size). */
    public int[] array() {
        return blocks;
    }

    void add(int block, long hash) {
        if (size == blocks.length) {
            blocks = Arrays.copyOf(blocks, size * 2);
            hashes = Arrays.copyOf(hashes, size * 2);
        }
        blocks[size] = block;
        hashes[size++] = hash;
    }

    void clear() {
        size = 0;
        committed = 0;
    }

    @Override
    public String toString() {
        return Arrays.toString(Arrays.copyOf(blocks, size));
    }
}
