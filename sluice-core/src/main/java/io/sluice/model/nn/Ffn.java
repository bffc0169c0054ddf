package io.sluice.model.nn;

import io.sluice.model.Weights;
import io.sluice.tensor.Half;
import io.sluice.tensor.Matrix;
import io.sluice.tensor.Parallel;
import io.sluice.tensor.VectorMath;

/**
 * The gated feed-forward block: out = down · (act(gate · x) ⊙ (up · x)), with act SiLU (SwiGLU,
 * Llama and most others) or tanh-GELU (GeGLU, Gemma), optional biases, and gate and up computed
 * as one fused operation (separate tensors, or one {@code ffn_up} holding both, split by view).
 */
public final class Ffn {
    public enum Activation { SILU, GELU }

    private final Matrix[] gateUp;
    private final float[] gateBias, upBias;
    private final Matrix down;
    private final float[] downBias;
    private final Activation act;

    private Ffn(Matrix gate, Matrix up, float[] gateBias, float[] upBias, Matrix down, float[] downBias, Activation act) {
        this.gateUp = new Matrix[]{gate, up};
        this.gateBias = gateBias;
        this.upBias = upBias;
        this.down = down;
        this.downBias = downBias;
        this.act = act;
    }

    /** Layer l's ffn_gate, ffn_up, ffn_down (and their biases when the file has them). */
    public static Ffn load(Weights w, int l, int dim, int ff, Activation act) {
        return new Ffn(w.matrix(Weights.layer(l, "ffn_gate.weight"), dim, ff), w.matrix(Weights.layer(l, "ffn_up.weight"), dim, ff),
                w.optionalVector(Weights.layer(l, "ffn_gate.bias"), ff), w.optionalVector(Weights.layer(l, "ffn_up.bias"), ff),
                w.matrix(Weights.layer(l, "ffn_down.weight"), ff, dim), w.optionalVector(Weights.layer(l, "ffn_down.bias"), dim), act);
    }

    /** Phi-3's layout: one ffn_up of 2·ff rows, gate first then up (no ffn_gate), and ffn_down. */
    public static Ffn loadFused(Weights w, int l, int dim, int ff, Activation act) {
        Matrix[] gu = w.split(Weights.layer(l, "ffn_up.weight"), dim, new String[]{"gate", "up"}, ff, ff);
        return new Ffn(gu[0], gu[1], null, null, w.matrix(Weights.layer(l, "ffn_down.weight"), ff, dim), null, act);
    }

    public int width() {
        return down.cols();
    }

    /** out = FFN(x) for n rows; gate and up are work buffers of n × width() floats. out may be x. */
    public void forward(float[] x, int n, float[] gate, float[] up, float[] out) {
        Matrix.matmulAll(x, n, gateUp, new float[][]{gate, up});
        Ops.addBias(gate, gateBias, n);
        Ops.addBias(up, upBias, n);
        int len = n * width();
        switch (act) {
            case SILU -> Parallel.forRange(len, 4096, (s, e) -> VectorMath.swiglu(gate, up, s, e));
            case GELU -> Parallel.forRange(len, 4096, (s, e) -> geglu(gate, up, s, e));
        }
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
