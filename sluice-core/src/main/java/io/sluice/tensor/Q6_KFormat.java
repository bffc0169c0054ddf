package io.sluice.tensor;

import io.sluice.gguf.GGMLType;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static io.sluice.tensor.KQuants.QK_K;
import static io.sluice.tensor.KQuants.u8;

/**
 * Q6_K (ggml block_q6_K): super-blocks of 256 values in 210 bytes, 16 sub-blocks of 16.
 * <pre>
 * offset 0    u8 ql[128]      low 4 bits
 * offset 128  u8 qh[64]       high 2 bits
 * offset 192  i8 scales[16]   one signed scale per sub-block
 * offset 208  fp16 d          super-block scale
 * value e (h = e/128, g = e%128/32, l = e%32):
 *   q = (ql[64h + 32(g&amp;1) + l] &gt;&gt; 4(g&gt;&gt;1) &amp; 0xF) | (qh[32h + l] &gt;&gt; 2g &amp; 3) &lt;&lt; 4
 *   value = d * scales[e/16] * (q - 32)
 * </pre>
 */
public final class Q6_KFormat implements Format {
    /** The quants: low 4 bits in ql, the high 2 in qh; sub-block s covers values 16s .. 16s+15. */
    static final SplitPlanes LAYOUT = new SplitPlanes("Q6_K", 210, 208, 192, false,
            4, s -> 64 * (s >>> 3) + 32 * ((s >>> 1) & 1) + 16 * (s & 1), s -> 4 * ((s >>> 2) & 1),
            2, s -> 128 + 32 * (s >>> 3) + 16 * (s & 1), s -> 2 * ((s >>> 1) & 3));

    @Override
    public GGMLType type() {
        return GGMLType.Q6_K;
    }

    @Override
    public NativeKernel nativeKernel() {
        return new NativeKernel(Activation.Q8_K, true, true);
    }

    @Override
    public void dequantize(MemorySegment src, long byteOffset, float[] dst, int dstOffset, int n) {
        LAYOUT.dequantize(src, byteOffset, dst, dstOffset, n);
    }

    @Override
    public float dot(MemorySegment src, long byteOffset, float[] x, int xOffset, int n) {
        return LAYOUT.dot(src, byteOffset, x, xOffset, n);
    }

    /** Simple abs-max fit (see {@link KQuants}); valid ggml Q6_K blocks. */
    @Override
    public void quantize(float[] src, int srcOffset, int n, MemorySegment dst, long byteOffset) {
        FormatVectors.checkBlocks(n, QK_K, "Q6_K");
        int[] sc = new int[16];
        for (int b = 0; b < n / QK_K; b++) {
            int so = srcOffset + b * QK_K;
            long off = byteOffset + (long) b * LAYOUT.blockBytes;
            float d = KQuants.fitSymmetric(src, so, 16, 16, 32, 128, 127, sc);
            FormatVectors.putF16(dst, off + 208, d);
            dst.asSlice(off, 192).fill((byte) 0);
            for (int s = 0; s < 16; s++) {
                dst.set(ValueLayout.JAVA_BYTE, off + 192 + s, (byte) sc[s]);
                float dl = d * sc[s];
                for (int l = 0; l < 16; l++) LAYOUT.put(dst, off, s, l, KQuants.symQuant(src[so + 16 * s + l], dl, 32) + 32);
            }
        }
    }
}
