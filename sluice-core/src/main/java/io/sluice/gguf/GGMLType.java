package io.sluice.gguf;

/**
 * ggml tensor types as stored in GGUF files: id, elements per block and bytes per block, one
 * entry for every type id llama.cpp defines (ggml.h's {@code enum ggml_type}), so that any file's
 * types are at least named. The reader needs the sizes to check that tensor data lies inside the
 * file; the formats Sluice computes with live in {@code io.sluice.tensor} ({@code Formats}).
 */
public enum GGMLType {
    F32(0, 1, 4),
    F16(1, 1, 2),
    Q4_0(2, 32, 18),
    Q4_1(3, 32, 20),
    Q5_0(6, 32, 22),
    Q5_1(7, 32, 24),
    Q8_0(8, 32, 34),
    Q8_1(9, 32, 36),
    Q2_K(10, 256, 84),
    Q3_K(11, 256, 110),
    Q4_K(12, 256, 144),
    Q5_K(13, 256, 176),
    Q6_K(14, 256, 210),
    Q8_K(15, 256, 292),
    IQ2_XXS(16, 256, 66),
    IQ2_XS(17, 256, 74),
    IQ3_XXS(18, 256, 98),
    IQ1_S(19, 256, 50),
    IQ4_NL(20, 32, 18),
    IQ3_S(21, 256, 110),
    IQ2_S(22, 256, 82),
    IQ4_XS(23, 256, 136),
    I8(24, 1, 1),
    I16(25, 1, 2),
    I32(26, 1, 4),
    I64(27, 1, 8),
    F64(28, 1, 8),
    IQ1_M(29, 256, 56),
    BF16(30, 1, 2),
    TQ1_0(34, 256, 54),
    TQ2_0(35, 256, 66),
    MXFP4(39, 32, 17),
    /** 64 E2M1 values with four UE4M3 scales, one per 16. */
    NVFP4(40, 64, 36),
    /** 128 one-bit values (sign) with an fp16 scale. */
    Q1_0(41, 128, 18);

    public final int id;
    public final int blockSize;
    public final int typeSize;

    GGMLType(int id, int blockSize, int typeSize) {
        this.id = id;
        this.blockSize = blockSize;
        this.typeSize = typeSize;
    }

    private static final GGMLType[] BY_ID = new GGMLType[64];

    static {
        for (GGMLType t : values()) BY_ID[t.id] = t;
    }

    /** Ids ggml once used and has since removed from GGUF files (Q4_2, Q4_3, Q4_0_4_4 ... IQ4_NL_8_8). */
    public static boolean isRemovedId(int id) {
        return id == 4 || id == 5 || (id >= 31 && id <= 33) || (id >= 36 && id <= 38);
    }

    /** The type with this id, or null when the id is not a known ggml type. */
    public static GGMLType fromId(int id) {
        return id >= 0 && id < BY_ID.length ? BY_ID[id] : null;
    }

    /** Bytes taken by {@code elements} values; elements must be a multiple of the block size. */
    public long byteSize(long elements) {
        if (elements % blockSize != 0) {
            throw new IllegalArgumentException(elements + " elements is not a multiple of " + name() + "'s block size " + blockSize);
        }
        return Math.multiplyExact(elements / blockSize, (long) typeSize);
    }

    public boolean isQuantized() {
        return blockSize > 1;
    }

    /** Bits per stored value (type size x 8 / block size), e.g. 4.5 for Q4_0. */
    public double bitsPerWeight() {
        return typeSize * 8.0 / blockSize;
    }
}
