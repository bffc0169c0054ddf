package io.sluice.tensor;

import io.sluice.gguf.GGMLType;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static io.sluice.tensor.FormatVectors.f16;

/**
 * IQ1_S (ggml block_iq1_s, 1.5625 bits per value): super-blocks of 256 values in 50 bytes; groups
 * of 8 values are points of a 2048-point grid of -1, 0, 1 ({@link IQGrids#IQ1S}), shifted by
 * &plusmn;1/8 per 32 values.
 * <pre>
 * offset 0   fp16 d
 * offset 2   u8 qs[32]    group g (values 8g ..): low 8 bits of its point index
 * offset 34  u16 qh[8]    sub-block ib: bits 3l..3l+2 = bits 8..10 of group 4ib + l's index,
 *                         bits 12..14 the scale s, bit 15 the shift's sign (set: -1/8)
 * step = d * (2s + 1); value = step * (grid[j] + shift)
 * </pre>
 */
public final class IQ1_SFormat extends LookupFormat {
    static final float DELTA = 0.125f;

    @Override
    public GGMLType type() {
        return GGMLType.IQ1_S;
    }

    @Override
    public NativeKernel nativeKernel() {
        return new NativeKernel(Activation.Q8_K, false, true);
    }

    @Override
    void decode(MemorySegment s, long off, float[] dst, int o) {
        float d = f16(s, off);
        for (int ib = 0; ib < 8; ib++) {
            int qh = u16(s, off + 34 + 2 * ib);
            float dl = d * (2 * ((qh >>> 12) & 7) + 1);
            float delta = (qh & 0x8000) != 0 ? -DELTA : DELTA;
            for (int l = 0; l < 4; l++) {
                int p = (u8(s, off + 2 + 4 * ib + l) | ((qh >>> 3 * l) & 7) << 8) * 8;
                for (int j = 0; j < 8; j++) dst[o + 32 * ib + 8 * l + j] = dl * (IQGrids.IQ1S[p + j] + delta);
            }
        }
    }

    /**
     * The point for 8 values at step dl and shift delta; adds sum(x q), sum(q q) of the decoded
     * levels q = grid + delta to fit and returns the point (the squared error is
     * sum(x x) - 2 dl fit0 + dl dl fit1).
     */
    static int group(float[] x, int o, float dl, float delta, float[] t, float[] fit) {
        float id = dl != 0 ? 1 / dl : 0;
        for (int j = 0; j < 8; j++) t[j] = x[o + j] * id - delta;
        int p = IQuants.IQ1S.nearest(t, 0);
        for (int j = 0; j < 8; j++) {
            float q = IQuants.IQ1S.value(p, j) + delta;
            fit[0] += x[o + j] * q;
            fit[1] += q * q;
        }
        return p;
    }

    /** The shift (+1/8 or -1/8) with the smaller error for n groups of 8 at x[o..] and step dl; fills fit for it. */
    static float bestDelta(float[] x, int o, int groups, float dl, float[] t, float[] fit) {
        float best = DELTA, bestGain = -1;
        float[] f = new float[2];
        for (float delta : new float[]{DELTA, -DELTA}) {
            f[0] = f[1] = 0;
            for (int l = 0; l < groups; l++) group(x, o + 8 * l, dl, delta, t, f);
            float gain = 2 * dl * f[0] - dl * dl * f[1]; // the error's reduction from sum(x x)
            if (gain > bestGain) {
                bestGain = gain;
                best = delta;
                fit[0] = f[0];
                fit[1] = f[1];
            }
        }
        return best;
    }

    /** Sluice's nearest-grid quantizer ({@link IQuants}), not llama-quantize's importance-matrix search. */
    @Override
    public void quantize(float[] src, int srcOffset, int n, MemorySegment dst, long byteOffset) {
        FormatVectors.checkBlocks(n, 256, "IQ1_S");
        float[] t = new float[8], fit = new float[2], step = new float[8], delta = new float[8];
        for (int b = 0; b < n / 256; b++) {
            int x = srcOffset + 256 * b;
            long off = byteOffset + 50L * b;
            float maxStep = 0;
            for (int ib = 0; ib < 8; ib++) {
                float start = IQuants.absMax(src, x + 32 * ib, 32) / (1 + DELTA);
                delta[ib] = bestDelta(src, x + 32 * ib, 4, start, t, fit);
                step[ib] = start > 0 ? IQuants.refit(fit, start) : 0;
                maxStep = Math.max(maxStep, step[ib]);
            }
            float d = Half.roundToF16(maxStep / 15);
            FormatVectors.putF16(dst, off, d);
            for (int ib = 0; ib < 8; ib++) {
                int sc = IQuants.field(step[ib], d, 1f, 2f, 7);
                float dl = d * (2 * sc + 1);
                int qh = sc << 12 | (delta[ib] < 0 ? 0x8000 : 0);
                for (int l = 0; l < 4; l++) {
                    int p = group(src, x + 32 * ib + 8 * l, dl, delta[ib], t, fit);
                    dst.set(ValueLayout.JAVA_BYTE, off + 2 + 4 * ib + l, (byte) p);
                    qh |= (p >>> 8) << 3 * l;
                }
                dst.set(FormatVectors.LE_SHORT, off + 34 + 2 * ib, (short) qh);
            }
        }
    }
}
