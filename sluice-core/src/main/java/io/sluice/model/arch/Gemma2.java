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
 * gemma2 (Gemma 2): embeddings × √dim; RMSNorm before and after both attention and the GeGLU
 * feed-forward; attention logits soft-capped (cap · tanh(s / cap)); local layers with a sliding
 * window alternating with global ones (attention.sliding_window_pattern, default period 2); final
 * logits soft-capped; output tied to the embedding.
 */
final class Gemma2 extends Decoder {
    private record Layer(float[] attnNorm, Qkv qkv, Rope rope, Attention attn, Matrix wo, float[] postAttnNorm,
                         float[] ffnNorm, Ffn ffn, float[] postFfnNorm) {
    }

    private final Layer[] layers;
    private final float finalSoftCap;

    Gemma2(GGUFFile file, int context) {
        super(file, Output.TIED);
        int window = hp.nonNegativeInt("attention.sliding_window", 4096);
        if (window == 0) throw hp.error("attention.sliding_window", "must be at least 1 (Gemma 2's local layers need a window)");
        boolean[] local = hp.slidingLayers(2);
        float attnCap = hp.positive("attn_logit_softcapping", 50f);
        finalSoftCap = hp.positive("final_logit_softcapping", 30f);
        Rope global = new Rope(rope(Rope.Type.NEOX));
        Rope swa = new Rope(rope(Rope.Type.NEOX).withBase(hp.positive("rope.freq_base_swa", hp.ropeBase), hp.ropeFreqScale));
        layers = new Layer[hp.nLayers];
        Attention[] attn = new Attention[layers.length];
        for (int l = 0; l < layers.length; l++) {
            Attention.Options a = new Attention.Options(hp.nHeads[l], hp.nKvHeads[l], hp.headDim, queryScale(l),
                    local[l] ? window : 0, attnCap, null);
            attn[l] = new Attention(l, a);
            layers[l] = new Layer(weights.vector(Weights.layer(l, "attn_norm.weight"), dim),
                    Qkv.load(weights, l, dim, a.qDim(), a.kvDim()), local[l] ? swa : global, attn[l],
                    weights.matrix(Weights.layer(l, "attn_output.weight"), a.qDim(), dim),
                    weights.vector(Weights.layer(l, "post_attention_norm.weight"), dim),
                    weights.vector(Weights.layer(l, "ffn_norm.weight"), dim),
                    Ffn.load(weights, l, dim, hp.ffnDim[l], Ffn.Activation.GELU),
                    weights.vector(Weights.layer(l, "post_ffw_norm.weight"), dim));
        }
        plan(attn, maxFfn(), global, swa);
    }

    /** 1/√head_dim, except Gemma 2 27B (46 layers): 1/√(dim / heads), as google's query_pre_attn_scalar. */
    private float queryScale(int l) {
        return (float) (1 / Math.sqrt(hp.nLayers == 46 ? (double) dim / hp.nHeads[l] : hp.headDim));
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
