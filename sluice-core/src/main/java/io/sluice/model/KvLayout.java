package io.sluice.model;

import io.sluice.gguf.GGMLType;

import java.util.List;

/**
 * What a model keeps in the KV cache, layer by layer: how many KV heads of what size, and how far
 * back its attention looks. This is all the engine knows of an architecture's attention: the
 * {@link KvStore} is laid out from it and the memory plan sizes blocks by it.
 *
 * @param layers one entry per transformer layer, in order
 */
public record KvLayout(List<Layer> layers) {

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

    public KvLayout {
        layers = List.copyOf(layers);
        if (layers.isEmpty()) throw new IllegalArgumentException("a model has at least one layer");
    }

    /** Every layer alike, full attention (the common decoder). */
    public static KvLayout uniform(int nLayers, int kvHeads, int headDim) {
        return new KvLayout(java.util.Collections.nCopies(nLayers, new Layer(kvHeads, headDim, 0)));
    }

    public int size() {
        return layers.size();
    }

    public Layer layer(int l) {
        return layers.get(l);
    }

    /** K and V of one token position, every layer. */
    public long bytesPerToken(GGMLType type) {
        long sum = 0;
        for (Layer l : layers) sum += 2 * l.rowBytes(type);
        return sum;
    }

    /** The first head size that the cache type cannot store in whole blocks, or 0 when all fit. */
    public int headDimNotMultipleOf(int blockSize) {
        for (Layer l : layers) if (l.headDim() % blockSize != 0) return l.headDim();
        return 0;
    }
}
