package io.sluice.model.nn;

import io.sluice.model.Weights;
import io.sluice.tensor.Half;
import io.sluice.tensor.Matrix;
import io.sluice.tensor.Parallel;
import io.sluice.tensor.VectorMath;

import java.util.Arrays;

/**
 * The gated feed-forward block: out = down · (act(gate · x) ⊙ (up · x)), with act SiLU (SwiGLU,
 * Llama and most others) or tanh-GELU (GeGLU, Gemma), optional biases, and gate and up computed
 * as one fused operation (separate tensors, or one {@code ffn_up} holding both, split by view).
 * The experts of a {@link Moe} layer are such blocks too and share its activations. BERT's block
 * has no gate: out = down · act(up · x) ({@link #loadSequential}). BitNet's RMS-normalises the
 * gated product before down ({@link #loadSubNormed}).
 */
public final class Ffn implements FeedForward {
    /** How gate and up combine. */
    public enum Activation {
        /** SwiGLU: silu(gate) · up. */
        SILU,
        /** GeGLU: gelu(gate) · up, with ggml's tabulated tanh-GELU. */
        GELU,
        /** gpt-oss's clamped SwiGLU: x · σ(1.702 x) · (y + 1) with x = min(gate, 7), y = clamp(up, -7, 7). */
        SWIGLU_OAI;

        /** gate[i] = act(gate[i], up[i]) for i in [start, end). */
        public void apply(float[] gate, float[] up, int start, int end) {
            switch (this) {
                case SILU -> VectorMath.swiglu(gate, up, start, end);
                case GELU -> geglu(gate, up, start, end);
                case SWIGLU_OAI -> swigluOai(gate, up, start, end);
            }
        }

        /** x[i] = act(x[i]) for i in [start, end): the ungated block's activation (BERT's GELU). */
        public void applyAlone(float[] x, int start, int end) {
            switch (this) {
                case GELU -> {
                    for (int i = start; i < end; i++) x[i] = gelu(x[i]);
                }
                case SILU -> {
                    for (int i = start; i < end; i++) x[i] = x[i] / (1f + (float) Math.exp(-x[i]));
                }
                case SWIGLU_OAI -> throw new UnsupportedOperationException("gpt-oss's activation needs a gate");
            }
        }
    }

    private final Matrix[] gateUp;
    private final float[] gateBias, upBias;
    private final Matrix down;
    private final float[] downBias;
    private final Activation act;
    /** RMSNorm weights applied to the activation before down (ffn_sub_norm), or null; its epsilon. */
    private final float[] subNorm;
    private final float subNormEps;

    /** gate null: the ungated block. */
    private Ffn(Matrix gate, Matrix up, float[] gateBias, float[] upBias, Matrix down, float[] downBias, Activation act) {
        this(gate, up, gateBias, upBias, down, downBias, act, null, 0f);
    }

    private Ffn(Matrix gate, Matrix up, float[] gateBias, float[] upBias, Matrix down, float[] downBias, Activation act,
                float[] subNorm, float subNormEps) {
        this.gateUp = gate == null ? new Matrix[]{up} : new Matrix[]{gate, up};
        this.gateBias = gateBias;
        this.upBias = upBias;
        this.down = down;
        this.downBias = downBias;
        this.act = act;
        this.subNorm = subNorm;
        this.subNormEps = subNormEps;
    }

    /** Layer l's ffn_gate, ffn_up, ffn_down (and their biases when the file has them). */
    public static Ffn load(Weights w, int l, int dim, int ff, Activation act) {
        return load(w, l, "", dim, ff, act);
    }

    /** The same for tensors named ffn_gate{suffix}, ...: "_shexp" is a MoE layer's shared expert. */
    public static Ffn load(Weights w, int l, String suffix, int dim, int ff, Activation act) {
        String gate = "ffn_gate" + suffix, up = "ffn_up" + suffix, down = "ffn_down" + suffix;
        return new Ffn(w.matrix(Weights.layer(l, gate + ".weight"), dim, ff), w.matrix(Weights.layer(l, up + ".weight"), dim, ff),
                w.optionalVector(Weights.layer(l, gate + ".bias"), ff), w.optionalVector(Weights.layer(l, up + ".bias"), ff),
                w.matrix(Weights.layer(l, down + ".weight"), ff, dim), w.optionalVector(Weights.layer(l, down + ".bias"), dim), act);
    }

    /**
     * BitNet b1.58's block: the layer's gated block with its activation RMS-normalised by
     * ffn_sub_norm (ff weights) before down, which keeps the ternary down projection's input at
     * the scale it was trained for.
     */
    public static Ffn loadSubNormed(Weights w, int l, int dim, int ff, Activation act, float eps) {
        Ffn f = load(w, l, dim, ff, act);
        return new Ffn(f.gateUp[0], f.gateUp[1], f.gateBias, f.upBias, f.down, f.downBias, act,
                w.vector(Weights.layer(l, "ffn_sub_norm.weight"), ff), eps);
    }

    /**
     * Phi-3's and jina-bert-v2's layout: one ffn_up of 2·ff rows, gate first then up (no ffn_gate),
     * and ffn_down, with the biases the file has (an ffn_up.bias of 2·ff values splits the same way).
     */
    public static Ffn loadFused(Weights w, int l, int dim, int ff, Activation act) {
        Matrix[] gu = w.split(Weights.layer(l, "ffn_up.weight"), dim, new String[]{"gate", "up"}, ff, ff);
        float[] b = w.optionalVector(Weights.layer(l, "ffn_up.bias"), 2 * ff);
        return new Ffn(gu[0], gu[1], b == null ? null : Arrays.copyOfRange(b, 0, ff), b == null ? null : Arrays.copyOfRange(b, ff, 2 * ff),
                w.matrix(Weights.layer(l, "ffn_down.weight"), ff, dim), w.optionalVector(Weights.layer(l, "ffn_down.bias"), dim), act);
    }

    /** BERT's ungated block: ffn_up (ff rows), act, ffn_down, with the biases the file has. */
    public static Ffn loadSequential(Weights w, int l, int dim, int ff, Activation act) {
        return new Ffn(null, w.matrix(Weights.layer(l, "ffn_up.weight"), dim, ff), null, w.optionalVector(Weights.layer(l, "ffn_up.bias"), ff),
                w.matrix(Weights.layer(l, "ffn_down.weight"), ff, dim), w.optionalVector(Weights.layer(l, "ffn_down.bias"), dim), act);
    }

    @Override
    public int width() {
        return down.cols();
    }

    /** out = FFN(x) for n rows; gate and up are work buffers of n × width() floats. out may be x. */
    @Override
    public void forward(float[] x, int n, float[] gate, float[] up, float[] out) {
        int len = n * width();
        if (gateUp.length == 1) { // ungated: up's output goes to the gate buffer
            gateUp[0].matmul(x, gate, n);
            Ops.addBias(gate, upBias, n);
            Parallel.forRange(len, 4096, (s, e) -> act.applyAlone(gate, s, e));
        } else {
            Matrix.matmulAll(x, n, gateUp, new float[][]{gate, up});
            Ops.addBias(gate, gateBias, n);
            Ops.addBias(up, upBias, n);
            Parallel.forRange(len, 4096, (s, e) -> act.apply(gate, up, s, e));
        }
        if (subNorm != null) Norm.rms(gate, gate, subNorm, n, subNormEps);
        down.matmul(gate, out, n);
        Ops.addBias(out, downBias, n);
    }

    /**
     * GeGLU as ggml's CPU backend computes it, which the reference logits come from: tanh-GELU
     * looked up in a table of every F16 input (the input rounded to F16, the result an F16
     * value), identity above 10 and 0 below -10. The exact GELU differs by up to 1e-3 in logits.
     */
    static void geglu(float[] g, float[] u, int start, int end) {
        for (int i = start; i < end; i++) g[i] = gelu(g[i]) * u[i];
    }

    /** As ggml's swiglu_oai with alpha 1.702 and limit 7 (x / (1 + e^(-alpha x)), then times y + 1). */
    static void swigluOai(float[] g, float[] u, int start, int end) {
        for (int i = start; i < end; i++) {
            float x = Math.min(g[i], 7f), y = Math.max(-7f, Math.min(u[i], 7f));
            g[i] = x / (1f + (float) Math.exp(-1.702f * x)) * (y + 1f);
        }
    }

    static float gelu(float x) {
        if (x <= -10f) return 0f;
        if (x >= 10f) return x;
        return GELU[Half.f32ToF16(x) & 0xFFFF];
    }

    private static final float[] GELU = new float[1 << 16];

    static {
        for (int i = 0; i < GELU.length; i++) {
            float x = Half.f16ToF32((short) i);
            float y = 0.5f * x * (1f + (float) Math.tanh(0.7978845608f * x * (1f + 0.044715f * x * x)));
            GELU[i] = Half.roundToF16(y);
        }
    }
}
