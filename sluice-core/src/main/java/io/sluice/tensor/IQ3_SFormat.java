package io.sluice.tensor;

import io.sluice.gguf.GGMLType;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static io.sluice.tensor.FormatVectors.f16;

/**
 * IQ3_S (ggml block_iq3_s, 3.4375 bits per value): super-blocks of 256 values in 110 bytes;
 * groups of 4 values are points of a 512-point grid ({@link IQGrids#IQ3S}, odd levels 1..15) with
 * explicit signs, a 4-bit scale per 32 values.
 * <pre>
 * offset 0    fp16 d
 * offset 2    u8 qs[64]      low 8 bits of the point indices, 8 per sub-block ib (point k: values 32ib + 4k ..)
 * offset 66   u8 qh[8]       sub-block ib: bit k = bit 8 of point k's index
 * offset 74   u8 signs[32]   sub-block ib, group l of 8 values: byte 4ib + l, bit j = value j is negative
 * offset 106  u8 scales[4]   sub-block ib's scale s in nibble ib % 2 of byte ib / 2
 * step = d * (1 + 2s); value = step * grid[j] * (sign j ? -1 : 1)
 * </pre>
 */
public final class IQ3_SFormat extends LookupFormat {
    @Override
    public GGMLType type() {
        return GGMLType.IQ3_S;
    }

    @Override
    public NativeKernel nativeKernel() {
        return new NativeKernel(Activation.Q8_K, false, true);
    }

    @Override
    void decode(MemorySegment s, long off, float[] dst, int o) {
        float d = f16(s, off);
        for (int ib = 0; ib < 8; ib++) {
            float db = d * (1 + 2 * ((u8(s, off + 106 + ib / 2) >>> 4 * (ib % 2)) & 0xf));
            int qh = u8(s, off + 66 + ib);
            for (int l = 0; l < 4; l++) {
                int p1 = (u8(s, off + 2 + 8 * ib + 2 * l) | (qh << (8 - 2 * l) & 256)) * 4;
                int p2 = (u8(s, off + 2 + 8 * ib + 2 * l + 1) | (qh << (7 - 2 * l) & 256)) * 4;
                int signs = u8(s, off + 74 + 4 * ib + l);
                int y = o + 32 * ib + 8 * l;
                signedPoint(dst, y, db, IQGrids.IQ3S, p1, signs, 4);
                signedPoint(dst, y + 4, db, IQGrids.IQ3S, p2, signs >>> 4, 4);
            }
        }
    }

    /** Sluice's nearest-grid quantizer ({@link IQuants}), not llama-quantize's importance-matrix search. */
    @Override
    public void quantize(float[] src, int srcOffset, int n, MemorySegment dst, long byteOffset) {
        FormatVectors.checkBlocks(n, 256, "IQ3_S");
        int[] pts = new int[2];
        float[] mags = new float[8], fit = new float[2], step = new float[8];
        for (int b = 0; b < n / 256; b++) {
            int x = srcOffset + 256 * b;
            long off = byteOffset + 110L * b;
            float maxStep = IQuants.bestSteps(IQuants.IQ3S, src, x, 32, false, pts, mags, fit, step);
            float d = Half.roundToF16(maxStep / 31);
            FormatVectors.putF16(dst, off, d);
            int[] scales = new int[4];
            for (int ib = 0; ib < 8; ib++) {
                int sc = IQuants.field(step[ib], d, 1f, 2f, 15);
                scales[ib / 2] |= sc << 4 * (ib % 2);
                float db = d * (1 + 2 * sc);
                int qh = 0;
                for (int l = 0; l < 4; l++) {
                    int signs = IQuants.group(IQuants.IQ3S, src, x + 32 * ib + 8 * l, db, false, pts, 0, mags, fit);
                    dst.set(ValueLayout.JAVA_BYTE, off + 2 + 8 * ib + 2 * l, (byte) pts[0]);
                    dst.set(ValueLayout.JAVA_BYTE, off + 2 + 8 * ib + 2 * l + 1, (byte) pts[1]);
                    qh |= (pts[0] >>> 8) << 2 * l | (pts[1] >>> 8) << 2 * l + 1;
                    dst.set(ValueLayout.JAVA_BYTE, off + 74 + 4 * ib + l, (byte) signs);
                }
                dst.set(ValueLayout.JAVA_BYTE, off + 66 + ib, (byte) qh);
            }
            for (int k = 0; k < 4; k++) dst.set(ValueLayout.JAVA_BYTE, off + 106 + k, (byte) scales[k]);
        }
    }
}
