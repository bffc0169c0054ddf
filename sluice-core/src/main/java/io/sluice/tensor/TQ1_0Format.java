package io.sluice.tensor;

import io.sluice.gguf.GGMLType;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static io.sluice.tensor.FormatVectors.f16;

/**
 * TQ1_0 (ggml block_tq1_0, ternary weights as in BitNet b1.58): super-blocks of 256 values in
 * 54 bytes, 1.6875 bits per value: five base-3 digits per byte, stored as the fraction
 * ceil(q * 256 / 243) of the 5-digit number q so that digit n comes out as the top of
 * (byte * 3^n mod 256) * 3 / 256.
 * <pre>
 * offset 0   u8 qs[48]  bytes 0..31: digit n of byte m = value 32n + m (n &lt; 5, values 0..159);
 *                       bytes 32..47: digit n of byte 32 + m = value 160 + 16n + m (values 160..239)
 * offset 48  u8 qh[4]   digit n (n &lt; 4) of byte j = value 240 + 4n + j
 * offset 52  fp16 d     value = (digit - 1) * d
 * </pre>
 */
public final class TQ1_0Format extends LookupFormat {
    private static final int[] POW3 = {1, 3, 9, 27, 81, 243};

    @Override
    public GGMLType type() {
        return GGMLType.TQ1_0;
    }

    @Override
    public NativeKernel nativeKernel() {
        return new NativeKernel(Activation.Q8_K, false, true);
    }

    /** Digit n of a packed byte: the top trit of the fraction after multiplying by 3^n. */
    static int digit(int packed, int n) {
        int q = (packed * POW3[n]) & 0xFF;
        return (q * 3) >>> 8;
    }

    @Override
    void decode(MemorySegment s, long off, float[] dst, int o) {
        float d = f16(s, off + 52);
        int y = o;
        for (int n = 0; n < 5; n++) for (int m = 0; m < 32; m++) dst[y++] = (float) (digit(u8(s, off + m), n) - 1) * d;
        for (int n = 0; n < 5; n++) for (int m = 0; m < 16; m++) dst[y++] = (float) (digit(u8(s, off + 32 + m), n) - 1) * d;
        for (int n = 0; n < 4; n++) for (int j = 0; j < 4; j++) dst[y++] = (float) (digit(u8(s, off + 48 + j), n) - 1) * d;
    }

    /** ggml's quantize_row_tq1_0_ref: d = absmax, each value rounded to -1, 0 or 1 times d. */
    @Override
    public void quantize(float[] src, int srcOffset, int n, MemorySegment dst, long byteOffset) {
        FormatVectors.checkBlocks(n, 256, "TQ1_0");
        for (int b = 0; b < n / 256; b++) {
            int x = srcOffset + 256 * b;
            long off = byteOffset + 54L * b;
            float d = absMax(src, x);
            float id = d != 0 ? 1.0f / d : 0.0f;
            FormatVectors.putF16(dst, off + 52, d);
            for (int m = 0; m < 32; m++) {
                int q = 0;
                for (int k = 0; k < 5; k++) q = q * 3 + trit(src[x + m + 32 * k] * id);
                dst.set(ValueLayout.JAVA_BYTE, off + m, ceilFraction(q));
            }
            for (int m = 0; m < 16; m++) {
                int q = 0;
                for (int k = 0; k < 5; k++) q = q * 3 + trit(src[x + 160 + m + 16 * k] * id);
                dst.set(ValueLayout.JAVA_BYTE, off + 32 + m, ceilFraction(q));
            }
            for (int j = 0; j < 4; j++) {
                int q = 0;
                for (int m = 0; m < 4; m++) q = q * 3 + trit(src[x + 240 + j + 4 * m] * id);
                dst.set(ValueLayout.JAVA_BYTE, off + 48 + j, ceilFraction(q * 3)); // the first digit on the top trit
            }
        }
    }

    /** ceil(q * 256 / 243) as ggml computes it (q &lt; 243). */
    private static byte ceilFraction(int q) {
        return (byte) ((q * 256 + 242) / 243);
    }

    /** lroundf(v) + 1 (v in [-1, 1] after scaling by 1/absmax): the stored digit 0, 1 or 2. */
    static int trit(float v) {
        return FormatVectors.roundAway(v) + 1;
    }

    static float absMax(float[] x, int o) {
        float amax = 0f;
        for (int j = 0; j < 256; j++) amax = Math.max(amax, Math.abs(x[o + j]));
        return amax;
    }
}
