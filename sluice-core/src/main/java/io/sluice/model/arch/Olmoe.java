package io.sluice.model.arch;

import io.sluice.gguf.GGUFFile;
import io.sluice.model.Batch;
import io.sluice.model.KvStore;
import io.sluice.model.Weights;
import io.sluice.model.nn.Attention;
import io.sluice.model.nn.Ffn;
import io.sluice.model.nn.Moe;
import io.sluice.model.nn.Norm;
import io.sluice.model.nn.Ops;
import io.sluice.model.nn.Qkv;
import io.sluice.model.nn.Rope;
import io.sluice.tensor.Matrix;

/**
 * olmoe (OLMoE-1B-7B): pre-norm blocks whose whole Q and whole K projections are RMS-normalised
 * before NeoX RoPE (as OLMo 2's), and a mixture of experts: softmax over every expert, the top k
 * kept unnormalised, SwiGLU experts of feed_forward_length. Own output matrix.
 */
final class Olmoe extends Decoder {
    private record Layer(float[] attnNorm, Qkv qkv, float[] qNorm, float[] kNorm, Attention attn, Matrix wo, float[] ffnNorm, Moe moe) {
    }

    private final Layer[] layers;
    private final Rope rope;

    Olmoe(GGUFFile file, int context) {
        super(file, Output.OWN);
        rope = new Rope(rope(Rope.Type.NEOX));
        Moe.Routing routing = Moe.Routing.read(hp, Moe.Gating.SOFTMAX, false);
        layers = new Layer[hp.nLayers];
        Attention[] attn = new Attention[layers.length];
        for (int l = 0; l < layers.length; l++) {
            Attention.Options a = Attention.Options.standard(hp.nHeads[l], hp.nKvHeads[l], hp.headDim);
            attn[l] = new Attention(l, a);
            layers[l] = new Layer(weights.vector(Weights.layer(l, "attn_norm.weight"), dim),
                    Qkv.load(weights, l, dim, a.qDim(), a.kvDim()),
                    weights.vector(Weights.layer(l, "attn_q_norm.weight"), a.qDim()),
                    weights.vector(Weights.layer(l, "attn_k_norm.weight"), a.kvDim()), attn[l],
                    weights.matrix(Weights.layer(l, "attn_output.weight"), a.qDim(), dim),
                    weights.vector(Weights.layer(l, "ffn_norm.weight"), dim),
                    Moe.load(weights, l, dim, hp.ffnDim[l], routing, Ffn.Activation.SILU, 0, moeWorkspace()));
        }
        plan(attn, 0, rope);
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
            Norm.rms(s.q, s.q, L.qNorm, n, eps);
            Norm.rms(s.k, s.k, L.kNorm, n, eps);
            rope.rotate(s.q, a.heads(), n);
            rope.rotate(s.k, a.kvHeads(), n);
            L.attn.forward(b, kv, s.q, s.k, s.v, s.att, attentionWorkspace());
            L.wo.matmul(s.att, s.xb, n);
            Ops.add(s.x, s.xb, n * dim);

            Norm.rms(s.xb, s.x, L.ffnNorm, n, eps);
            L.moe.forward(s.xb, n, s.hb, s.hb2, s.xb);
            Ops.add(s.x, s.xb, n * dim);
        }
        logits(b, s, logits);
    }
}
