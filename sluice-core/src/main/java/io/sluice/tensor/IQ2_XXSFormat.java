package io.sluice.tensor;

import io.sluice.gguf.GGMLType;

import java.lang.foreign.MemorySegment;

import static io.sluice.tensor.FormatVectors.f16;

/**
 * IQ2_XXS (ggml block_iq2_xxs, 2.0625 bits per value): super-blocks of 256 values in 66 bytes;
 * groups of 8 values are points of an 8-dimensional lattice (256 points, {@link IQGrids#IQ2XXS})
 * with signs.
 * <pre>
 * offset 0  fp16 d
 * offset 2  per sub-block ib of 32 values, two u32 words:
 *             word 0: bytes l = 0..3, grid index of group l (values 8l .. 8l+7)
 *             word 1: bits 7l..7l+6 the signs of group l's first 7 values (the 8th makes their
 *                     count even, {@link IQGrids#KSIGNS}); bits 28..31 the scale s
 * sub-block step db = d * (0.5 + s) * 0.25; value = db * grid[j] * (sign j ? -1 : 1)
 * </pre>
 */
public final class IQ2_XXSFormat extends LookupFormat {
    @Override
    public GGMLType type() {
        return GGMLType.IQ2_XXS;
    }

    @Override
    public NativeKernel nativeKernel() {
        return new NativeKernel(Activation.Q8_K, false, true);
    }

    @Override
    void decode(MemorySegment s, long off, float[] dst, int o) {
        float d = f16(s, off);
        for (int ib = 0; ib < 8; ib++) {
            long w = off + 2 + 8 * ib;
            int aux1 = u32(s, w + 4);
            float db = d * (0.5f + (aux1 >>> 28)) * 0.25f;
            for (int l = 0; l < 4; l++) {
                int p = u8(s, w + l) * 8;
                int signs = IQGrids.KSIGNS[(aux1 >>> 7 * l) & 127];
                signedPoint(dst, o + 32 * ib + 8 * l, db, IQGrids.IQ2XXS, p, signs, 8);
            }
        }
    }

    /** Sluice's nearest-grid quantizer ({@link IQuants}), not llama-quantize's importance-matrix search. */
    @Override
    public void quantize(float[] src, int srcOffset, int n, MemorySegment dst, long byteOffset) {
        FormatVectors.checkBlocks(n, 256, "IQ2_XXS");
        int[] pts = new int[1];
        float[] mags = new float[8], fit = new float[2], step = new float[8];
        for (int b = 0; b < n / 256; b++) {
            int x = srcOffset + 256 * b;
            long off = byteOffset + 66L * b;
            float maxStep = IQuants.bestSteps(IQuants.IQ2XXS, src, x, 32, true, pts, mags, fit, step);
            float d = Half.roundToF16(maxStep * 8 / 31);
            FormatVectors.putF16(dst, off, d);
            for (int ib = 0; ib < 8; ib++) {
                int sc = IQuants.field(step[ib], d, 0.125f, 0.25f, 15);
                float db = d * (0.5f + sc) * 0.25f;
                int aux0 = 0, aux1 = sc << 28;
                for (int l = 0; l < 4; l++) {
                    int signs = IQuants.group(IQuants.IQ2XXS, src, x + 32 * ib + 8 * l, db, true, pts, 0, mags, fit);
                    aux0 |= pts[0] << 8 * l;
                    aux1 |= (signs & 127) << 7 * l;
                }
                dst.set(FormatVectors.LE_INT, off + 2 + 8 * ib, aux0);
                dst.set(FormatVectors.LE_INT, off + 6 + 8 * ib, aux1);
            }
        }
    }
}
