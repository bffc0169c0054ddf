package io.sluice.tensor;

import io.sluice.gguf.GGMLType;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static io.sluice.tensor.FormatVectors.f16;

/**
 * TQ2_0 (ggml block_tq2_0, ternary weights as in BitNet b1.58): super-blocks of 256 values in
 * 66 bytes, 2 bits per value.
 * <pre>
 * offset 0   u8 qs[64]   byte 32c + m, bits 2l..2l+1: value 128c + 32l + m, stored as q in {0, 1, 2}
 * offset 64  fp16 d      value = (q - 1) * d
 * </pre>
 */
public final class TQ2_0Format extends LookupFormat {
    @Override
    public GGMLType type() {
        return GGMLType.TQ2_0;
    }

    @Override
    public NativeKernel nativeKernel() {
        return new NativeKernel(Activation.Q8_K, false, true);
    }

    @Override
    void decode(MemorySegment s, long off, float[] dst, int o) {
        float d = f16(s, off + 64);
        for (int c = 0; c < 2; c++) {
            for (int l = 0; l < 4; l++) {
                for (int m = 0; m < 32; m++) {
                    int q = (u8(s, off + 32 * c + m) >>> 2 * l) & 3;
                    dst[o + 128 * c + 32 * l + m] = (float) (q - 1) * d;
                }
            }
        }
    }

    /** ggml's quantize_row_tq2_0_ref: d = absmax, each value rounded to -1, 0 or 1 times d. */
    @Override
    public void quantize(float[] src, int srcOffset, int n, MemorySegment dst, long byteOffset) {
        FormatVectors.checkBlocks(n, 256, "TQ2_0");
        for (int b = 0; b < n / 256; b++) {
            int x = srcOffset + 256 * b;
            long off = byteOffset + 66L * b;
            float d = TQ1_0Format.absMax(src, x);
            float id = d != 0 ? 1.0f / d : 0.0f;
            FormatVectors.putF16(dst, off + 64, d);
            for (int c = 0; c < 2; c++) {
                for (int m = 0; m < 32; m++) {
                    int q = 0;
                    for (int l = 0; l < 4; l++) q += (TQ1_0Format.trit(src[x + 128 * c + 32 * l + m] * id) & 3) << 2 * l;
                    dst.set(ValueLayout.JAVA_BYTE, off + 32 * c + m, (byte) q);
                }
            }
        }
    }
}
