package io.sluice.tensor;

import io.sluice.gguf.GGMLType;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static io.sluice.tensor.FormatVectors.f16;

/**
 * IQ4_XS (ggml block_iq4_xs): super-blocks of 256 values in 136 bytes, 8 sub-blocks of 32 with
 * 6-bit scales, values on IQ4_NL's 16 non-linear levels.
 * <pre>
 * offset 0   fp16 d          super-block scale
 * offset 2   u16 scales_h    bits 2ib..2ib+1: top 2 bits of sub-block ib's scale
 * offset 4   u8 scales_l[4]  nibble ib%2 of byte ib/2: low 4 bits of sub-block ib's scale
 * offset 8   u8 qs[128]      16 bytes per sub-block, nibbles as IQ4_NL
 * sub-block ib: dl = d * (scale - 32); value j = dl * KVALUES[nibble]
 * </pre>
 */
public final class IQ4_XSFormat extends LookupFormat {
    @Override
    public GGMLType type() {
        return GGMLType.IQ4_XS;
    }

    @Override
    public NativeKernel nativeKernel() {
        return new NativeKernel(Activation.Q8_K, false, true);
    }

    /** The 6-bit scale field (0..63) of sub-block ib. */
    static int scaleField(MemorySegment s, long off, int ib) {
        return ((u8(s, off + 4 + ib / 2) >>> 4 * (ib % 2)) & 0xF) | ((u16(s, off + 2) >>> 2 * ib) & 3) << 4;
    }

    @Override
    void decode(MemorySegment s, long off, float[] dst, int o) {
        float d = f16(s, off);
        for (int ib = 0; ib < 8; ib++) {
            float dl = d * (scaleField(s, off, ib) - 32);
            for (int j = 0; j < 16; j++) {
                int q = u8(s, off + 8 + 16 * ib + j);
                dst[o + 32 * ib + j] = dl * IQ4_NLFormat.KVALUES[q & 0xF];
                dst[o + 32 * ib + j + 16] = dl * IQ4_NLFormat.KVALUES[q >>> 4];
            }
        }
    }

    /** llama-quantize's encoding (ggml's quantize_iq4_xs without an importance matrix): byte-exact. */
    @Override
    public void quantize(float[] src, int srcOffset, int n, MemorySegment dst, long byteOffset) {
        FormatVectors.checkBlocks(n, 256, "IQ4_XS");
        IQ4_NLFormat.Work w = new IQ4_NLFormat.Work();
        for (int b = 0; b < n / 256; b++) {
            long off = byteOffset + 136L * b;
            dst.set(FormatVectors.LE_SHORT, off, IQ4_NLFormat.quantizeSuperBlock(256, src, srcOffset + 256 * b, w));
            int h = 0;
            for (int ib = 0; ib < 8; ib++) {
                int l = w.scaleFields[ib];
                h |= (l >>> 4) << 2 * ib;
                if (ib % 2 == 0) dst.set(ValueLayout.JAVA_BYTE, off + 4 + ib / 2, (byte) (l & 0xF));
                else dst.set(ValueLayout.JAVA_BYTE, off + 4 + ib / 2, (byte) (u8(dst, off + 4 + ib / 2) | (l & 0xF) << 4));
            }
            dst.set(FormatVectors.LE_SHORT, off + 2, (short) h);
            IQ4_NLFormat.pack(w.levels, 256, dst, off + 8);
        }
    }
}
