package io.sluice.engine;

import io.sluice.model.KvLayout;

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
 * <p>Groups (vLLM's hybrid KV cache manager): the model's layers come in groups, each with one
 * window ({@link KvLayout#groups()}; a model without sliding windows has one group). A pool block
 * holds blockSize positions of one group's layers, and any block can serve any group. A sequence
 * has a table per group: full-attention groups hold every block of the sequence, a sliding-window
 * group only the blocks its window still reaches - once the next position to compute is p, blocks
 * wholly before p - window + 1 go back to the pool ({@link #release}), so a long sequence holds a
 * window's worth of blocks in such a group.
 *
 * <p>Prefix caching: a FULL block of positions is identified by the hash of its parent's hash and
 * its own token ids, so equal hashes mean equal whole prefixes; each group's block of it is
 * registered under that hash and the group. A new sequence takes the longest cached prefix of
 * which every full-attention group has all blocks and every sliding-window group the blocks its
 * window needs ({@link #acquireCachedPrefix}). Blocks no sequence holds keep their contents and
 * stay findable until the pool needs them back; then the least recently freed one is evicted.
 * Partially filled blocks are never shared, so nobody ever writes into a block someone else reads.
 *
 * <p>Not thread-safe: the engine thread owns it.
 */
public final class KvCacheManager {
    private static final long ROOT_HASH = 0x5EED_0F_B10C5L;

    private final int numBlocks;
    private final int blockSize;
    /** Per group: its sliding window, 0 for full attention. */
    private final int[] windows;
    private final int[] refCount;
    /** Key (hash and group) a block is registered under in {@link #cached}, when hashed[b]. */
    private final long[] blockKey;
    private final boolean[] hashed;
    /** Group, parent hash and tokens of each registered block, to rule out hash collisions. */
    private final int[] blockGroup;
    private final long[] parentHash;
    private final int[][] blockTokens;
    private final Map<Long, Integer> cached = new HashMap<>();
    /** Free blocks without reusable content. */
    private final ArrayDeque<Integer> freeEmpty = new ArrayDeque<>();
    /** Free blocks whose content is still findable, least recently freed first. */
    private final LinkedHashSet<Integer> freeCached = new LinkedHashSet<>();
    private long evictions;

    /** A pool for a model without sliding windows: one group. */
    public KvCacheManager(int numBlocks, int blockSize) {
        this(numBlocks, blockSize, new int[]{0});
    }

    /** A pool shared by groups with these windows (0 = full attention): {@link KvLayout#windows()}. */
    public KvCacheManager(int numBlocks, int blockSize, int[] windows) {
        if (numBlocks <= 0 || blockSize <= 0) throw new IllegalArgumentException("KV pool needs at least one block of at least one token");
        if (windows.length == 0) throw new IllegalArgumentException("a KV pool serves at least one group of layers");
        this.numBlocks = numBlocks;
        this.blockSize = blockSize;
        this.windows = windows.clone();
        this.refCount = new int[numBlocks];
        this.blockKey = new long[numBlocks];
        this.hashed = new boolean[numBlocks];
        this.blockGroup = new int[numBlocks];
        this.parentHash = new long[numBlocks];
        this.blockTokens = new int[numBlocks][];
        for (int b = 0; b < numBlocks; b++) freeEmpty.add(b);
    }

    public int numBlocks() { return numBlocks; }
    public int blockSize() { return blockSize; }
    public int groups() { return windows.length; }

    /** Blocks that can be handed out now (empty ones plus evictable cached ones). */
    public int freeBlocks() { return freeEmpty.size() + freeCached.size(); }

    /** Blocks some sequence holds. */
    public int usedBlocks() { return numBlocks - freeBlocks(); }

    /** Free blocks that still hold a findable prefix. */
    public int cachedBlocks() { return freeCached.size(); }

    public int refCount(int block) { return refCount[block]; }

    public long evictions() { return evictions; }

    /** Blocks of positions needed to hold positions 0..tokens-1. */
    public int blocksFor(int tokens) {
        return (tokens + blockSize - 1) / blockSize;
    }

    /** The first block of positions group g needs once the next position to compute is {@code next}. */
    private int firstNeeded(int g, int next) {
        return windows[g] == 0 ? 0 : Math.max(0, next - windows[g] + 1) / blockSize;
    }

    /**
     * For an empty table: takes the longest cached prefix of whole blocks of tokens[0..length)
     * (each group the blocks it needs of it) and returns how many tokens it covers. At most
     * length-1 tokens are taken, so the caller always computes at least the last token (it needs
     * its logits).
     */
    public int acquireCachedPrefix(BlockTable table, int[] tokens, int length) {
        table.init(windows.length);
        if (table.size != 0) throw new IllegalStateException("prefix lookup needs an empty block table");
        int full = (length - 1) / blockSize;
        long[] h = new long[full];
        long parent = ROOT_HASH;
        for (int i = 0; i < full; i++) h[i] = parent = hash(parent, tokens, i * blockSize);
        // Full-attention groups need every block: the hit is at most their common cached run.
        int k = full;
        for (int g = 0; g < windows.length; g++) {
            if (windows[g] != 0) continue;
            int run = 0;
            while (run < k && lookup(g, h, run, tokens) >= 0) run++;
            k = run;
        }
        // Sliding-window groups need the blocks that the window of position k·blockSize reaches.
        for (; k > 0; k--) {
            boolean all = true;
            for (int g = 0; g < windows.length && all; g++) {
                if (windows[g] == 0) continue;
                for (int i = firstNeeded(g, k * blockSize); i < k && all; i++) all = lookup(g, h, i, tokens) >= 0;
            }
            if (all) break;
        }
        int[] taken = new int[windows.length];
        for (int i = 0; i < k; i++) {
            for (int g = 0; g < windows.length; g++) {
                taken[g] = i >= firstNeeded(g, k * blockSize) ? lookup(g, h, i, tokens) : -1;
                if (taken[g] >= 0 && refCount[taken[g]]++ == 0) freeCached.remove(taken[g]);
            }
            table.add(taken, h[i]);
            table.committed++;
        }
        return k * blockSize;
    }

    /** The block registered for block i of these tokens in group g, or -1. */
    private int lookup(int g, long[] h, int i, int[] tokens) {
        Integer b = cached.get(key(h[i], g));
        return b != null && sameContent(b, g, i == 0 ? ROOT_HASH : h[i - 1], tokens, i * blockSize) ? b : -1;
    }

    /**
     * Gives back the blocks no query from position {@code next} on can see: in each sliding-window
     * group, those wholly before next - window + 1. They stay findable by the prefix cache.
     */
    public void release(BlockTable table, int next) {
        table.init(windows.length);
        for (int g = 0; g < windows.length; g++) {
            if (windows[g] == 0) continue;
            int[] row = table.blocks[g];
            for (int i = Math.min(firstNeeded(g, next), table.size) - 1; i >= 0 && row[i] >= 0; i--) {
                unref(row[i]);
                row[i] = -1;
            }
        }
    }

    /**
     * Positions the table could cover if every free block but {@code reserved} went to it: each
     * new block of positions takes a block in every group.
     */
    public long reach(BlockTable table, int reserved) {
        return ((long) table.size + Math.max(0, freeBlocks() - reserved) / windows.length) * blockSize;
    }

    /**
     * Pool blocks the table still needs to hold positions 0..tokens-1 while decoding: every
     * missing block in the full-attention groups, up to a window's span in sliding-window groups.
     */
    public int blocksToHold(BlockTable table, int tokens) {
        table.init(windows.length);
        long blocks = blocksFor(tokens), need = 0;
        for (int g = 0; g < windows.length; g++) {
            long target = windows[g] == 0 ? blocks : Math.min(blocks, KvLayout.windowBlocks(windows[g], blockSize));
            need += Math.max(0, target - table.held(g));
        }
        return (int) Math.min(Integer.MAX_VALUE, need);
    }

    /** Appends fresh blocks until the table covers `tokens` positions; false (and no change) when the pool is short. */
    public boolean grow(BlockTable table, int tokens) {
        table.init(windows.length);
        int need = blocksFor(tokens) - table.size;
        if (need <= 0) return true;
        if ((long) need * windows.length > freeBlocks()) return false;
        int[] fresh = new int[windows.length];
        for (int i = 0; i < need; i++) {
            for (int g = 0; g < windows.length; g++) fresh[g] = takeFree();
            table.add(fresh, 0);
        }
        return true;
    }

    private int takeFree() {
        Integer b = freeEmpty.poll();
        if (b == null) {
            // Evict the least recently freed cached block: its prefix is forgotten.
            Iterator<Integer> it = freeCached.iterator();
            b = it.next();
            it.remove();
            cached.remove(blockKey[b]);
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
            for (int g = 0; g < windows.length; g++) {
                int b = table.blocks[g][i];
                long key = key(h, g);
                // If an equal block is already registered (computed twice concurrently), keep that one.
                if (b < 0 || hashed[b] || cached.containsKey(key)) continue;
                cached.put(key, b);
                blockKey[b] = key;
                hashed[b] = true;
                blockGroup[b] = g;
                parentHash[b] = parent;
                blockTokens[b] = Arrays.copyOfRange(tokens, i * blockSize, (i + 1) * blockSize);
            }
            table.committed++;
        }
    }

    /**
     * Gives back the blocks beyond those holding positions 0..tokens-1 (speculative decoding's
     * refused guesses). They were never committed, so no prefix-cache entry points at them.
     */
    public void truncate(BlockTable table, int tokens) {
        int keep = blocksFor(tokens);
        if (keep < table.committed) throw new IllegalStateException("cannot truncate below the committed blocks (" + keep + " < " + table.committed + ")");
        for (int i = table.size - 1; i >= keep; i--) {
            for (int[] row : table.blocks) {
                int b = row[i];
                if (b < 0) continue;
                if (refCount[b] != 1 || hashed[b]) throw new IllegalStateException("block " + b + " beyond the kept positions is shared or cached");
                unref(b);
            }
        }
        table.size = Math.min(table.size, keep);
    }

    /** Drops a sequence's claim on its blocks (last block first, so the prefix's head is evicted last). */
    public void free(BlockTable table) {
        for (int i = table.size - 1; i >= 0; i--) {
            for (int[] row : table.blocks) if (row[i] >= 0) unref(row[i]);
        }
        table.clear();
    }

    private void unref(int b) {
        if (refCount[b] <= 0) throw new IllegalStateException("block " + b + " freed twice");
        if (--refCount[b] == 0) {
            if (hashed[b]) freeCached.add(b);
            else freeEmpty.add(b);
        }
    }

    private boolean sameContent(int b, int g, long parent, int[] tokens, int from) {
        return hashed[b] && blockGroup[b] == g && parentHash[b] == parent
                && Arrays.equals(blockTokens[b], 0, blockSize, tokens, from, from + blockSize);
    }

    /** A group's key for a block hash (group 0's is the hash itself). */
    private static long key(long hash, int group) {
        if (group == 0) return hash;
        long k = (hash + group) * 0x9E3779B97F4A7C15L;
        return k ^ (k >>> 31);
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
            if (!hashed[e.getValue()] || blockKey[e.getValue()] != e.getKey()) throw new IllegalStateException("stale hash entry");
        }
    }
}
