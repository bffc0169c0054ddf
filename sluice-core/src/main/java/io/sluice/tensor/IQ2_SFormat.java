package io.sluice.tensor;

import io.sluice.gguf.GGMLType;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static io.sluice.tensor.FormatVectors.f16;

/**
 * IQ2_S (ggml block_iq2_s, 2.5625 bits per value): super-blocks of 256 values in 82 bytes;
 * groups of 8 values are points of a 1024-point lattice ({@link IQGrids#IQ2S}) with explicit signs,
 * a 4-bit scale per 16 values.
 * <pre>
 * offset 0   fp16 d
 * offset 2   u8 qs[32]      group g: low 8 bits of its grid index
 * offset 34  u8 signs[32]   group g: bit j = value j is negative
 * offset 66  u8 qh[8]       sub-block ib: bits 2l..2l+1 = bits 8..9 of group 4ib + l's index
 * offset 74  u8 scales[8]   as IQ2_XS: low nibble the first 16 values of sub-block ib, high the rest
 * step = d * (0.5 + s) * 0.25; value = step * grid[j] * (sign j ? -1 : 1)
 * </pre>
 */
public final class IQ2_SFormat extends LookupFormat {
    @Override
    public GGMLType type() {
        return GGMLType.IQ2_S;
    }

    @Override
    public NativeKernel nativeKernel() {
        return new NativeKernel(Activation.Q8_K, false, true);
    }

    @Override
    void decode(MemorySegment s, long off, float[] dst, int o) {
        float d = f16(s, off);
        for (int ib = 0; ib < 8; ib++) {
            int sc = u8(s, off + 74 + ib), qh = u8(s, off + 66 + ib);
            float db0 = d * (0.5f + (sc & 0xf)) * 0.25f, db1 = d * (0.5f + (sc >>> 4)) * 0.25f;
            for (int l = 0; l < 4; l++) {
                float dl = l < 2 ? db0 : db1;
                int p = (u8(s, off + 2 + 4 * ib + l) | (qh << (8 - 2 * l) & 0x300)) * 8;
                int signs = u8(s, off + 34 + 4 * ib + l);
                signedPoint(dst, o + 32 * ib + 8 * l, dl, IQGrids.IQ2S, p, signs, 8);
            }
        }
    }

    /** Sluice's nearest-grid quantizer ({@link IQuants}), not llama-quantize's importance-matrix search. */
    @Override
    public void quantize(float[] src, int srcOffset, int n, MemorySegment dst, long byteOffset) {
        FormatVectors.checkBlocks(n, 256, "IQ2_S");
        int[] pts = new int[1];
        float[] mags = new float[8], fit = new float[2], step = new float[16];
        for (int b = 0; b < n / 256; b++) {
            int x = srcOffset + 256 * b;
            long off = byteOffset + 82L * b;
            float maxStep = IQuants.bestSteps(IQuants.IQ2S, src, x, 16, false, pts, mags, fit, step);
            float d = Half.roundToF16(maxStep * 8 / 31);
            FormatVectors.putF16(dst, off, d);
            for (int ib = 0; ib < 8; ib++) {
                int s0 = IQuants.field(step[2 * ib], d, 0.125f, 0.25f, 15), s1 = IQuants.field(step[2 * ib + 1], d, 0.125f, 0.25f, 15);
                dst.set(ValueLayout.JAVA_BYTE, off + 74 + ib, (byte) (s0 | s1 << 4));
                int qh = 0;
                for (int l = 0; l < 4; l++) {
                    float db = d * (0.5f + (l < 2 ? s0 : s1)) * 0.25f;
                    int signs = IQuants.group(IQuants.IQ2S, src, x + 32 * ib + 8 * l, db, false, pts, 0, mags, fit);
                    dst.set(ValueLayout.JAVA_BYTE, off + 2 + 4 * ib + l, (byte) pts[0]);
                    dst.set(ValueLayout.JAVA_BYTE, off + 34 + 4 * ib + l, (byte) signs);
                    qh |= (pts[0] >>> 8) << 2 * l;
                }
                dst.set(ValueLayout.JAVA_BYTE, off + 66 + ib, (byte) qh);
            }
        }
    }
}
