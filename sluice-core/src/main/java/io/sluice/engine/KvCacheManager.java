package io.sluice.engine;

import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.Map;

/**
 * Who owns which block of the KV pool (the pool itself is a {@link io.sluice.model.KvStore}):
 * per-sequence {@link BlockTable}s, reference-counted blocks, and a prefix cache.
 *
 * <p>Prefix caching: a FULL block is identified by the hash of its parent block's hash and its
 * own token ids, so equal hashes mean equal whole prefixes. A new sequence takes every leading
 * block that any sequence has already computed ({@link #acquireCachedPrefix}). Blocks a sequence
 * no longer needs keep their contents and stay findable until the pool needs them back; then the
 * least recently freed one is evicted. Partially filled blocks are never shared, so nobody ever
 * writes into a block someone else reads.
 *
 * <p>Not thread-safe: the engine thread owns it.
 */
public final class KvCacheManager {
    private static final long ROOT_HASH = 0x5EED_0F_B10C5L;

    private final int numBlocks;
    private final int blockSize;
    private final int[] refCount;
    /** Hash a block is registered under in {@link #cached}, or 0 with hashed[b] false. */
    private final long[] blockHash;
    private final boolean[] hashed;
    /** Tokens and parent hash of each registered block, to rule out hash collisions. */
    private final int[][] blockTokens;
    private final long[] parentHash;
    private final Map<Long, Integer> cached = new HashMap<>();
    /** Free blocks without reusable content. */
    private final ArrayDeque<Integer> freeEmpty = new ArrayDeque<>();
    /** Free blocks whose content is still findable, least recently freed first. */
    private final LinkedHashSet<Integer> freeCached = new LinkedHashSet<>();
    private long evictions;

    public KvCacheManager(int numBlocks, int blockSize) {
        if (numBlocks <= 0 || blockSize <= 0) throw new IllegalArgumentException("KV pool needs at least one block of at least one token");
        this.numBlocks = numBlocks;
        this.blockSize = blockSize;
        this.refCount = new int[numBlocks];
        this.blockHash = new long[numBlocks];
        this.hashed = new boolean[numBlocks];
        this.blockTokens = new int[numBlocks][];
        this.parentHash = new long[numBlocks];
        for (int b = 0; b < numBlocks; b++) freeEmpty.add(b);
    }

    public int numBlocks() { return numBlocks; }
    public int blockSize() { return blockSize; }

    /** Blocks that can be handed out now (empty ones plus evictable cached ones). */
    public int freeBlocks() { return freeEmpty.size() + freeCached.size(); }

    /** Blocks some sequence holds. */
    public int usedBlocks() { return numBlocks - freeBlocks(); }

    /** Free blocks that still hold a findable prefix. */
    public int cachedBlocks() { return freeCached.size(); }

    public int refCount(int block) { return refCount[block]; }

    public long evictions() { return evictions; }

    /** Blocks needed to hold positions 0..tokens-1. */
    public int blocksFor(int tokens) {
        return (tokens + blockSize - 1) / blockSize;
    }

    /**
     * For an empty table: appends every leading full block of tokens[0..length) that is cached,
     * and returns how many tokens they cover. At most length-1 tokens are taken, so the caller
     * always computes at least the last token (it needs its logits).
     */
    public int acquireCachedPrefix(BlockTable table, int[] tokens, int length) {
        if (table.size != 0) throw new IllegalStateException("prefix lookup needs an empty block table");
        int fullBlocks = (length - 1) / blockSize;
        long parent = ROOT_HASH;
        for (int i = 0; i < fullBlocks; i++) {
            long h = hash(parent, tokens, i * blockSize);
            Integer b = cached.get(h);
            if (b == null || !sameContent(b, parent, tokens, i * blockSize)) break;
            if (refCount[b]++ == 0) freeCached.remove(b);
            table.add(b, h);
            table.committed++;
            parent = h;
        }
        return table.size * blockSize;
    }

    /** Whether growing table to hold `tokens` positions needs no more blocks than are free. */
    public boolean canGrow(BlockTable table, int tokens) {
        return blocksFor(tokens) - table.size <= freeBlocks();
    }

    /** Appends fresh blocks until the table holds `tokens` positions; false (and no change) when the pool is short. */
    public boolean grow(BlockTable table, int tokens) {
        int need = blocksFor(tokens) - table.size;
        if (need <= 0) return true;
        if (need > freeBlocks()) return false;
        for (int i = 0; i < need; i++) table.add(takeFree(), 0);
        return true;
    }

    private int takeFree() {
        Integer b = freeEmpty.poll();
        if (b == null) {
            // Evict the least recently freed cached block: its prefix is forgotten.
            Iterator<Integer> it = freeCached.iterator();
            b = it.next();
            it.remove();
            cached.remove(blockHash[b]);
            hashed[b] = false;
            blockTokens[b] = null;
            evictions++;
        }
        refCount[b] = 1;
        return b;
    }

    /**
     * Registers the blocks that became full now that positions 0..computed-1 of tokens are in the
     * cache, so later sequences can share them.
     */
    public void commit(BlockTable table, int[] tokens, int computed) {
        int full = Math.min(computed / blockSize, table.size);
        while (table.committed < full) {
            int i = table.committed;
            long parent = i == 0 ? ROOT_HASH : table.hashes[i - 1];
            long h = hash(parent, tokens, i * blockSize);
            table.hashes[i] = h;
            int b = table.blocks[i];
            // If an equal block is already registered (computed twice concurrently), keep that one.
            if (!hashed[b] && !cached.containsKey(h)) {
                cached.put(h, b);
                blockHash[b] = h;
                hashed[b] = true;
                parentHash[b] = parent;
                blockTokens[b] = Arrays.copyOfRange(tokens, i * blockSize, (i + 1) * blockSize);
            }
            table.committed++;
        }
    }

    /** Drops a sequence's claim on its blocks (last block first, so the prefix's head is evicted last). */
    public void free(BlockTable table) {
        for (int i = table.size - 1; i >= 0; i--) {
            int b = table.blocks[i];
            if (refCount[b] <= 0) throw new IllegalStateException("block " + b + " freed twice");
            if (--refCount[b] == 0) {
                if (hashed[b]) freeCached.add(b);
                else freeEmpty.add(b);
            }
        }
        table.clear();
    }

    private boolean sameContent(int b, long parent, int[] tokens, int from) {
        return hashed[b] && parentHash[b] == parent
                && Arrays.equals(blockTokens[b], 0, blockSize, tokens, from, from + blockSize);
    }

    private long hash(long parent, int[] tokens, int from) {
        long h = parent * 0x9E3779B97F4A7C15L + 0x632BE59BD9B4E019L;
        for (int i = from; i < from + blockSize; i++) {
            h = (h ^ tokens[i]) * 0xFF51AFD7ED558CCDL;
            h ^= h >>> 29;
        }
        h ^= h >>> 32;
        return h == 0 ? 1 : h;
    }

    /** Checks the invariants (tests): every block is either held or in exactly one free list. */
    void checkConsistency() {
        int free = 0;
        for (int b = 0; b < numBlocks; b++) {
            boolean inEmpty = freeEmpty.contains(b), inCached = freeCached.contains(b);
            if (refCount[b] < 0) throw new IllegalStateException("block " + b + " has refcount " + refCount[b]);
            if (refCount[b] == 0 && inEmpty == inCached) throw new IllegalStateException("free block " + b + " in " + (inEmpty ? "both" : "no") + " free list");
            if (refCount[b] > 0 && (inEmpty || inCached)) throw new IllegalStateException("held block " + b + " is on a free list");
            if (inCached && !hashed[b]) throw new IllegalStateException("cached block " + b + " has no hash");
            if (refCount[b] == 0) free++;
        }
        if (free != freeBlocks()) throw new IllegalStateException("free count mismatch");
        for (Map.Entry<Long, Integer> e : cached.entrySet()) {
            if (!hashed[e.getValue()] || blockHash[e.getValue()] != e.getKey()) throw new IllegalStateException("stale hash entry");
        }
    }
}
