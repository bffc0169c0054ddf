package io.sluice.tensor;

import io.sluice.gguf.GGMLType;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static io.sluice.tensor.KQuants.QK_K;
import static io.sluice.tensor.KQuants.u8;

/**
 * Q3_K (ggml block_q3_K): super-blocks of 256 values in 110 bytes, 16 sub-blocks of 16.
 * <pre>
 * offset 0    u8 hmask[32]    high bits
 * offset 32   u8 qs[64]       low 2 bits
 * offset 96   u8 scales[12]   16 six-bit scales (stored + 32): low 4 bits of scale s in scales[s]
 *                             (s &lt; 8) or the high nibble of scales[s-8]; top 2 bits at bit
 *                             2*(s/4) of scales[8 + s%4]
 * offset 108  fp16 d          super-block scale
 * value e (h = e/128, j = e%128/32, l = e%32):
 *   q = (qs[32h + l] &gt;&gt; 2j &amp; 3) - (bit (4h + j) of hmask[l] set ? 0 : 4)      in -4..3
 *   value = d * (scale[e/16] - 32) * q
 * </pre>
 */
public final class Q3_KFormat implements Format {
    /** The quants: low 2 bits in qs, the high bit in hmask; sub-block s covers values 16s .. 16s+15. */
    static final SplitPlanes LAYOUT = new SplitPlanes("Q3_K", 110, 108, 96, true,
            2, s -> 32 + 32 * (s >>> 3) + 16 * (s & 1), s -> 2 * ((s >>> 1) & 3),
            1, s -> 16 * (s & 1), s -> 4 * (s >>> 3) + ((s >>> 1) & 3));

    @Override
    public GGMLType type() {
        return GGMLType.Q3_K;
    }

    @Override
    public NativeKernel nativeKernel() {
        return new NativeKernel(Activation.Q8_K, false, true);
    }

    /** Signed scale of sub-block s (-32..31) from the 12 scale bytes at {@code sc}. */
    static int scale(MemorySegment src, long sc, int s) {
        int low = s < 8 ? u8(src, sc + s) & 0xF : u8(src, sc + s - 8) >>> 4;
        int high = (u8(src, sc + 8 + (s & 3)) >>> (2 * (s >>> 2))) & 3;
        return (low | high << 4) - 32;
    }

    @Override
    public void dequantize(MemorySegment src, long byteOffset, float[] dst, int dstOffset, int n) {
        LAYOUT.dequantize(src, byteOffset, dst, dstOffset, n);
    }

    @Override
    public float dot(MemorySegment src, long byteOffset, float[] x, int xOffset, int n) {
        return LAYOUT.dot(src, byteOffset, x, xOffset, n);
    }

    /** Simple abs-max fit (see {@link KQuants}); valid ggml Q3_K blocks. */
    @Override
    public void quantize(float[] src, int srcOffset, int n, MemorySegment dst, long byteOffset) {
        FormatVectors.checkBlocks(n, QK_K, "Q3_K");
        int[] sc = new int[16];
        for (int b = 0; b < n / QK_K; b++) {
            int so = srcOffset + b * QK_K;
            long off = byteOffset + (long) b * LAYOUT.blockBytes;
            float d = KQuants.fitSymmetric(src, so, 16, 16, 4, 32, 31, sc);
            dst.asSlice(off, 108).fill((byte) 0);
            FormatVectors.putF16(dst, off + 108, d);
            for (int s = 0; s < 16; s++) {
                int stored = sc[s] + 32;
                long lowAt = off + 96 + (s < 8 ? s : s - 8);
                dst.set(ValueLayout.JAVA_BYTE, lowAt, (byte) (u8(dst, lowAt) | (stored & 0xF) << (s < 8 ? 0 : 4)));
                long highAt = off + 96 + 8 + (s & 3);
                dst.set(ValueLayout.JAVA_BYTE, highAt, (byte) (u8(dst, highAt) | (stored >>> 4) << (2 * (s >>> 2))));
                float dl = d * sc[s];
                for (int l = 0; l < 16; l++) LAYOUT.put(dst, off, s, l, KQuants.symQuant(src[so + 16 * s + l], dl, 4) + 4);
            }
        }
    }
}
