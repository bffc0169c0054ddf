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
 * <p>Layout: for each layer one segment for K and one for V, each {@code numBlocks × blockSize}
 * rows of {@code nKvHeads × headDim} values in the cache type (F32, F16 or Q8_0). A row of one
 * KV head is encoded on its own so a head can be read without its neighbours.
 */
public final class KvStore implements AutoCloseable {
    private final Arena arena = Arena.ofShared();
    private final int numBlocks;
    private final int blockSize;
    private final int nLayers;
    private final int nKvHeads;
    private final int headDim;
    private final GGMLType type;
    private final Format format;
    private final long headBytes;
    private final long rowBytes;
    private final MemorySegment[] keys;
    private final MemorySegment[] values;

    public KvStore(ModelConfig cfg, int numBlocks, int blockSize, GGMLType type) {
        if (type != GGMLType.F32 && type != GGMLType.F16 && type != GGMLType.Q8_0) {
            throw new IllegalArgumentException("KV cache type must be f32, f16 or q8_0, not " + type);
        }
        if (cfg.headDim() % type.blockSize != 0) {
            throw new IllegalArgumentException("head size " + cfg.headDim() + " is not a multiple of " + type + "'s block size");
        }
        if (numBlocks <= 0 || blockSize <= 0) throw new IllegalArgumentException("KV cache needs at least one block of at least one token");
        this.numBlocks = numBlocks;
        this.blockSize = blockSize;
        this.nLayers = cfg.nLayers();
        this.nKvHeads = cfg.nKvHeads();
        this.headDim = cfg.headDim();
        this.type = type;
        this.format = Formats.of(type);
        this.headBytes = type.byteSize(headDim);
        this.rowBytes = headBytes * nKvHeads;
        long layerBytes = rowBytes * blockSize * numBlocks;
        this.keys = new MemorySegment[nLayers];
        this.values = new MemorySegment[nLayers];
        for (int l = 0; l < nLayers; l++) {
            keys[l] = arena.allocate(layerBytes, 64);
            values[l] = arena.allocate(layerBytes, 64);
        }
    }

    /** Bytes one block takes across all layers, K and V. */
    public static long bytesPerBlock(ModelConfig cfg, int blockSize, GGMLType type) {
        return 2L * cfg.nLayers() * blockSize * cfg.nKvHeads() * type.byteSize(cfg.headDim());
    }

    public int numBlocks() { return numBlocks; }
    public int blockSize() { return blockSize; }
    public GGMLType type() { return type; }
    public int headDim() { return headDim; }
    public long byteSize() { return bytesPerBlock(numBlocks, blockSize); }

    private long bytesPerBlock(int blocks, int bs) {
        return 2L * nLayers * bs * rowBytes * blocks;
    }

    private long offset(int block, int slot, int head) {
        return ((long) block * blockSize + slot) * rowBytes + head * headBytes;
    }

    /** Stores one position's K and V (all KV heads: kvDim floats each). */
    public void write(int layer, int block, int slot, float[] k, int kOff, float[] v, int vOff) {
        for (int h = 0; h < nKvHeads; h++) {
            long at = offset(block, slot, h);
            format.quantize(k, kOff + h * headDim, headDim, keys[layer], at);
            format.quantize(v, vOff + h * headDim, headDim, values[layer], at);
        }
    }

    /** q · K[position] for one KV head. */
    public float dotKey(int layer, int block, int slot, int head, float[] q, int qOff) {
        return format.dot(keys[layer], offset(block, slot, head), q, qOff, headDim);
    }

    /** Decodes K[position] of one head into dst (headDim floats). */
    public void readKey(int layer, int block, int slot, int head, float[] dst, int dstOff) {
        format.dequantize(keys[layer], offset(block, slot, head), dst, dstOff, headDim);
    }

    /** Decodes V[position] of one head into dst (headDim floats). */
    public void readValue(int layer, int block, int slot, int head, float[] dst, int dstOff) {
        format.dequantize(values[layer], offset(block, slot, head), dst, dstOff, headDim);
    }

    /** Decodes K of one head at slots [slot, slot+count) of a block into dst, headDim floats per position. */
    public void readKeys(int layer, int block, int slot, int count, int head, float[] dst, int dstOff) {
        for (int i = 0; i < count; i++) format.dequantize(keys[layer], offset(block, slot + i, head), dst, dstOff + i * headDim, headDim);
    }

    /** Decodes V of one head at slots [slot, slot+count) of a block into dst, headDim floats per position. */
    public void readValues(int layer, int block, int slot, int count, int head, float[] dst, int dstOff) {
        for (int i = 0; i < count; i++) format.dequantize(values[layer], offset(block, slot + i, head), dst, dstOff + i * headDim, headDim);
    }

    /** Raw segments, for kernels that stream a whole block. */
    public MemorySegment keySegment(int layer) { return keys[layer]; }
    public MemorySegment valueSegment(int layer) { return values[layer]; }
    public long byteOffset(int block, int slot, int head) { return offset(block, slot, head); }

    /** Copies every layer's K and V of block src into block dst (copy-on-write of a shared block). */
    public void copyBlock(int src, int dst) {
        long bytes = rowBytes * blockSize;
        for (int l = 0; l < nLayers; l++) {
            MemorySegment.copy(keys[l], (long) src * bytes, keys[l], (long) dst * bytes, bytes);
            MemorySegment.copy(values[l], (long) src * bytes, values[l], (long) dst * bytes, bytes);
        }
    }

    @Override
    public void close() {
        arena.close();
    }
}
