package io.sluice.model;

import io.sluice.gguf.GGMLType;
import io.sluice.tensor.Format;
import io.sluice.tensor.Formats;
import io.sluice.tensor.ZeroPages;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Off-heap storage for the keys and values of every layer, in fixed-size blocks of
 * {@code blockSize} token positions (PagedAttention). Which block belongs to which sequence is
 * the engine's business (block tables); this class only stores and reads vectors.
 *
 * <p>Layout, from the model's {@link KvLayout}, chosen for the attention kernels
 * (src/main/c/attention.c): a block holds one {@linkplain KvLayout#groups() group} of layers, each
 * layer in its {@linkplain KvLayout#slotOf slot}; for each slot one segment for K and one for V; in
 * each, per KV head, one tile per block holding the block's positions contiguously, {@link #slots()}
 * of them (the block size rounded up to 16, so that 16 positions are one SIMD vector). A slot's
 * tiles are as wide as its widest layer's (all alike in the models that have groups), so the
 * block of one group can later serve another. Within a tile:
 * <ul>
 * <li>K, f32/f16: transposed, {@code [dim][slot]} - the 16 positions of one dimension are adjacent,
 *     and scores of 16 positions are computed at once;</li>
 * <li>K, q8_0/q4_0/iq4_nl: the fp16 scales {@code [dim/32][slot]}, then the quants in 64-byte
 *     chunks of 16 positions x 4 bytes (the weights' x16 interleaving, positions as rows): q8_0
 *     chunk (b, k &lt; 8) holds values 32b+4k..+3 of each position, stored +128; q4_0/iq4_nl chunk
 *     (b, k &lt; 4) holds the block's quant bytes 4k..4k+3 (values 32b+4k+n low, 32b+16+4k+n high
 *     nibble);</li>
 * <li>V: {@code [slot][dim]}, each position one row in the type's ggml format.</li>
 * </ul>
 * Each head is encoded on its own, so a head is read without its neighbours.
 */
public final class KvStore implements AutoCloseable {
    /** Positions of one SIMD vector of scores: a tile holds whole multiples of it. */
    public static final int LANES = 16;

    private final Arena arena = Arena.ofShared();
    private final KvLayout layout;
    private final int numBlocks;
    private final int blockSize;
    private final int slots;
    private final GGMLType type;
    private final Format format;
    private final int[] headDim;
    private final int[] kvHeads;
    /** Per layer, its slot; per slot, the bytes of one tile. */
    private final int[] slotOf;
    private final long[] tileBytes;
    private final MemorySegment[] keys;
    private final MemorySegment[] values;
    /** Per thread, one row in the type's ggml format: the q8_0/q4_0/iq4_nl K tiles are encoded and decoded through it. */
    private final ThreadLocal<MemorySegment> rows;

    public KvStore(KvLayout layout, int numBlocks, int blockSize, GGMLType type) {
        if (!supports(type)) {
            throw new IllegalArgumentException("KV cache type must be f32, f16, q8_0, q4_0 or iq4_nl, not " + type);
        }
        int bad = layout.headDimNotMultipleOf(type.blockSize);
        if (bad != 0) throw new IllegalArgumentException("head size " + bad + " is not a multiple of " + type + "'s block size");
        if (numBlocks <= 0 || blockSize <= 0) throw new IllegalArgumentException("KV cache needs at least one block of at least one token");
        this.layout = layout;
        this.numBlocks = numBlocks;
        this.blockSize = blockSize;
        this.slots = slots(blockSize);
        this.type = type;
        this.format = Formats.of(type);
        int n = layout.size();
        this.headDim = new int[n];
        this.kvHeads = new int[n];
        this.slotOf = new int[n];
        int sn = layout.slotsPerBlock();
        this.tileBytes = new long[sn];
        this.keys = new MemorySegment[sn];
        this.values = new MemorySegment[sn];
        int widest = 32;
        for (int l = 0; l < n; l++) {
            KvLayout.Layer L = layout.layer(l);
            headDim[l] = L.headDim();
            kvHeads[l] = L.kvHeads();
            slotOf[l] = layout.slotOf(l);
            widest = Math.max(widest, L.headDim());
        }
        for (int s = 0; s < sn; s++) {
            tileBytes[s] = slots * type.byteSize(layout.slotHeadDim(s));
            long slotBytes = tileBytes[s] * layout.slotHeads(s) * numBlocks;
            // Pages come from the OS on first write: a large pool costs nothing until requests fill it.
            keys[s] = ZeroPages.allocate(arena, slotBytes);
            values[s] = ZeroPages.allocate(arena, slotBytes);
        }
        long rowBytes = type.byteSize(widest);
        this.rows = ThreadLocal.withInitial(() -> MemorySegment.ofArray(new byte[(int) rowBytes]));
    }

    /** The KV cache types: f32, f16, q8_0, q4_0, iq4_nl. */
    public static boolean supports(GGMLType type) {
        return type == GGMLType.F32 || type == GGMLType.F16 || type == GGMLType.Q8_0 || type == GGMLType.Q4_0
                || (type == GGMLType.IQ4_NL && Formats.supports(type));
    }

    /** Positions a tile holds for this block size: rounded up to whole SIMD vectors. */
    public static int slots(int blockSize) {
        return (blockSize + LANES - 1) / LANES * LANES;
    }

    /** Bytes one block takes, K and V of every slot (its tiles, with their padding positions). */
    public static long bytesPerBlock(KvLayout layout, int blockSize, GGMLType type) {
        return slots(blockSize) * layout.blockBytesPerPosition(type);
    }

    public KvLayout layout() { return layout; }
    public int numBlocks() { return numBlocks; }
    public int blockSize() { return blockSize; }
    /** Positions per tile (see the class comment). */
    public int slots() { return slots; }
    public GGMLType type() { return type; }
    public long byteSize() { return bytesPerBlock(layout, blockSize, type) * numBlocks; }

    /** The layer's K of one KV head: tile of block b at {@code b * tileBytes(layer)}. */
    public MemorySegment keys(int layer, int head) {
        long tile = tileBytes(layer);
        return keys[slotOf[layer]].asSlice(head * numBlocks * tile, numBlocks * tile);
    }

    /** The layer's V of one KV head, tiles as in {@link #keys}. */
    public MemorySegment values(int layer, int head) {
        long tile = tileBytes(layer);
        return values[slotOf[layer]].asSlice(head * numBlocks * tile, numBlocks * tile);
    }

    /** Bytes of one tile (one block of one head, K or V) in this layer's slot: the stride between blocks. */
    public long tileBytes(int layer) {
        return tileBytes[slotOf[layer]];
    }

    /** The group whose block table holds this layer's positions ({@link KvLayout#groupOf}). */
    public int groupOf(int layer) {
        return layout.groupOf(layer);
    }

    private long tile(int layer, int block, int head) {
        if (block < 0 || block >= numBlocks) throw new IndexOutOfBoundsException("KV block " + block + " of " + numBlocks);
        return (head * (long) numBlocks + block) * tileBytes(layer);
    }

    /** Stores one position's K and V (all the layer's KV heads: kvHeads × headDim floats each). */
    public void write(int layer, int block, int slot, float[] k, int kOff, float[] v, int vOff) {
        if (slot < 0 || slot >= blockSize) throw new IndexOutOfBoundsException("slot " + slot + " of a " + blockSize + "-position block");
        int d = headDim[layer];
        long vRow = type.byteSize(d);
        for (int h = 0; h < kvHeads[layer]; h++) {
            long at = tile(layer, block, h);
            writeKey(keys[slotOf[layer]], at, slot, d, k, kOff + h * d);
            format.quantize(v, vOff + h * d, d, values[slotOf[layer]], at + slot * vRow);
        }
    }

    private void writeKey(MemorySegment seg, long tile, int slot, int d, float[] k, int off) {
        switch (type) {
            case F32 -> {
                for (int i = 0; i < d; i++) seg.set(ValueLayout.JAVA_FLOAT_UNALIGNED, tile + 4L * ((long) i * slots + slot), k[off + i]);
            }
            case F16 -> {
                for (int i = 0; i < d; i++) seg.set(ValueLayout.JAVA_SHORT_UNALIGNED, tile + 2L * ((long) i * slots + slot), Float.floatToFloat16(k[off + i]));
            }
            default -> {
                // Quantized as a ggml row (the format's own rounding), then scattered into the tile.
                MemorySegment row = rows.get();
                format.quantize(k, off, d, row, 0);
                int nb = d / 32, bb = type.typeSize, chunks = type == GGMLType.Q8_0 ? 8 : 4;
                long quants = tile + 2L * nb * slots;
                byte flip = (byte) (type == GGMLType.Q8_0 ? 0x80 : 0);
                for (int b = 0; b < nb; b++) {
                    long src = (long) b * bb;
                    seg.set(ValueLayout.JAVA_SHORT_UNALIGNED, tile + 2L * ((long) b * slots + slot), row.get(ValueLayout.JAVA_SHORT_UNALIGNED, src));
                    for (int c = 0; c < chunks; c++) {
                        long dst = quants + 4L * ((long) (b * chunks + c) * slots + slot);
                        for (int j = 0; j < 4; j++) seg.set(ValueLayout.JAVA_BYTE, dst + j, (byte) (row.get(ValueLayout.JAVA_BYTE, src + 2 + 4 * c + j) ^ flip));
                    }
                }
            }
        }
    }

    /** Decodes K[position] of one head into dst (headDim floats). */
    public void readKey(int layer, int block, int slot, int head, float[] dst, int dstOff) {
        readKeys(layer, block, slot, 1, head, dst, dstOff);
    }

    /** Decodes K of one head at slots [slot, slot+count) of a block into dst, headDim floats per position. */
    public void readKeys(int layer, int block, int slot, int count, int head, float[] dst, int dstOff) {
        int d = headDim[layer];
        long at = tile(layer, block, head);
        MemorySegment seg = keys[slotOf[layer]];
        for (int p = 0; p < count; p++) {
            int s = slot + p, o = dstOff + p * d;
            switch (type) {
                case F32 -> {
                    for (int i = 0; i < d; i++) dst[o + i] = seg.get(ValueLayout.JAVA_FLOAT_UNALIGNED, at + 4L * ((long) i * slots + s));
                }
                case F16 -> {
                    for (int i = 0; i < d; i++) dst[o + i] = Float.float16ToFloat(seg.get(ValueLayout.JAVA_SHORT_UNALIGNED, at + 2L * ((long) i * slots + s)));
                }
                default -> {
                    // Gather the position's ggml row back out of the tile, then the format decodes it.
                    int nb = d / 32, bb = type.typeSize, chunks = type == GGMLType.Q8_0 ? 8 : 4;
                    long quants = at + 2L * nb * slots;
                    byte flip = (byte) (type == GGMLType.Q8_0 ? 0x80 : 0);
                    MemorySegment row = rows.get();
                    for (int b = 0; b < nb; b++) {
                        long r = (long) b * bb;
                        row.set(ValueLayout.JAVA_SHORT_UNALIGNED, r, seg.get(ValueLayout.JAVA_SHORT_UNALIGNED, at + 2L * ((long) b * slots + s)));
                        for (int c = 0; c < chunks; c++) {
                            long src = quants + 4L * ((long) (b * chunks + c) * slots + s);
                            for (int j = 0; j < 4; j++) row.set(ValueLayout.JAVA_BYTE, r + 2 + 4 * c + j, (byte) (seg.get(ValueLayout.JAVA_BYTE, src + j) ^ flip));
                        }
                    }
                    format.dequantize(row, 0, dst, o, d);
                }
            }
        }
    }

    /** Decodes V of one head at slots [slot, slot+count) of a block into dst, headDim floats per position. */
    public void readValues(int layer, int block, int slot, int count, int head, float[] dst, int dstOff) {
        int d = headDim[layer];
        long at = tile(layer, block, head), vRow = type.byteSize(d);
        for (int i = 0; i < count; i++) format.dequantize(values[slotOf[layer]], at + (slot + i) * vRow, dst, dstOff + i * d, d);
    }

    @Override
    public void close() {
        arena.close();
    }
}
