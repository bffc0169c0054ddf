package io.sluice.tensor;

import io.sluice.gguf.GGMLType;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static io.sluice.tensor.FormatVectors.f16;

/**
 * IQ3_XXS (ggml block_iq3_xxs, 3.0625 bits per value): super-blocks of 256 values in 98 bytes;
 * groups of 4 values are points of a 256-point grid ({@link IQGrids#IQ3XXS}), signs per 8.
 * <pre>
 * offset 0   fp16 d
 * offset 2   u8 qs[64]    sub-block ib, group l (values 32ib + 8l ..): points qs[8ib + 2l] (first 4
 *                         values) and qs[8ib + 2l + 1] (next 4)
 * offset 66  u32 [8]      sub-block ib: bits 7l..7l+6 the signs of group l's first 7 values (the 8th
 *                         makes their count even), bits 28..31 the scale s
 * step = d * (0.5 + s) * 0.5; value = step * grid[j] * (sign j ? -1 : 1)
 * </pre>
 */
public final class IQ3_XXSFormat extends LookupFormat {
    @Override
    public GGMLType type() {
        return GGMLType.IQ3_XXS;
    }

    @Override
    public NativeKernel nativeKernel() {
        return new NativeKernel(Activation.Q8_K, false, true);
    }

    @Override
    void decode(MemorySegment s, long off, float[] dst, int o) {
        float d = f16(s, off);
        for (int ib = 0; ib < 8; ib++) {
            int aux = u32(s, off + 66 + 4 * ib);
            float db = d * (0.5f + (aux >>> 28)) * 0.5f;
            for (int l = 0; l < 4; l++) {
                int signs = IQGrids.KSIGNS[(aux >>> 7 * l) & 127];
                int p1 = u8(s, off + 2 + 8 * ib + 2 * l) * 4, p2 = u8(s, off + 2 + 8 * ib + 2 * l + 1) * 4;
                int y = o + 32 * ib + 8 * l;
                signedPoint(dst, y, db, IQGrids.IQ3XXS, p1, signs, 4);
                signedPoint(dst, y + 4, db, IQGrids.IQ3XXS, p2, signs >>> 4, 4);
            }
        }
    }

    /** Sluice's nearest-grid quantizer ({@link IQuants}), not llama-quantize's importance-matrix search. */
    @Override
    public void quantize(float[] src, int srcOffset, int n, MemorySegment dst, long byteOffset) {
        FormatVectors.checkBlocks(n, 256, "IQ3_XXS");
        int[] pts = new int[2];
        float[] mags = new float[8], fit = new float[2], step = new float[8];
        for (int b = 0; b < n / 256; b++) {
            int x = srcOffset + 256 * b;
            long off = byteOffset + 98L * b;
            float maxStep = IQuants.bestSteps(IQuants.IQ3XXS, src, x, 32, true, pts, mags, fit, step);
            float d = Half.roundToF16(maxStep * 4 / 31);
            FormatVectors.putF16(dst, off, d);
            for (int ib = 0; ib < 8; ib++) {
                int sc = IQuants.field(step[ib], d, 0.25f, 0.5f, 15);
                float db = d * (0.5f + sc) * 0.5f;
                int aux = sc << 28;
                for (int l = 0; l < 4; l++) {
                    int signs = IQuants.group(IQuants.IQ3XXS, src, x + 32 * ib + 8 * l, db, true, pts, 0, mags, fit);
                    dst.set(ValueLayout.JAVA_BYTE, off + 2 + 8 * ib + 2 * l, (byte) pts[0]);
                    dst.set(ValueLayout.JAVA_BYTE, off + 2 + 8 * ib + 2 * l + 1, (byte) pts[1]);
                    aux |= (signs & 127) << 7 * l;
                }
                dst.set(FormatVectors.LE_INT, off + 66 + 4 * ib, aux);
            }
        }
    }
}
