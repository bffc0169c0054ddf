package io.sluice.model;

import io.sluice.gguf.GGMLType;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class KvLayoutTest {
    /** n layers of one KV head of 256, layer l global when global[l]. */
    private static KvLayout layout(int n, int window, java.util.function.IntPredicate global) {
        List<KvLayout.Layer> layers = new ArrayList<>();
        for (int l = 0; l < n; l++) layers.add(new KvLayout.Layer(1, 256, global.test(l) ? 0 : window));
        return new KvLayout(layers);
    }

    @Test
    void withoutWindowsOneGroupHoldsEveryLayer() {
        KvLayout k = KvLayout.uniform(28, 8, 128);
        assertEquals(1, k.groups().size());
        assertEquals(28, k.slotsPerBlock());
        assertEquals(k.bytesPerToken(GGMLType.F16), k.blockBytesPerPosition(GGMLType.F16), "no padding");
        assertEquals(2048, k.blocksToHold(32768, 16));
        assertEquals(16 * 100, k.maxTokens(100, 16));
    }

    /** Gemma 3 1B: 26 layers, every 6th global, window 512. */
    @Test
    void gemma3OneBHasBlocksOfFourLayersAndHoldsAFifthOfTheFullCache() {
        KvLayout k = layout(26, 512, l -> l % 6 == 5);
        assertEquals(4, k.slotsPerBlock());
        assertEquals(7, k.groups().size(), "one global group, six local ones (the last of 2 layers)");
        assertEquals(0, k.groups().getFirst().window());
        assertArrayEquals(new int[]{5, 11, 17, 23}, k.groups().getFirst().layers());
        assertArrayEquals(new int[]{24, 25}, k.groups().getLast().layers());
        for (int l = 0; l < 26; l++) assertEquals(l, k.groups().get(k.groupOf(l)).layers()[k.slotOf(l)]);
        // A window of 512 spans at most 33 blocks of 16.
        assertEquals(33, KvLayout.windowBlocks(512, 16));
        long blocks = k.blocksToHold(32768, 16);
        assertEquals(2048 + 6 * 33, blocks);
        long bytes = blocks * KvStore.bytesPerBlock(k, 16, GGMLType.F16);
        long full = 32768L * k.bytesPerToken(GGMLType.F16);
        assertEquals(4492, bytes / 32768, "bytes per token at 32k");
        assertTrue(bytes * 5 < full, bytes + " vs " + full);
        assertEquals(32768, k.maxTokens(blocks, 16), "the longest sequence the pool holds");
    }

    @Test
    void aWindowOnEveryLayerBoundsTheSequenceOnlyByTheWindow() {
        KvLayout k = layout(8, 64, l -> false);
        assertEquals(1, k.groups().size());
        assertEquals(5, k.blocksToHold(1 << 20, 16), "64 positions span at most 5 blocks of 16");
        assertEquals(Long.MAX_VALUE, k.maxTokens(5, 16));
        assertEquals(64, k.maxTokens(4, 16), "4 blocks hold 64 positions before the window is reached");
    }

    @Test
    void contiguousTablesGiveEachGroupItsOwnBlocks() {
        KvLayout k = layout(2, 8, l -> l == 1);
        int[][] t = k.contiguousTables(3);
        assertEquals(2, t.length);
        assertArrayEquals(new int[]{0, 1, 2}, t[0]);
        assertArrayEquals(new int[]{3, 4, 5}, t[1]);
        assertTrue(Arrays.stream(k.windows()).anyMatch(w -> w == 8));
    }
}
