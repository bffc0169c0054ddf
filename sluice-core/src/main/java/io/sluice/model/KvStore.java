package io.sluice.model;

import io.sluice.gguf.GGMLType;
import io.sluice.tensor.Format;
import io.sluice.tensor.Formats;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Off-heap storage for the keys and values of every layer, in fixed-size blocks of
 * {@code blockSize} token positions (PagedAttention). Which block belongs to which sequence is
 * the engine's business (block tables); this class only stores and reads vectors.
 *
 * <p>Layout, from the model's {@link KvLayout}: for each layer one segment for K and one for V,
 * each {@code numBlocks × blockSize} rows of that layer's {@code kvHeads × headDim} values in the
 * cache type (F32, F16 or Q8_0). A row of one KV head is encoded on its own so a head can be read
 * without its neighbours.
 */
public final class KvStore implements AutoCloseable {
    private final Arena arena = Arena.ofShared();
    private final KvLayout layout;
    private final int numBlocks;
    private final int blockSize;
    private final GGMLType type;
    private final Format format;
    private final int[] headDim;
    private final int[] kvHeads;
    private final long[] headBytes;
    private final long[] rowBytes;
    private final MemorySegment[] keys;
    private final MemorySegment[] values;

    public KvStore(KvLayout layout, int numBlocks, int blockSize, GGMLType type) {
        if (type != GGMLType.F32 && type != GGMLType.F16 && type != GGMLType.Q8_0) {
            throw new IllegalArgumentException("KV cache type must be f32, f16 or q8_0, not " + type);
        }
        int bad = layout.headDimNotMultipleOf(type.blockSize);
        if (bad != 0) throw new IllegalArgumentException("head size " + bad + " is not a multiple of " + type + "'s block size");
        if (numBlocks <= 0 || blockSize <= 0) throw new IllegalArgumentException("KV cache needs at least one block of at least one token");
        this.layout = layout;
        this.numBlocks = numBlocks;
        this.blockSize = blockSize;
        this.type = type;
        this.format = Formats.of(type);
        int n = layout.size();
        this.headDim = new int[n];
        this.kvHeads = new int[n];
        this.headBytes = new long[n];
        this.rowBytes = new long[n];
        this.keys = new MemorySegment[n];
        this.values = new MemorySegment[n];
        for (int l = 0; l < n; l++) {
            KvLayout.Layer L = layout.layer(l);
            headDim[l] = L.headDim();
            kvHeads[l] = L.kvHeads();
            headBytes[l] = type.byteSize(L.headDim());
            rowBytes[l] = L.rowBytes(type);
            long layerBytes = rowBytes[l] * blockSize * numBlocks;
            keys[l] = arena.allocate(layerBytes, 64);
            values[l] = arena.allocate(layerBytes, 64);
        }
    }

    /** Bytes one block takes across all layers, K and V. */
    public static long bytesPerBlock(KvLayout layout, int blockSize, GGMLType type) {
        return blockSize * layout.bytesPerToken(type);
    }

    public KvLayout layout() { return layout; }
    public int numBlocks() { return numBlocks; }
    public int blockSize() { return blockSize; }
    public GGMLType type() { return type; }
    public long byteSize() { return bytesPerBlock(layout, blockSize, type) * numBlocks; }

    private long offset(int layer, int block, int slot, int head) {
        return ((long) block * blockSize + slot) * rowBytes[layer] + head * headBytes[layer];
    }

    /** Stores one position's K and V (all the layer's KV heads: kvHeads × headDim floats each). */
    public void write(int layer, int block, int slot, float[] k, int kOff, float[] v, int vOff) {
        int d = headDim[layer];
        for (int h = 0; h < kvHeads[layer]; h++) {
            long at = offset(layer, block, slot, h);
            format.quantize(k, kOff + h * d, d, keys[layer], at);
            format.quantize(v, vOff + h * d, d, values[layer], at);
        }
    }

    /** Decodes K[position] of one head into dst (headDim floats). */
    public void readKey(int layer, int block, int slot, int head, float[] dst, int dstOff) {
        format.dequantize(keys[layer], offset(layer, block, slot, head), dst, dstOff, headDim[layer]);
    }

    /** Decodes K of one head at slots [slot, slot+count) of a block into dst, headDim floats per position. */
    public void readKeys(int layer, int block, int slot, int count, int head, float[] dst, int dstOff) {
        int d = headDim[layer];
        for (int i = 0; i < count; i++) format.dequantize(keys[layer], offset(layer, block, slot + i, head), dst, dstOff + i * d, d);
    }

    /** Decodes V of one head at slots [slot, slot+count) of a block into dst, headDim floats per position. */
    public void readValues(int layer, int block, int slot, int count, int head, float[] dst, int dstOff) {
        int d = headDim[layer];
        for (int i = 0; i < count; i++) format.dequantize(values[layer], offset(layer, block, slot + i, head), dst, dstOff + i * d, d);
    }

    @Override
    public void close() {
        arena.close();
    }
}
