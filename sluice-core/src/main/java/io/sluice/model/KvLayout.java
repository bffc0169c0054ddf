package io.sluice.model;

import io.sluice.gguf.GGMLType;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a model keeps in the KV cache, layer by layer: how many KV heads of what size, and how far
 * back its attention looks. This is all the engine knows of an architecture's attention: the
 * {@link KvStore} is laid out from it and the memory plan sizes blocks by it.
 *
 * <p>Layers come in {@linkplain #groups() groups}, each of layers with one window (vLLM's hybrid KV
 * cache manager): a sequence has one block table per group, so a sliding-window group gives back
 * the blocks its window has left while the full-attention groups keep theirs. A block of the
 * shared pool holds {@code blockSize} positions of one group's layers, one layer per
 * {@linkplain #slotsPerBlock() slot}; every group has at most that many layers, so any block can
 * serve any group. A model without windows has one group of all its layers: a block is then
 * {@code blockSize} positions of every layer, as in plain PagedAttention.
 */
public final class KvLayout {

    /**
     * One layer's cache.
     *
     * @param kvHeads KV heads (K and V each hold kvHeads × headDim values per position)
     * @param headDim values per head
     * @param window  sliding window: a query at position i sees keys at i-window &lt; j ≤ i; 0 = all of 0..i
     */
    public record Layer(int kvHeads, int headDim, int window) {
        public Layer {
            if (kvHeads <= 0 || headDim <= 0 || window < 0) {
                throw new IllegalArgumentException("bad KV layer: " + kvHeads + " heads of " + headDim + ", window " + window);
            }
        }

        /** Bytes of one position's K (or V) in the cache type; each head is encoded on its own. */
        public long rowBytes(GGMLType type) {
            return kvHeads * type.byteSize(headDim);
        }
    }

    /** Layers sharing a block table, all with this window (0 = full attention); {@code layers[j]} lives in slot j. */
    public record Group(int window, int[] layers) {
    }

    private final List<Layer> layers;
    private final List<Group> groups;
    private final int[] groupOf, slotOf;
    /** Per slot: the most KV heads and the widest head of the layers that use it. */
    private final int[] slotHeads, slotHeadDim;

    public KvLayout(List<Layer> layers) {
        this.layers = List.copyOf(layers);
        if (this.layers.isEmpty()) throw new IllegalArgumentException("a model has at least one layer");
        // Layers by window, full attention first, each class in layer order.
        Map<Integer, List<Integer>> byWindow = new LinkedHashMap<>();
        for (int pass = 0; pass < 2; pass++) {
            for (int l = 0; l < this.layers.size(); l++) {
                int w = this.layers.get(l).window();
                if ((w == 0) == (pass == 0)) byWindow.computeIfAbsent(w, x -> new ArrayList<>()).add(l);
            }
        }
        int slots = slotsPerBlock(byWindow.values().stream().mapToInt(List::size).toArray());
        List<Group> gs = new ArrayList<>();
        groupOf = new int[this.layers.size()];
        slotOf = new int[this.layers.size()];
        slotHeads = new int[slots];
        slotHeadDim = new int[slots];
        byWindow.forEach((w, ls) -> {
            for (int i = 0; i < ls.size(); i += slots) {
                int[] members = ls.subList(i, Math.min(ls.size(), i + slots)).stream().mapToInt(Integer::intValue).toArray();
                for (int j = 0; j < members.length; j++) {
                    Layer L = this.layers.get(members[j]);
                    groupOf[members[j]] = gs.size();
                    slotOf[members[j]] = j;
                    slotHeads[j] = Math.max(slotHeads[j], L.kvHeads());
                    slotHeadDim[j] = Math.max(slotHeadDim[j], L.headDim());
                }
                gs.add(new Group(w, members));
            }
        });
        this.groups = Collections.unmodifiableList(gs);
    }

    /**
     * Layers per block: the largest count, at most the smallest window class, whose rounding up of
     * every class to whole groups pads at most a tenth of the slots (all layers for a model without
     * windows; Gemma 3 1B's 4 global and 22 local layers: 4, so 7 groups; Gemma 2's 13 and 13: 13).
     */
    private static int slotsPerBlock(int[] classSizes) {
        int min = Integer.MAX_VALUE, total = 0;
        for (int n : classSizes) {
            min = Math.min(min, n);
            total += n;
        }
        for (int p = min; p > 1; p--) {
            long padded = 0;
            for (int n : classSizes) padded += (long) (n + p - 1) / p * p;
            if ((padded - total) * 10 <= padded) return p;
        }
        return 1;
    }

    /** Every layer alike, full attention (the common decoder). */
    public static KvLayout uniform(int nLayers, int kvHeads, int headDim) {
        return new KvLayout(Collections.nCopies(nLayers, new Layer(kvHeads, headDim, 0)));
    }

    public List<Layer> layers() {
        return layers;
    }

    public int size() {
        return layers.size();
    }

    public Layer layer(int l) {
        return layers.get(l);
    }

    public List<Group> groups() {
        return groups;
    }

    /** The group whose block table holds this layer's positions. */
    public int groupOf(int layer) {
        return groupOf[layer];
    }

    /** The slot of a block this layer's positions take. */
    public int slotOf(int layer) {
        return slotOf[layer];
    }

    /** Layers one block holds (the largest group's). */
    public int slotsPerBlock() {
        return slotHeads.length;
    }

    /** KV heads of slot s: the most of any layer in it. */
    public int slotHeads(int s) {
        return slotHeads[s];
    }

    /** Head size of slot s: the widest of any layer in it. */
    public int slotHeadDim(int s) {
        return slotHeadDim[s];
    }

    /** The groups' windows, in group order (0 = full attention). */
    public int[] windows() {
        return groups.stream().mapToInt(Group::window).toArray();
    }

    /** K and V of one token position, every layer. */
    public long bytesPerToken(GGMLType type) {
        long sum = 0;
        for (Layer l : layers) sum += 2 * l.rowBytes(type);
        return sum;
    }

    /** K and V of one position in one block, every slot (a group's layers, padded to the slots' widths). */
    public long blockBytesPerPosition(GGMLType type) {
        long sum = 0;
        for (int s = 0; s < slotHeads.length; s++) sum += 2L * slotHeads[s] * type.byteSize(slotHeadDim[s]);
        return sum;
    }

    /** Blocks a group with this window holds once a decoding sequence has passed it: the window's span, one more when unaligned. */
    public static long windowBlocks(int window, int blockSize) {
        return (window - 1L + blockSize - 1) / blockSize + 1;
    }

    /**
     * Pool blocks one decoding sequence of {@code tokens} positions holds: every block of the
     * full-attention groups, at most a window's span in each sliding-window group.
     */
    public long blocksToHold(long tokens, int blockSize) {
        long blocks = (tokens + blockSize - 1) / blockSize, sum = 0;
        for (Group g : groups) sum += g.window() == 0 ? blocks : Math.min(blocks, windowBlocks(g.window(), blockSize));
        return sum;
    }

    /** The longest sequence whose blocks fit a pool of {@code poolBlocks} (Long.MAX_VALUE when every group has a window and they fit). */
    public long maxTokens(long poolBlocks, int blockSize) {
        if (groups.stream().allMatch(g -> g.window() > 0) && blocksToHold(Long.MAX_VALUE / 4, blockSize) <= poolBlocks) return Long.MAX_VALUE;
        long lo = 0, hi = poolBlocks * blockSize; // a block of positions takes at least one pool block
        while (lo < hi) {
            long mid = (lo + hi + 1) / 2;
            if (blocksToHold(mid, blockSize) <= poolBlocks) lo = mid;
            else hi = mid - 1;
        }
        return lo;
    }

    /**
     * For one sequence outside the engine (tools, tests): a table per group over its own run of
     * pool blocks, group g's at g·blocks .. (g+1)·blocks - 1, so a store of
     * {@code groups().size() * blocks} blocks holds {@code blocks * blockSize} positions.
     */
    public int[][] contiguousTables(int blocks) {
        int[][] t = new int[groups.size()][blocks];
        for (int g = 0; g < t.length; g++) for (int i = 0; i < blocks; i++) t[g][i] = g * blocks + i;
        return t;
    }

    /** The first head size that the cache type cannot store in whole blocks, or 0 when all fit. */
    public int headDimNotMultipleOf(int blockSize) {
        for (Layer l : layers) if (l.headDim() % blockSize != 0) return l.headDim();
        return 0;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof KvLayout k && k.layers.equals(layers);
    }

    @Override
    public int hashCode() {
        return layers.hashCode();
    }

    @Override
    public String toString() {
        return "KvLayout" + layers;
    }
}
