package io.sluice.model.arch;

import io.sluice.gguf.GGUFException;
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

/**
 * granite (IBM Granite 3.x dense): Llama's block with four multipliers: embeddings ×
 * embedding_scale, attention scores × attention.scale (instead of 1/√head_dim), both residual
 * branches × residual_scale, logits ÷ logit_scale; each optional except logit_scale, as in
 * llama.cpp. rope.scaling.finetuned false turns RoPE off.
 */
final class Granite extends Decoder {
    private record Layer(float[] attnNorm, Qkv qkv, Attention attn, Matrix wo, float[] woBias, float[] ffnNorm, Ffn ffn) {
    }

    private final Layer[] layers;
    private final Rope rope;
    private final float embeddingScale, residualScale, logitScale;

    Granite(GGUFFile file, int context) {
        super(file, Output.OWN_OR_TIED);
        if (!hp.has("logit_scale")) throw new GGUFException(file.path() + ": missing metadata key '" + hp.key("logit_scale") + "'");
        logitScale = hp.positive("logit_scale", 1f);
        embeddingScale = multiplier("embedding_scale");
        residualScale = multiplier("residual_scale");
        float attnScale = hp.nonNegative("attention.scale", 0f);
        if (attnScale == 0f) attnScale = (float) (1 / Math.sqrt(hp.headDim));
        rope = hp.flag("rope.scaling.finetuned", true) ? new Rope(rope(Rope.Type.NORMAL).withFactors(frequencyFactors(context(context)))) : null;
        layers = new Layer[hp.nLayers];
        Attention[] attn = new Attention[layers.length];
        for (int l = 0; l < layers.length; l++) {
            Attention.Options a = new Attention.Options(hp.nHeads[l], hp.nKvHeads[l], hp.headDim, attnScale, 0, 0f, null);
            attn[l] = new Attention(l, a);
            layers[l] = new Layer(weights.vector(Weights.layer(l, "attn_norm.weight"), dim),
                    Qkv.load(weights, l, dim, a.qDim(), a.kvDim()), attn[l],
                    weights.matrix(Weights.layer(l, "attn_output.weight"), a.qDim(), dim),
                    weights.optionalVector(Weights.layer(l, "attn_output.bias"), dim),
                    weights.vector(Weights.layer(l, "ffn_norm.weight"), dim),
                    Ffn.load(weights, l, dim, hp.ffnDim[l], Ffn.Activation.SILU));
        }
        if (rope != null) plan(attn, maxFfn(), rope);
        else plan(attn, maxFfn());
    }

    /** A multiplier: finite, not negative; absent or 0 means none, as llama.cpp reads it. */
    private float multiplier(String key) {
        float v = hp.nonNegative(key, 0f);
        return v == 0f ? 1f : v;
    }

    @Override
    public void forward(Batch b, KvStore kv, float[] logits) {
        Scratch s = embed(b, embeddingScale);
        int n = b.size;
        float eps = hp.rmsEps;
        for (Layer L : layers) {
            Attention.Options a = L.attn.options();
            Norm.rms(s.xb, s.x, L.attnNorm, n, eps);
            L.qkv.forward(s.xb, n, s.q, s.k, s.v);
            if (rope != null) {
                rope.rotate(s.q, a.heads(), n);
                rope.rotate(s.k, a.kvHeads(), n);
            }
            L.attn.forward(b, kv, s.q, s.k, s.v, s.att, attentionWorkspace());
            L.wo.matmul(s.att, s.xb, n);
            Ops.addBias(s.xb, L.woBias, n);
            Ops.scale(s.xb, n * dim, residualScale);
            Ops.add(s.x, s.xb, n * dim);

            Norm.rms(s.xb, s.x, L.ffnNorm, n, eps);
            L.ffn.forward(s.xb, n, s.hb, s.hb2, s.xb);
            Ops.scale(s.xb, n * dim, residualScale);
            Ops.add(s.x, s.xb, n * dim);
        }
        int count = logits(b, s, logits);
        Ops.scale(logits, count, 1f / logitScale);
    }
}
