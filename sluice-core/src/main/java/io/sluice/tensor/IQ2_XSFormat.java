package io.sluice.tensor;

import io.sluice.gguf.GGMLType;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static io.sluice.tensor.FormatVectors.f16;

/**
 * IQ2_XS (ggml block_iq2_xs, 2.3125 bits per value): super-blocks of 256 values in 74 bytes;
 * groups of 8 values are points of a 512-point lattice ({@link IQGrids#IQ2XS}) with signs, a
 * 4-bit scale per 16 values.
 * <pre>
 * offset 0   fp16 d
 * offset 2   u16 qs[32]     group g (values 8g .. 8g+7): bits 0..8 grid index, bits 9..15 the
 *                           signs of its first 7 values ({@link IQGrids#KSIGNS} completes them)
 * offset 66  u8 scales[8]   sub-block ib of 32: low nibble for its first 16 values, high for the rest
 * step = d * (0.5 + s) * 0.25; value = step * grid[j] * (sign j ? -1 : 1)
 * </pre>
 */
public final class IQ2_XSFormat extends LookupFormat {
    @Override
    public GGMLType type() {
        return GGMLType.IQ2_XS;
    }

    @Override
    public NativeKernel nativeKernel() {
        return new NativeKernel(Activation.Q8_K, false, true);
    }

    @Override
    void decode(MemorySegment s, long off, float[] dst, int o) {
        float d = f16(s, off);
        for (int ib = 0; ib < 8; ib++) {
            int sc = u8(s, off + 66 + ib);
            float db0 = d * (0.5f + (sc & 0xf)) * 0.25f, db1 = d * (0.5f + (sc >>> 4)) * 0.25f;
            for (int l = 0; l < 4; l++) {
                int q = u16(s, off + 2 + 2 * (4 * ib + l));
                int p = (q & 511) * 8;
                int signs = IQGrids.KSIGNS[q >>> 9];
                float db = l < 2 ? db0 : db1;
                signedPoint(dst, o + 32 * ib + 8 * l, db, IQGrids.IQ2XS, p, signs, 8);
            }
        }
    }

    /** Sluice's nearest-grid quantizer ({@link IQuants}), not llama-quantize's importance-matrix search. */
    @Override
    public void quantize(float[] src, int srcOffset, int n, MemorySegment dst, long byteOffset) {
        FormatVectors.checkBlocks(n, 256, "IQ2_XS");
        int[] pts = new int[1];
        float[] mags = new float[8], fit = new float[2], step = new float[16];
        for (int b = 0; b < n / 256; b++) {
            int x = srcOffset + 256 * b;
            long off = byteOffset + 74L * b;
            float maxStep = IQuants.bestSteps(IQuants.IQ2XS, src, x, 16, true, pts, mags, fit, step);
            float d = Half.roundToF16(maxStep * 8 / 31);
            FormatVectors.putF16(dst, off, d);
            for (int ib = 0; ib < 8; ib++) {
                int s0 = IQuants.field(step[2 * ib], d, 0.125f, 0.25f, 15), s1 = IQuants.field(step[2 * ib + 1], d, 0.125f, 0.25f, 15);
                dst.set(ValueLayout.JAVA_BYTE, off + 66 + ib, (byte) (s0 | s1 << 4));
                for (int l = 0; l < 4; l++) {
                    float db = d * (0.5f + (l < 2 ? s0 : s1)) * 0.25f;
                    int signs = IQuants.group(IQuants.IQ2XS, src, x + 32 * ib + 8 * l, db, true, pts, 0, mags, fit);
                    dst.set(FormatVectors.LE_SHORT, off + 2 + 2 * (4 * ib + l), (short) (pts[0] | (signs & 127) << 9));
                }
            }
        }
    }
}
