package io.sluice.model.arch;

import io.sluice.gguf.GGUFFile;
import io.sluice.model.Batch;
import io.sluice.model.KvStore;
import io.sluice.model.Weights;
import io.sluice.model.nn.Attention;
import io.sluice.model.nn.Ffn;
import io.sluice.model.nn.Norm;
import io.sluice.model.nn.Qkv;
import io.sluice.model.nn.Rope;
import io.sluice.tensor.Matrix;

/**
 * olmo2 (OLMo 2, and OLMo 3 with its sliding-window layers): no norm before attention or the
 * feed-forward; the whole Q and the whole K projection RMS-normalised before NeoX RoPE; RMSNorm
 * after attention and after the SwiGLU feed-forward, on the branch outputs. Own output matrix.
 */
final class Olmo2 extends Decoder {
    private record Layer(Qkv qkv, float[] qNorm, float[] kNorm, Rope rope, Attention attn, Matrix wo, float[] postAttnNorm,
                         Ffn ffn, float[] postFfnNorm) {
    }

    private final Layer[] layers;

    Olmo2(GGUFFile file, int context) {
        super(file, Output.OWN);
        int window = hp.nonNegativeInt("attention.sliding_window", 0);
        boolean[] local = window > 0 ? hp.slidingLayers(4) : new boolean[hp.nLayers];
        Rope global = new Rope(rope(Rope.Type.NEOX));
        // OLMo 3's local layers: plain RoPE at the global base, no scaling.
        Rope swa = new Rope(Rope.Spec.plain(Rope.Type.NEOX, hp.ropeDim, hp.headDim, hp.ropeBase));
        layers = new Layer[hp.nLayers];
        Attention[] attn = new Attention[layers.length];
        for (int l = 0; l < layers.length; l++) {
            Attention.Options a = new Attention.Options(hp.nHeads[l], hp.nKvHeads[l], hp.headDim, (float) (1 / Math.sqrt(hp.headDim)),
                    local[l] ? window : 0, 0f, null);
            attn[l] = new Attention(l, a);
            layers[l] = new Layer(Qkv.load(weights, l, dim, a.qDim(), a.kvDim()),
                    weights.vector(Weights.layer(l, "attn_q_norm.weight"), a.qDim()),
                    weights.vector(Weights.layer(l, "attn_k_norm.weight"), a.kvDim()), local[l] ? swa : global, attn[l],
                    weights.matrix(Weights.layer(l, "attn_output.weight"), a.qDim(), dim),
                    weights.vector(Weights.layer(l, "post_attention_norm.weight"), dim),
                    Ffn.load(weights, l, dim, hp.ffnDim[l], Ffn.Activation.SILU),
                    weights.vector(Weights.layer(l, "post_ffw_norm.weight"), dim));
        }
        plan(attn, maxFfn(), global, swa);
    }

    @Override
    public void forward(Batch b, KvStore kv, float[] logits) {
        Scratch s = embed(b, 1f);
        int n = b.size;
        float eps = hp.rmsEps;
        for (Layer L : layers) {
            Attention.Options a = L.attn.options();
            L.qkv.forward(s.x, n, s.q, s.k, s.v);
            Norm.rms(s.q, s.q, L.qNorm, n, eps);
            Norm.rms(s.k, s.k, L.kNorm, n, eps);
            L.rope.rotate(s.q, a.heads(), n);
            L.rope.rotate(s.k, a.kvHeads(), n);
            L.attn.forward(b, kv, s.q, s.k, s.v, s.att, attentionWorkspace());
            L.wo.matmul(s.att, s.xb, n);
            Norm.addRms(s.x, s.xb, L.postAttnNorm, n, eps);

            L.ffn.forward(s.x, n, s.hb, s.hb2, s.xb);
            Norm.addRms(s.x, s.xb, L.postFfnNorm, n, eps);
        }
        logits(b, s, logits);
    }
}
