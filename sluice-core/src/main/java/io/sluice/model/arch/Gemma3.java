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

/**
 * gemma3 (Gemma 3 text): Gemma 2's sandwich of RMSNorms and GeGLU, without attention
 * soft-capping but with an RMSNorm of each Q and K head; local sliding-window layers (by default
 * five of every six, attention.sliding_window_pattern) use RoPE base rope.freq_base_swa unscaled,
 * the global ones rope.freq_base with the file's scaling. Final soft-capping only when the file
 * sets it.
 */
final class Gemma3 extends Decoder {
    private record Layer(float[] attnNorm, Qkv qkv, float[] qNorm, float[] kNorm, Rope rope, Attention attn, Matrix wo,
                         float[] postAttnNorm, float[] ffnNorm, Ffn ffn, float[] postFfnNorm) {
    }

    private final Layer[] layers;
    private final float finalSoftCap;

    Gemma3(GGUFFile file, int context) {
        super(file, Output.OWN_OR_TIED);
        int window = hp.nonNegativeInt("attention.sliding_window", 0);
        boolean[] local = window > 0 ? hp.slidingLayers(6) : new boolean[hp.nLayers];
        finalSoftCap = hp.has("final_logit_softcapping") ? hp.positive("final_logit_softcapping", 0f) : 0f;
        Rope global = new Rope(rope(Rope.Type.NEOX));
        Rope swa = new Rope(rope(Rope.Type.NEOX).withBase(hp.positive("rope.freq_base_swa", 10000f), 1f));
        layers = new Layer[hp.nLayers];
        Attention[] attn = new Attention[layers.length];
        for (int l = 0; l < layers.length; l++) {
            Attention.Options a = new Attention.Options(hp.nHeads[l], hp.nKvHeads[l], hp.headDim, queryScale(l),
                    local[l] ? window : 0, 0f, null);
            attn[l] = new Attention(l, a);
            layers[l] = new Layer(weights.vector(Weights.layer(l, "attn_norm.weight"), dim),
                    Qkv.load(weights, l, dim, a.qDim(), a.kvDim()),
                    weights.vector(Weights.layer(l, "attn_q_norm.weight"), hp.headDim),
                    weights.vector(Weights.layer(l, "attn_k_norm.weight"), hp.headDim), local[l] ? swa : global, attn[l],
                    weights.matrix(Weights.layer(l, "attn_output.weight"), a.qDim(), dim),
                    weights.vector(Weights.layer(l, "post_attention_norm.weight"), dim),
                    weights.vector(Weights.layer(l, "ffn_norm.weight"), dim),
                    Ffn.load(weights, l, dim, hp.ffnDim[l], Ffn.Activation.GELU),
                    weights.vector(Weights.layer(l, "post_ffw_norm.weight"), dim));
        }
        plan(attn, maxFfn(), global, swa);
    }

    /** 1/√head_dim, except Gemma 3 27B (62 layers): 1/√(dim / heads), as google's query_pre_attn_scalar. */
    private float queryScale(int l) {
        return (float) (1 / Math.sqrt(hp.nLayers == 62 ? (double) dim / hp.nHeads[l] : hp.headDim));
    }

    @Override
    public void forward(Batch b, KvStore kv, float[] logits) {
        Scratch s = embed(b, (float) Math.sqrt(dim));
        int n = b.size;
        float eps = hp.rmsEps;
        for (Layer L : layers) {
            Attention.Options a = L.attn.options();
            Norm.rms(s.xb, s.x, L.attnNorm, n, eps);
            L.qkv.forward(s.xb, n, s.q, s.k, s.v);
            Norm.rmsPerHead(s.q, L.qNorm, n, a.heads(), eps);
            Norm.rmsPerHead(s.k, L.kNorm, n, a.kvHeads(), eps);
            L.rope.rotate(s.q, a.heads(), n);
            L.rope.rotate(s.k, a.kvHeads(), n);
            L.attn.forward(b, kv, s.q, s.k, s.v, s.att, attentionWorkspace());
            L.wo.matmul(s.att, s.xb, n);
            Norm.addRms(s.x, s.xb, L.postAttnNorm, n, eps);

            Norm.rms(s.xb, s.x, L.ffnNorm, n, eps);
            L.ffn.forward(s.xb, n, s.hb, s.hb2, s.xb);
            Norm.addRms(s.x, s.xb, L.postFfnNorm, n, eps);
        }
        int count = logits(b, s, logits);
        Ops.softCap(logits, count, finalSoftCap);
    }
}
