package io.sluice.tensor;

import io.sluice.gguf.GGMLType;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * MXFP4 (OCP microscaling FP4, ggml block_mxfp4; gpt-oss's expert weights): blocks of 32 E2M1
 * values sharing one E8M0 scale, 17 bytes.
 * <pre>
 * offset 0  u8 e        E8M0 scale: 2^(e - 127)
 * offset 1  u8 qs[16]   value j = E2M1(qs[j] &amp; 0xF) * 2^(e - 127), value j + 16 from the high nibble
 * </pre>
 * E2M1 (1 sign, 2 exponent, 1 mantissa bit) has the magnitudes 0, 0.5, 1, 1.5, 2, 3, 4, 6. Like
 * ggml, the levels are kept doubled as integers ({@link #KVALUES}) and the scale halved.
 */
public final class MXFP4Format extends LookupFormat {
    /** 2 x E2M1(i) for the 16 codes i (ggml's kvalues_mxfp4), generated from the encoding. */
    static final byte[] KVALUES = new byte[16];

    static {
        for (int i = 0; i < 16; i++) {
            int exp = (i >>> 1) & 3, man = i & 1;
            // exponent 0: subnormal, magnitude man * 0.5; else (1 + man/2) * 2^(exp-1); doubled
            int twice = exp == 0 ? man : (2 + man) << (exp - 1);
            KVALUES[i] = (byte) ((i & 8) != 0 ? -twice : twice);
        }
    }

    @Override
    public GGMLType type() {
        return GGMLType.MXFP4;
    }

    @Override
    public NativeKernel nativeKernel() {
        return new NativeKernel(Activation.Q8_0, true, true);
    }

    /** ggml's ggml_e8m0_to_fp32_half: 2^(e - 128), exact (subnormal for e &lt; 2). */
    static float halfScale(int e) {
        return Float.intBitsToFloat(e < 2 ? 0x00200000 << e : (e - 1) << 23);
    }

    @Override
    void decode(MemorySegment s, long off, float[] dst, int o) {
        float d = halfScale(u8(s, off));
        for (int j = 0; j < 16; j++) {
            int q = u8(s, off + 1 + j);
            dst[o + j] = KVALUES[q & 0xF] * d;
            dst[o + j + 16] = KVALUES[q >>> 4] * d;
        }
    }

    /**
     * ggml's quantize_row_mxfp4_ref: e = floor(log2(absmax)) - 2 + 127 (the largest magnitude lands
     * in [4, 8) x 2^(e-127), within E2M1's top levels), each value the nearest level (the first on ties).
     */
    @Override
    public void quantize(float[] src, int srcOffset, int n, MemorySegment dst, long byteOffset) {
        FormatVectors.checkBlocks(n, 32, "MXFP4");
        for (int b = 0; b < n / 32; b++) {
            int x = srcOffset + 32 * b;
            long off = byteOffset + 17L * b;
            float amax = 0f;
            for (int j = 0; j < 32; j++) if (amax < Math.abs(src[x + j])) amax = Math.abs(src[x + j]);
            // log2f rounded to float as the C library returns it (floor of log2 just below a power of 2 rounds up)
            int e = amax > 0 ? ((int) ((float) Math.floor((float) (Math.log(amax) / Math.log(2))) - 2 + 127)) & 0xFF : 0;
            float d = halfScale(e);
            dst.set(ValueLayout.JAVA_BYTE, off, (byte) e);
            for (int j = 0; j < 16; j++) {
                int lo = bestIndex(src[x + j], d), hi = bestIndex(src[x + 16 + j], d);
                dst.set(ValueLayout.JAVA_BYTE, off + 1 + j, (byte) (lo | hi << 4));
            }
        }
    }

    private static int bestIndex(float x, float d) {
        int best = 0;
        float bestErr = Math.abs(KVALUES[0] * d - x);
        for (int i = 1; i < 16; i++) {
            float err = Math.abs(KVALUES[i] * d - x);
            if (err < bestErr) {
                best = i;
                bestErr = err;
            }
        }
        return best;
    }
}
