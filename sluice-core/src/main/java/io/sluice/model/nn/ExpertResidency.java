package io.sluice.model.nn;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * How much of a model's expert weights stays in memory. Unlimited (the default), experts are
 * matrices like any other: repacked on first use, their copies kept. Under a limit (a memory
 * budget smaller than the file, LLM in a flash's case), experts are read straight from the file
 * mapping by the row kernels (never copied), and after each MoE layer the pages of the least
 * recently used experts beyond the limit are dropped from the process: they stay in the OS page
 * cache while the machine has room (touching them again maps them back without disk I/O) and are
 * read from disk otherwise. The experts routing actually uses stay resident; cold ones cost
 * nothing.
 */
public final class ExpertResidency {
    private final List<Moe> layers = new ArrayList<>();
    /** Per layer: the first expert id, and bytes of one expert (gate + up + down). */
    private int[] base = new int[0];
    private long[] expertBytes = new long[0];
    private int ids;
    private long totalBytes, activeBytes;
    private long limit = Long.MAX_VALUE;
    /** Least recently used order over resident expert ids: a doubly linked list with sentinel ids. */
    private int[] prev, next;
    private boolean[] resident;
    private volatile long residentBytes;

    /** Adds a layer's experts; returns the layer's index here. */
    int register(Moe m, long bytesPerExpert) {
        int layer = layers.size();
        layers.add(m);
        base = Arrays.copyOf(base, layer + 1);
        expertBytes = Arrays.copyOf(expertBytes, layer + 1);
        base[layer] = ids;
        expertBytes[layer] = bytesPerExpert;
        ids += m.routing().experts();
        totalBytes += bytesPerExpert * m.routing().experts();
        activeBytes += bytesPerExpert * m.routing().used();
        return layer;
    }

    /** Bytes of every expert of every layer. */
    public long expertBytes() {
        return totalBytes;
    }

    /** Bytes of the experts one token reads: experts used × one expert, summed over the layers. */
    public long activeBytes() {
        return activeBytes;
    }

    /** Bytes of experts held resident: all of them when unlimited, else those touched and not yet dropped. */
    public long residentBytes() {
        return limited() ? residentBytes : totalBytes;
    }

    public boolean limited() {
        return limit != Long.MAX_VALUE;
    }

    /**
     * Keeps at most about {@code bytes} of experts resident (at least {@link #activeBytes()}: one
     * token's experts must fit), from now on; {@code bytes} at or above {@link #expertBytes()}
     * changes nothing. Call before the forward passes that should obey it.
     */
    public void limit(long bytes) {
        if (bytes >= totalBytes || limited()) return;
        limit = Math.max(bytes, activeBytes);
        prev = new int[ids + 1];
        next = new int[ids + 1];
        resident = new boolean[ids];
        prev[ids] = next[ids] = ids; // the sentinel: an empty list
        for (Moe m : layers) m.streamExperts();
    }

    /**
     * After layer {@code layer} ran with its tokens grouped by expert (expert e's group is
     * start[e]..start[e+1]): its chosen experts become the most recently used, and the least
     * recently used ones beyond the limit lose their pages (never one this layer just used).
     */
    void touched(int layer, int[] start, int experts) {
        if (!limited()) return;
        long bytes = expertBytes[layer], r = residentBytes;
        int b = base[layer];
        for (int e = 0; e < experts; e++) {
            if (start[e + 1] == start[e]) continue;
            int id = b + e;
            if (resident[id]) unlink(id);
            else {
                resident[id] = true;
                r += bytes;
            }
            append(id);
        }
        while (r > limit) {
            int id = next[ids];
            int l = layerOf(id);
            if (l == layer && start[id - b + 1] > start[id - b]) break; // only this layer's experts are left
            unlink(id);
            resident[id] = false;
            r -= expertBytes[l];
            layers.get(l).release(id - base[l]);
        }
        residentBytes = r;
    }

    private int layerOf(int id) {
        int l = Arrays.binarySearch(base, id); // layers' first ids are distinct: every layer has experts
        return l >= 0 ? l : -l - 2;
    }

    private void unlink(int id) {
        next[prev[id]] = next[id];
        prev[next[id]] = prev[id];
    }

    private void append(int id) {
        int last = prev[ids];
        next[last] = id;
        prev[id] = last;
        next[id] = ids;
        prev[ids] = id;
    }
}
