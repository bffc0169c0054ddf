package io.sluice.model.nn;

import io.sluice.model.Batch;

/**
 * Rotary position embedding with its variants: adjacent pairs (NORMAL, Llama) or pairs half a
 * rotation apart (NEOX, Qwen, Gemma, Phi-3); only the first {@code dims} values of each head
 * rotated (partial rotary); per-pair frequency divisors (Llama 3.1's rope_freqs, Phi-3's LongRoPE
 * factors); linear scaling; YaRN; and a magnitude factor on cos and sin.
 *
 * <p>Pair i of a token at position p turns by p·freq[i], with freq precomputed here from the spec
 * once: base^(-2i/dims) / factor[i], then as ggml's rope_yarn: interpolated (× freqScale) below
 * YaRN's correction range, extrapolated above it, a linear ramp between (extFactor 0: interpolated
 * everywhere). {@link #prepare} turns a batch's positions into cos/sin once per forward pass; every
 * layer that shares this Rope then only applies them.
 */
public final class Rope {
    public enum Type { NORMAL, NEOX }

    /**
     * @param type        pair layout
     * @param dims        rotated values per head (even, at most headDim)
     * @param headDim     values per head
     * @param base        rope.freq_base
     * @param freqScale   1 / scaling factor (linear and YaRN interpolation), 1 = none
     * @param extFactor   YaRN extrapolation mix (1 with YaRN, 0 otherwise)
     * @param attnFactor  magnitude of cos and sin (attn_factor; YaRN multiplies in its own)
     * @param betaFast    YaRN correction range, fast end (32)
     * @param betaSlow    YaRN correction range, slow end (1)
     * @param origContext the trained context YaRN corrects from
     * @param factors     dims/2 frequency divisors, or null
     */
    public record Spec(Type type, int dims, int headDim, float base, float freqScale, float extFactor, float attnFactor,
                       float betaFast, float betaSlow, int origContext, float[] factors) {
        /** Plain RoPE: no scaling, no factors. */
        public static Spec plain(Type type, int dims, int headDim, float base) {
            return new Spec(type, dims, headDim, base, 1f, 0f, 1f, 32f, 1f, 0, null);
        }

        /** The same rotation with another base and scale (Gemma's local layers). */
        public Spec withBase(float base, float freqScale) {
            return new Spec(type, dims, headDim, base, freqScale, extFactor, attnFactor, betaFast, betaSlow, origContext, factors);
        }

        /** The same with frequency divisors (Llama 3's rope_freqs, LongRoPE's). */
        public Spec withFactors(float[] factors) {
            return new Spec(type, dims, headDim, base, freqScale, extFactor, attnFactor, betaFast, betaSlow, origContext, factors);
        }
    }

    private final Spec spec;
    private final int half;
    /** Angle per position of each pair. */
    private final double[] freq;
    private final float mscale;
    /** cos and sin of each prepared token's pairs: [token * half + i]. */
    private float[] cos = new float[0], sin = new float[0];

    public Rope(Spec s) {
        if (s.dims() % 2 != 0 || s.dims() > s.headDim() || s.dims() < 0) throw new IllegalArgumentException("rope dims " + s.dims() + " for heads of " + s.headDim());
        this.spec = s;
        this.half = s.dims() / 2;
        this.freq = new double[half];
        double lo = 0, hi = 0;
        if (s.extFactor() != 0) {
            lo = Math.max(0, Math.floor(corrDim(s.dims(), s.origContext(), s.betaFast(), s.base())));
            hi = Math.min(s.dims() - 1, Math.ceil(corrDim(s.dims(), s.origContext(), s.betaSlow(), s.base())));
        }
        for (int i = 0; i < half; i++) {
            double extrapolated = Math.pow(s.base(), -2.0 * i / s.dims()) / (s.factors() != null ? s.factors()[i] : 1f);
            double interpolated = s.freqScale() * extrapolated;
            double mix = 0;
            if (s.extFactor() != 0) {
                double y = (i - lo) / Math.max(0.001, hi - lo);
                mix = (1 - Math.min(1, Math.max(0, y))) * s.extFactor();
            }
            freq[i] = interpolated * (1 - mix) + extrapolated * mix;
        }
        // YaRN's magnitude correction rides on the attention factor, as in ggml.
        this.mscale = (float) (s.attnFactor() * (s.extFactor() != 0 ? 1 + 0.1 * Math.log(1 / s.freqScale()) : 1));
    }

    /** YaRN: the pair index whose wavelength fits nRot turns into the original context. */
    private static double corrDim(int dims, int origContext, float nRot, float base) {
        return dims * Math.log(origContext / (nRot * 2 * Math.PI)) / (2 * Math.log(base));
    }

    public Spec spec() {
        return spec;
    }

    /** Computes cos and sin of every token's pairs for the batch's positions; call once per forward pass. */
    public void prepare(Batch b) {
        int n = b.size;
        if (cos.length < n * half) {
            cos = new float[n * half];
            sin = new float[n * half];
        }
        for (int t = 0; t < n; t++) {
            int p = b.positions[t];
            for (int i = 0; i < half; i++) {
                double a = p * freq[i];
                cos[t * half + i] = (float) Math.cos(a) * mscale;
                sin[t * half + i] = (float) Math.sin(a) * mscale;
            }
        }
    }

    /** Bytes the prepared cos/sin of a batch of n tokens take. */
    public long bytes(int n) {
        return 8L * n * half;
    }

    /** Rotates the first {@code dims} values of each of the {@code heads} heads of the n prepared tokens' rows of x. */
    public void rotate(float[] x, int heads, int n) {
        int d = spec.headDim(), stride = heads * d;
        boolean neox = spec.type() == Type.NEOX;
        for (int t = 0; t < n; t++) {
            int c0 = t * half;
            for (int h = 0; h < heads; h++) {
                int base = t * stride + h * d;
                for (int i = 0; i < half; i++) {
                    int a = neox ? base + i : base + 2 * i;
                    int c = neox ? base + i + half : base + 2 * i + 1;
                    float x0 = x[a], x1 = x[c], cs = cos[c0 + i], sn = sin[c0 + i];
                    x[a] = x0 * cs - x1 * sn;
                    x[c] = x0 * sn + x1 * cs;
                }
            }
        }
    }
}
