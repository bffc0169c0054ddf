package io.sluice.model.arch;

import io.sluice.gguf.GGUFFile;
import io.sluice.model.Batch;
import io.sluice.model.KvStore;
import io.sluice.model.Weights;
import io.sluice.model.nn.Attention;
import io.sluice.model.nn.Ffn;
import io.sluice.model.nn.Norm;
import io.sluice.model.nn.Ops;
import io.sluice.model.nn.Qkv;
import io.sluice.model.nn.Rope;
import io.sluice.tensor.Matrix;
import io.sluice.tensor.VectorMath;

/**
 * mistral3 (Ministral 3, Mistral Small 3.x text): Llama's block with YaRN RoPE (its betas and
 * yarn_log_multiplier read from the file) and Llama 4's attention temperature: after RoPE, the
 * queries at position p are multiplied by 1 + temperature_scale · ln(⌊p / original context⌋ + 1).
 */
final class Mistral3 extends Decoder {
    private record Layer(float[] attnNorm, Qkv qkv, Attention attn, Matrix wo, float[] woBias, float[] ffnNorm, Ffn ffn) {
    }

    private final Layer[] layers;
    private final Rope rope;
    /** attention.temperature_scale; 0 = none. */
    private final float temperatureScale;

    Mistral3(GGUFFile file, int context) {
        super(file, Output.OWN_OR_TIED);
        temperatureScale = hp.number("attention.temperature_scale", 0f);
        rope = new Rope(rope(Rope.Type.NORMAL, hp.positive("rope.scaling.yarn_beta_fast", 32f), hp.positive("rope.scaling.yarn_beta_slow", 1f),
                hp.number("rope.scaling.yarn_log_multiplier", 0f)).withFactors(frequencyFactors(context(context))));
        layers = new Layer[hp.nLayers];
        Attention[] attn = new Attention[layers.length];
        for (int l = 0; l < layers.length; l++) {
            Attention.Options a = Attention.Options.standard(hp.nHeads[l], hp.nKvHeads[l], hp.headDim);
            attn[l] = new Attention(l, a);
            layers[l] = new Layer(weights.vector(Weights.layer(l, "attn_norm.weight"), dim),
                    Qkv.load(weights, l, dim, a.qDim(), a.kvDim()), attn[l],
                    weights.matrix(Weights.layer(l, "attn_output.weight"), a.qDim(), dim),
                    weights.optionalVector(Weights.layer(l, "attn_output.bias"), dim),
                    weights.vector(Weights.layer(l, "ffn_norm.weight"), dim),
                    Ffn.load(weights, l, dim, hp.ffnDim[l], Ffn.Activation.SILU));
        }
        plan(attn, maxFfn(), rope);
    }

    /** Multiplies each token's queries by its position's attention temperature (nothing when the scale is 0). */
    private void temperature(Batch b, float[] q, int qDim) {
        if (temperatureScale == 0f) return;
        for (int t = 0; t < b.size; t++) {
            double m = Math.log(Math.floor((double) b.positions[t] / hp.ropeOrigContext) + 1) * temperatureScale + 1;
            VectorMath.scale(q, t * qDim, qDim, (float) m);
        }
    }

    @Override
    public void forward(Batch b, KvStore kv, float[] logits) {
        Scratch s = embed(b, 1f);
        int n = b.size;
        float eps = hp.rmsEps;
        for (Layer L : layers) {
            Attention.Options a = L.attn.options();
            Norm.rms(s.xb, s.x, L.attnNorm, n, eps);
            L.qkv.forward(s.xb, n, s.q, s.k, s.v);
            rope.rotate(s.q, a.heads(), n);
            rope.rotate(s.k, a.kvHeads(), n);
            temperature(b, s.q, a.qDim());
            L.attn.forward(b, kv, s.q, s.k, s.v, s.att, attentionWorkspace());
            L.wo.matmul(s.att, s.xb, n);
            Ops.addBias(s.xb, L.woBias, n);
            Ops.add(s.x, s.xb, n * dim);

            Norm.rms(s.xb, s.x, L.ffnNorm, n, eps);
            L.ffn.forward(s.xb, n, s.hb, s.hb2, s.xb);
            Ops.add(s.x, s.xb, n * dim);
        }
        logits(b, s, logits);
    }
}
