package io.sluice.tensor;

import io.sluice.gguf.GGMLType;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * IQ1_M (ggml block_iq1_m, 1.75 bits per value): super-blocks of 256 values in 56 bytes; points
 * of IQ1_S's grid ({@link IQGrids#IQ1S}) with a shift of &plusmn;1/8 per group of 8 values and a
 * 3-bit scale per 16 values; the fp16 super-block scale is spread over the scale words' top nibbles.
 * <pre>
 * offset 0   u8 qs[32]       group g (values 8g ..): low 8 bits of its point index
 * offset 32  u8 qh[16]       byte 2ib + h covers groups 4ib + 2h (low nibble) and 4ib + 2h + 1 (high):
 *                            bits 0..2 of a nibble are bits 8..10 of the index, bit 3 the shift's sign
 * offset 48  u16 sc[4]       word k, sub-blocks 2k and 2k + 1: bits 6m..6m+2 the scale of the first
 *                            16 values of sub-block 2k + m, bits 6m+3..6m+5 of the next 16;
 *                            bits 12..15 of word k = bits 4k..4k+3 of d (fp16)
 * step = d * (2s + 1); value = step * (grid[j] + shift)
 * </pre>
 */
public final class IQ1_MFormat extends LookupFormat {
    @Override
    public GGMLType type() {
        return GGMLType.IQ1_M;
    }

    @Override
    public NativeKernel nativeKernel() {
        return new NativeKernel(Activation.Q8_K, false, true);
    }

    @Override
    void decode(MemorySegment s, long off, float[] dst, int o) {
        int[] sc = {u16(s, off + 48), u16(s, off + 50), u16(s, off + 52), u16(s, off + 54)};
        float d = Float.float16ToFloat((short) ((sc[0] >>> 12) | ((sc[1] >>> 8) & 0x00f0) | ((sc[2] >>> 4) & 0x0f00) | (sc[3] & 0xf000)));
        for (int ib = 0; ib < 8; ib++) {
            float dl1 = d * (2 * ((sc[ib / 2] >>> (6 * (ib % 2))) & 0x7) + 1);
            float dl2 = d * (2 * ((sc[ib / 2] >>> (6 * (ib % 2) + 3)) & 0x7) + 1);
            int qh0 = u8(s, off + 32 + 2 * ib), qh1 = u8(s, off + 33 + 2 * ib);
            int[] qh = {qh0, qh0 >>> 4, qh1, qh1 >>> 4};
            for (int l = 0; l < 4; l++) {
                int p = (u8(s, off + 4 * ib + l) | (qh[l] & 7) << 8) * 8;
                float delta = (qh[l] & 8) != 0 ? -IQ1_SFormat.DELTA : IQ1_SFormat.DELTA;
                float dl = l < 2 ? dl1 : dl2;
                for (int j = 0; j < 8; j++) dst[o + 32 * ib + 8 * l + j] = dl * (IQGrids.IQ1S[p + j] + delta);
            }
        }
    }

    /** Sluice's nearest-grid quantizer ({@link IQuants}), not llama-quantize's importance-matrix search. */
    @Override
    public void quantize(float[] src, int srcOffset, int n, MemorySegment dst, long byteOffset) {
        FormatVectors.checkBlocks(n, 256, "IQ1_M");
        float[] t = new float[8], fit = new float[2], step = new float[16];
        for (int b = 0; b < n / 256; b++) {
            int x = srcOffset + 256 * b;
            long off = byteOffset + 56L * b;
            float maxStep = 0;
            for (int h = 0; h < 16; h++) {
                float start = IQuants.absMax(src, x + 16 * h, 16) / (1 + IQ1_SFormat.DELTA);
                float f0 = 0, f1 = 0;
                for (int l = 0; l < 2; l++) {
                    IQ1_SFormat.bestDelta(src, x + 16 * h + 8 * l, 1, start, t, fit);
                    f0 += fit[0];
                    f1 += fit[1];
                }
                fit[0] = f0;
                fit[1] = f1;
                step[h] = start > 0 ? IQuants.refit(fit, start) : 0;
                maxStep = Math.max(maxStep, step[h]);
            }
            short dBits = Float.floatToFloat16(maxStep / 15);
            float d = Float.float16ToFloat(dBits);
            int[] sc = new int[4];
            for (int k = 0; k < 4; k++) sc[k] = ((dBits >>> 4 * k) & 0xF) << 12;
            for (int ib = 0; ib < 8; ib++) {
                int s1 = IQuants.field(step[2 * ib], d, 1f, 2f, 7), s2 = IQuants.field(step[2 * ib + 1], d, 1f, 2f, 7);
                sc[ib / 2] |= s1 << 6 * (ib % 2) | s2 << 6 * (ib % 2) + 3;
                int[] qh = new int[2];
                for (int l = 0; l < 4; l++) {
                    float dl = d * (2 * (l < 2 ? s1 : s2) + 1);
                    int go = x + 32 * ib + 8 * l;
                    float delta = IQ1_SFormat.bestDelta(src, go, 1, dl, t, fit);
                    int p = IQ1_SFormat.group(src, go, dl, delta, t, fit);
                    dst.set(ValueLayout.JAVA_BYTE, off + 4 * ib + l, (byte) p);
                    qh[l / 2] |= ((p >>> 8) | (delta < 0 ? 8 : 0)) << 4 * (l % 2);
                }
                dst.set(ValueLayout.JAVA_BYTE, off + 32 + 2 * ib, (byte) qh[0]);
                dst.set(ValueLayout.JAVA_BYTE, off + 33 + 2 * ib, (byte) qh[1]);
            }
            for (int k = 0; k < 4; k++) dst.set(FormatVectors.LE_SHORT, off + 48 + 2 * k, (short) sc[k]);
        }
    }
}
