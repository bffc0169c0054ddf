package io.sluice.engine;

import org.junit.jupiter.api.Test;

import java.util.Random;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.*;

class KvCacheManagerTest {
    private static int[] seq(int from, int n) {
        return IntStream.range(from, from + n).toArray();
    }

    @Test
    void growAllocatesWholeBlocksAndRefusesBeyondThePool() {
        KvCacheManager m = new KvCacheManager(4, 16);
        BlockTable t = new BlockTable();
        assertTrue(m.grow(t, 17));
        assertEquals(2, t.size());
        assertEquals(2, m.freeBlocks());
        assertFalse(m.grow(t, 16 * 5), "5 blocks cannot come from a 4-block pool");
        assertEquals(2, t.size(), "a refused grow changes nothing");
        m.free(t);
        assertEquals(4, m.freeBlocks());
        assertEquals(0, m.usedBlocks());
        m.checkConsistency();
    }

    @Test
    void fullBlocksAreSharedByLaterSequencesWithTheSamePrefix() {
        KvCacheManager m = new KvCacheManager(8, 4);
        int[] a = seq(100, 10);              // 2 full blocks + 2 tokens
        BlockTable ta = new BlockTable();
        assertEquals(0, m.acquireCachedPrefix(ta, a, a.length));
        m.grow(ta, a.length);
        m.commit(ta, a, a.length);
        assertEquals(2, ta.committed(), "only full blocks are committed");

        int[] b = seq(100, 12);              // same first 10 tokens
        BlockTable tb = new BlockTable();
        assertEquals(8, m.acquireCachedPrefix(tb, b, b.length));
        assertEquals(ta.get(0), tb.get(0));
        assertEquals(ta.get(1), tb.get(1));
        assertEquals(2, m.refCount(ta.get(0)));
        m.grow(tb, b.length);
        assertNotEquals(ta.get(2), tb.get(2), "a partially filled block is never shared");

        int[] c = seq(100, 12);
        c[5] = 7;                             // differs in the second block
        BlockTable tc = new BlockTable();
        assertEquals(4, m.acquireCachedPrefix(tc, c, c.length));
        m.free(ta);
        m.free(tb);
        m.free(tc);
        assertEquals(0, m.usedBlocks());
        m.checkConsistency();
    }

    @Test
    void theLastTokenIsAlwaysLeftToCompute() {
        KvCacheManager m = new KvCacheManager(8, 4);
        int[] a = seq(1, 8);
        BlockTable ta = new BlockTable();
        m.grow(ta, 8);
        m.commit(ta, a, 8);
        BlockTable tb = new BlockTable();
        assertEquals(4, m.acquireCachedPrefix(tb, a, 8), "a fully cached prompt still computes its last block");
    }

    @Test
    void freedBlocksStayReusableUntilThePoolNeedsThemLeastRecentlyFreedFirst() {
        KvCacheManager m = new KvCacheManager(4, 2);
        int[] a = {1, 2, 3, 4, 9};
        int[] b = {5, 6, 7, 8, 9};
        BlockTable ta = new BlockTable(), tb = new BlockTable();
        m.grow(ta, 4);
        m.commit(ta, a, 4);
        m.free(ta);
        m.grow(tb, 4);
        m.commit(tb, b, 4);
        m.free(tb);
        assertEquals(4, m.cachedBlocks());
        assertEquals(4, m.freeBlocks(), "cached blocks still count as free");

        BlockTable x = new BlockTable();
        m.grow(x, 2);                          // evicts a's last block first (freed first, tail first)
        assertEquals(1, m.evictions());
        BlockTable again = new BlockTable();
        assertEquals(4, m.acquireCachedPrefix(again, b, 5), "the more recently freed prefix survives");
        BlockTable againA = new BlockTable();
        assertEquals(2, m.acquireCachedPrefix(againA, a, 5), "a keeps its head block, lost its tail");
        m.free(x);
        m.free(again);
        m.free(againA);
        m.checkConsistency();
        assertEquals(0, m.usedBlocks());
    }

    @Test
    void randomWorkloadKeepsTheAccountingConsistent() {
        KvCacheManager m = new KvCacheManager(32, 4);
        Random r = new Random(7);
        BlockTable[] tables = new BlockTable[10];
        int[][] toks = new int[10][];
        for (int i = 0; i < 5000; i++) {
            int k = r.nextInt(tables.length);
            if (tables[k] == null) {
                int len = 1 + r.nextInt(20);
                toks[k] = r.ints(len, 0, 3).toArray();   // tiny alphabet: many shared prefixes
                tables[k] = new BlockTable();
                int hit = m.acquireCachedPrefix(tables[k], toks[k], len);
                assertTrue(hit < len);
                if (!m.grow(tables[k], len)) {
                    m.free(tables[k]);
                    tables[k] = null;
                    continue;
                }
                m.commit(tables[k], toks[k], len);
            } else {
                m.free(tables[k]);
                tables[k] = null;
            }
            if (i % 97 == 0) m.checkConsistency();
        }
        for (BlockTable t : tables) if (t != null) m.free(t);
        m.checkConsistency();
        assertEquals(0, m.usedBlocks());
        for (int b = 0; b < 32; b++) assertEquals(0, m.refCount(b));
    }

    /** Group 0 full attention, group 1 a window of 6 positions, blocks of 4. */
    @Test
    void aSlidingWindowGroupGivesBackTheBlocksItsWindowLeft() {
        KvCacheManager m = new KvCacheManager(40, 4, new int[]{0, 6});
        int[] a = seq(100, 40);
        BlockTable t = new BlockTable();
        for (int next = 0; next < a.length; next++) {
            m.release(t, next);
            assertTrue(m.grow(t, next + 1));
            m.commit(t, a, next + 1);
            // The window of position next starts at next - 5: its block and those after it are held, none before.
            int first = Math.max(0, next - 5) / 4;
            for (int i = 0; i < t.size(); i++) assertEquals(i >= first, t.get(1, i) >= 0, "block " + i + " at position " + next);
            assertEquals(t.size(), t.held(0), "full attention keeps every block");
            assertTrue(t.held(1) <= 3, "a window of 6 spans at most 3 blocks of 4: " + t.held(1));
            assertEquals(t.held(0) + t.held(1), m.usedBlocks(), "given-back blocks are free again");
        }
        assertEquals(10 + 2, m.usedBlocks());
        assertEquals(10 + 3, m.blocksToHold(new BlockTable(), 40), "what a decoding sequence of 40 may hold: the window's widest span");
        m.free(t);
        assertEquals(0, m.usedBlocks());
        m.checkConsistency();
    }

    @Test
    void aPrefixIsSharedWhenEveryGroupStillHasWhatItNeeds() {
        KvCacheManager m = new KvCacheManager(40, 4, new int[]{0, 6});
        int[] a = seq(100, 30);
        BlockTable ta = new BlockTable();
        for (int next = 0; next < a.length; next++) {
            m.release(ta, next);
            m.grow(ta, next + 1);
            m.commit(ta, a, next + 1);
        }
        // b shares a's first 25 tokens: 6 full blocks. At position 24 the window needs blocks 4 and 5.
        int[] b = seq(100, 26);
        b[25] = 1;
        BlockTable tb = new BlockTable();
        assertEquals(24, m.acquireCachedPrefix(tb, b, b.length));
        for (int i = 0; i < 6; i++) assertEquals(ta.get(0, i), tb.get(0, i), "full-attention block " + i + " shared");
        for (int i = 0; i < 4; i++) assertEquals(-1, tb.get(1, i), "window block " + i + " not taken");
        // a gave its group-1 blocks 4 and 5 back long ago; they stayed findable.
        assertEquals(-1, ta.get(1, 4));
        assertTrue(tb.get(1, 4) >= 0 && tb.get(1, 5) >= 0);
        assertEquals(1, m.refCount(tb.get(1, 4)));
        m.free(ta);
        m.free(tb);
        m.checkConsistency();

        // Evicting the blocks the window left loses nothing; evicting those it needs loses the prefix.
        assertEquals(24, hitAfterEvicting(2, a, b), "the window's blocks 0 and 1 went: unneeded at 24");
        assertEquals(0, hitAfterEvicting(6, a, b), "window blocks 0-3 and 5 and full-attention block 5 went");
    }

    /** In a pool of exactly a's 24 positions (6 full-attention and 6 window blocks), evicts that many, then looks b up. */
    private static int hitAfterEvicting(int evict, int[] a, int[] b) {
        KvCacheManager m = new KvCacheManager(12, 4, new int[]{0, 6});
        BlockTable t = new BlockTable();
        for (int next = 0; next < 24; next++) {
            m.release(t, next);
            assertTrue(m.grow(t, next + 1));
            m.commit(t, a, next + 1);
        }
        m.free(t);
        assertEquals(12, m.cachedBlocks(), "every block findable");
        // Least recently freed first: the window's blocks 0-3 (given back on the way), then block 5 of each group.
        BlockTable filler = new BlockTable();
        assertTrue(m.grow(filler, 4 * evict / 2));
        assertEquals(evict, m.evictions());
        BlockTable tb = new BlockTable();
        int hit = m.acquireCachedPrefix(tb, b, b.length);
        m.free(tb);
        m.free(filler);
        m.checkConsistency();
        return hit;
    }
}
