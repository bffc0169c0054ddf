package io.sluice.tensor;

import io.sluice.gguf.GGMLType;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static io.sluice.tensor.FormatVectors.f16;

/**
 * IQ4_NL (ggml block_iq4_nl): blocks of 32 values in 18 bytes, 4-bit indices into 16 non-linear
 * levels.
 * <pre>
 * offset 0  fp16 d        scale
 * offset 2  u8 qs[16]     value j      = d * KVALUES[qs[j] &amp; 0xF]
 *                         value j + 16 = d * KVALUES[qs[j] &gt;&gt; 4]
 * </pre>
 */
public final class IQ4_NLFormat extends LookupFormat {
    /**
     * The 16 levels (ggml's kvalues_iq4nl, data from ggml-common.h: chosen by the format's author to
     * fit the distribution of real weights, denser near zero).
     */
    static final byte[] KVALUES = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

    @Override
    public GGMLType type() {
        return GGMLType.IQ4_NL;
    }

    @Override
    public NativeKernel nativeKernel() {
        return new NativeKernel(Activation.Q8_0, false, true);
    }

    @Override
    void decode(MemorySegment s, long off, float[] dst, int o) {
        float d = f16(s, off);
        for (int j = 0; j < 16; j++) {
            int q = u8(s, off + 2 + j);
            dst[o + j] = d * KVALUES[q & 0xF];
            dst[o + j + 16] = d * KVALUES[q >>> 4];
        }
    }

    /** llama-quantize's encoding (ggml's quantize_iq4_nl without an importance matrix): byte-exact. */
    @Override
    public void quantize(float[] src, int srcOffset, int n, MemorySegment dst, long byteOffset) {
        FormatVectors.checkBlocks(n, 32, "IQ4_NL");
        Work w = new Work();
        for (int b = 0; b < n / 32; b++) {
            long off = byteOffset + 18L * b;
            dst.set(FormatVectors.LE_SHORT, off, quantizeSuperBlock(32, src, srcOffset + 32 * b, w));
            pack(w.levels, 32, dst, off + 2);
        }
    }

    /** Scratch of {@link #quantizeSuperBlock}. */
    static final class Work {
        final float[] scales = new float[8];
        final byte[] levels = new byte[256];
        /** IQ4_XS: the 6-bit sub-block scales, biased by 32. */
        final int[] scaleFields = new int[8];
    }

    /**
     * ggml's quantize_row_iq4_nl_impl with no importance weights and 7 tries, in the same float
     * operations in the same order (the reference is compiled without FMA contraction): per
     * 32-value sub-block the scale maximising the weighted (x²) correlation among 15 candidates,
     * then for a super-block of several sub-blocks 6-bit sub-block scales relative to a common one.
     * Fills w.levels (level index per value) and, for super-blocks, w.scaleFields; returns d as fp16.
     */
    static short quantizeSuperBlock(int size, float[] x, int xo, Work w) {
        float maxScale = 0, amaxScale = 0;
        int nb = size / 32;
        for (int ib = 0; ib < nb; ib++) {
            int xb = xo + 32 * ib;
            float amax = 0, max = 0;
            for (int j = 0; j < 32; j++) {
                float ax = Math.abs(x[xb + j]);
                if (ax > amax) {
                    amax = ax;
                    max = x[xb + j];
                }
            }
            if (amax < 1e-15f) {
                w.scales[ib] = 0;
                continue;
            }
            float d = -max / KVALUES[0];
            float id = 1 / d;
            float sumqx = 0, sumq2 = 0;
            for (int j = 0; j < 32; j++) {
                float xv = x[xb + j];
                float q = KVALUES[bestIndex(id * xv)];
                float wt = xv * xv;
                sumqx += wt * q * xv;
                sumq2 += wt * q * q;
            }
            d = sumq2 > 0 ? sumqx / sumq2 : 0f;
            float best = d * sumqx;
            for (int itry = -7; itry <= 7; itry++) {
                id = (itry + KVALUES[0]) / max;
                sumqx = sumq2 = 0;
                for (int j = 0; j < 32; j++) {
                    float xv = x[xb + j];
                    float q = KVALUES[bestIndex(id * xv)];
                    float wt = xv * xv;
                    sumqx += wt * q * xv;
                    sumq2 += wt * q * q;
                }
                if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
                    d = sumqx / sumq2;
                    best = d * sumqx;
                }
            }
            w.scales[ib] = d;
            float absD = Math.abs(d);
            if (absD > amaxScale) {
                amaxScale = absD;
                maxScale = d;
            }
        }
        if (nb > 1) {
            float d = -maxScale / 32;
            float id = d != 0 ? 1 / d : 0f;
            for (int ib = 0; ib < nb; ib++) {
                int l = Math.clamp(nearestInt(id * w.scales[ib]), -32, 31);
                float dl = d * l;
                float idl = dl != 0 ? 1 / dl : 0f;
                for (int j = 0; j < 32; j++) w.levels[32 * ib + j] = (byte) bestIndex(idl * x[xo + 32 * ib + j]);
                w.scaleFields[ib] = l + 32;
            }
            return Float.floatToFloat16(d);
        }
        float id = w.scales[0] != 0 ? 1 / w.scales[0] : 0f;
        for (int j = 0; j < 32; j++) w.levels[j] = (byte) bestIndex(id * x[xo + j]);
        return Float.floatToFloat16(w.scales[0]);
    }

    /** ggml's best_index_int8 over KVALUES: the nearest level, the upper one on ties. */
    static int bestIndex(float x) {
        if (x <= KVALUES[0]) return 0;
        if (x >= KVALUES[15]) return 15;
        int ml = 0, mu = 15;
        while (mu - ml > 1) {
            int mav = (ml + mu) / 2;
            if (x < KVALUES[mav]) mu = mav;
            else ml = mav;
        }
        return x - KVALUES[mu - 1] < KVALUES[mu] - x ? mu - 1 : mu;
    }

    /** ggml's nearest_int: round half to even (exact for |v| below 2^22). */
    static int nearestInt(float v) {
        return (int) Math.rint(v);
    }

    /** Packs 32-value groups of level indices as ggml does: byte j of group i = L[32i + j] | L[32i + 16 + j] &lt;&lt; 4. */
    static void pack(byte[] levels, int n, MemorySegment dst, long off) {
        for (int i = 0; i < n / 32; i++) {
            for (int j = 0; j < 16; j++) {
                dst.set(ValueLayout.JAVA_BYTE, off + 16L * i + j, (byte) (levels[32 * i + j] | levels[32 * i + 16 + j] << 4));
            }
        }
    }
}
