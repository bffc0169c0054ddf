package io.sluice.model.arch;

import io.sluice.gguf.GGUFFile;
import io.sluice.model.Batch;
import io.sluice.model.KvStore;
import io.sluice.model.Weights;
import io.sluice.model.nn.Attention;
import io.sluice.model.nn.FeedForward;
import io.sluice.model.nn.Norm;
import io.sluice.model.nn.Ops;
import io.sluice.model.nn.Qkv;
import io.sluice.model.nn.Rope;
import io.sluice.tensor.Matrix;

/**
 * qwen3 (Qwen3 dense): Llama's block with an RMSNorm of every Q and K head before NeoX RoPE, and
 * heads of {@code attention.key_length} values, so Q may be wider than the embedding.
 */
final class Qwen3 extends Decoder {
    private record Layer(float[] attnNorm, Qkv qkv, float[] qNorm, float[] kNorm, Attention attn, Matrix wo,
                         float[] ffnNorm, FeedForward ffn) {
    }

    private final Layer[] layers;
    private final Rope rope;

    Qwen3(GGUFFile file, int context, FeedForwardLoader ffn) {
        super(file, Output.OWN_OR_TIED);
        rope = new Rope(rope(Rope.Type.NEOX));
        layers = new Layer[hp.nLayers];
        Attention[] attn = new Attention[layers.length];
        FeedForward[] ffns = new FeedForward[layers.length];
        for (int l = 0; l < layers.length; l++) {
            Attention.Options a = Attention.Options.standard(hp.nHeads[l], hp.nKvHeads[l], hp.headDim);
            attn[l] = new Attention(l, a);
            ffns[l] = ffn.load(this, l);
            layers[l] = new Layer(weights.vector(Weights.layer(l, "attn_norm.weight"), dim),
                    Qkv.load(weights, l, dim, a.qDim(), a.kvDim()),
                    weights.vector(Weights.layer(l, "attn_q_norm.weight"), hp.headDim),
                    weights.vector(Weights.layer(l, "attn_k_norm.weight"), hp.headDim), attn[l],
                    weights.matrix(Weights.layer(l, "attn_output.weight"), a.qDim(), dim),
                    weights.vector(Weights.layer(l, "ffn_norm.weight"), dim), ffns[l]);
        }
        plan(attn, FeedForward.maxWidth(ffns), rope);
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
            Norm.rmsPerHead(s.q, L.qNorm, n, a.heads(), eps);
            Norm.rmsPerHead(s.k, L.kNorm, n, a.kvHeads(), eps);
            rope.rotate(s.q, a.heads(), n);
            rope.rotate(s.k, a.kvHeads(), n);
            L.attn.forward(b, kv, s.q, s.k, s.v, s.att, attentionWorkspace());
            L.wo.matmul(s.att, s.xb, n);
            Ops.add(s.x, s.xb, n * dim);

            Norm.rms(s.xb, s.x, L.ffnNorm, n, eps);
            L.ffn.forward(s.xb, n, s.hb, s.hb2, s.xb);
            Ops.add(s.x, s.xb, n * dim);
        }
        logits(b, s, logits);
    }
}
