package io.sluice.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Pieces shared by the K-quant formats (super-blocks of 256 values): reading the packed 6-bit
 * scale/min pairs of Q4_K and Q5_K, and two simple scale fitters used by the quantizers.
 *
 * <p>The fitters are not ggml's iterative searches (make_qkx2_quants etc.): they take each
 * sub-block's range, quantize the sub-block scales into the format's integer fields relative to an
 * fp16 super-block scale, and round the scale magnitudes up so no value has to be clamped. The
 * resulting blocks are valid ggml blocks, only a little less accurate than llama-quantize's.
 */
final class KQuants {
    private KQuants() {
    }

    static final int QK_K = 256;

    static int u8(MemorySegment s, long off) {
        return s.get(ValueLayout.JAVA_BYTE, off) & 0xFF;
    }

    /** Q4_K/Q5_K: 6-bit scale of sub-block j (0..7) from the 12 bytes at {@code off}. */
    static int scaleK4(MemorySegment s, long off, int j) {
        return j < 4 ? u8(s, off + j) & 63 : (u8(s, off + j + 4) & 0xF) | ((u8(s, off + j - 4) >>> 6) << 4);
    }

    /** Q4_K/Q5_K: 6-bit min of sub-block j (0..7) from the 12 bytes at {@code off}. */
    static int minK4(MemorySegment s, long off, int j) {
        return j < 4 ? u8(s, off + j + 4) & 63 : (u8(s, off + j + 4) >>> 4) | ((u8(s, off + j) >>> 6) << 4);
    }

    /** Q4_K/Q5_K: packs 8 six-bit scales and mins into the 12 bytes at {@code off}. */
    static void putScalesK4(MemorySegment s, long off, int[] sc, int[] m) {
        byte[] b = new byte[12];
        for (int j = 0; j < 8; j++) {
            if (j < 4) {
                b[j] = (byte) sc[j];
                b[j + 4] = (byte) m[j];
            } else {
                b[j + 4] = (byte) ((sc[j] & 0xF) | ((m[j] & 0xF) << 4));
                b[j - 4] |= (byte) ((sc[j] >>> 4) << 6);
                b[j] |= (byte) ((m[j] >>> 4) << 6);
            }
        }
        MemorySegment.copy(b, 0, s, ValueLayout.JAVA_BYTE, off, 12);
    }

    /**
     * Fits value = d*sc[s]*q - dmin*m[s] (q in [0, qmax], sc and m in [0, fieldMax]) to each of
     * {@code nSub} sub-blocks of {@code subSize} values. Returns {d, dmin}, both fp16-representable.
     */
    static float[] fitAsymmetric(float[] x, int xo, int nSub, int subSize, int qmax, int fieldMax, int[] sc, int[] m) {
        // mins first: the stored offset must reach down to each sub-block's minimum (ggml keeps min <= 0)
        float maxNegMin = 0f;
        for (int s = 0; s < nSub; s++) maxNegMin = Math.max(maxNegMin, -subMin(x, xo + s * subSize, subSize));
        float dmin = Half.roundToF16(maxNegMin / fieldMax);
        for (int s = 0; s < nSub; s++) {
            float negMin = -subMin(x, xo + s * subSize, subSize);
            m[s] = dmin > 0 ? ceilField(negMin / dmin, 0, fieldMax) : 0;
        }
        // then the step each sub-block needs to span from its stored offset up to its maximum
        float maxScale = 0f;
        for (int s = 0; s < nSub; s++) maxScale = Math.max(maxScale, asymStep(x, xo + s * subSize, subSize, qmax, dmin * m[s]));
        float d = Half.roundToF16(maxScale / fieldMax);
        for (int s = 0; s < nSub; s++) {
            sc[s] = d > 0 ? ceilField(asymStep(x, xo + s * subSize, subSize, qmax, dmin * m[s]) / d, 0, fieldMax) : 0;
        }
        return new float[] {d, dmin};
    }

    /** q for value v under value = dl*q - ml. */
    static int asymQuant(float v, float dl, float ml, int qmax) {
        return dl == 0f ? 0 : FormatVectors.clampRound((v + ml) / dl, 0, qmax);
    }

    /**
     * Fits value = d*sc[s]*q (q in [-qneg, qneg-1], sc in [-scNeg, scPos]) per sub-block: like ggml's
     * legacy quantizers, the value of largest magnitude maps to -qneg, the level that has no positive
     * twin. Returns d (fp16-representable).
     */
    static float fitSymmetric(float[] x, int xo, int nSub, int subSize, int qneg, int scNeg, int scPos, int[] sc) {
        float maxAbs = 0f;
        for (int s = 0; s < nSub; s++) maxAbs = Math.max(maxAbs, Math.abs(FormatVectors.extreme(x, xo + s * subSize, subSize)) / qneg);
        float d = Half.roundToF16(maxAbs / scPos);
        for (int s = 0; s < nSub; s++) {
            float step = FormatVectors.extreme(x, xo + s * subSize, subSize) / -qneg;
            int mag = d > 0 ? ceilField(Math.abs(step) / d, 0, Math.max(scNeg, scPos)) : 0;
            sc[s] = step < 0 ? Math.max(-mag, -scNeg) : Math.min(mag, scPos);
        }
        return d;
    }

    /** q for value v under value = dl*q. */
    static int symQuant(float v, float dl, int qneg) {
        return dl == 0f ? 0 : FormatVectors.clampRound(v / dl, -qneg, qneg - 1);
    }

    private static float subMin(float[] x, int o, int n) {
        float min = 0f;
        for (int i = 0; i < n; i++) min = Math.min(min, x[o + i]);
        return min;
    }

    private static float asymStep(float[] x, int o, int n, int qmax, float offset) {
        float max = -Float.MAX_VALUE;
        for (int i = 0; i < n; i++) max = Math.max(max, x[o + i]);
        return Math.max(0f, (max + offset) / qmax);
    }

    private static int ceilField(float ratio, int lo, int hi) {
        if (!(ratio > lo)) return lo; // also catches NaN
        return (int) Math.min(hi, Math.ceil(ratio));
    }
}
