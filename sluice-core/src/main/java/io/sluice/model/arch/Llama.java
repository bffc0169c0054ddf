package io.sluice.model.arch;

import io.sluice.gguf.GGUFFile;
import io.sluice.model.Batch;
import io.sluice.model.KvStore;
import io.sluice.model.Weights;
import io.sluice.model.nn.Attention;
import io.sluice.model.nn.FeedForward;
import io.sluice.model.nn.Ffn;
import io.sluice.model.nn.Moe;
import io.sluice.model.nn.Norm;
import io.sluice.model.nn.Ops;
import io.sluice.model.nn.Qkv;
import io.sluice.model.nn.Rope;
import io.sluice.tensor.Matrix;

/**
 * llama (Llama 2 and 3.x with rope_freqs, Mistral, TinyLlama, SmolLM; Mixtral's experts) and,
 * with NeoX RoPE, qwen2 (Qwen 1.5, 2, 2.5) and qwen2moe. Pre-norm blocks: RMSNorm, rotary attention
 * with grouped KV heads (optional Q/K/V and output biases), RMSNorm, a feed-forward from the
 * {@link FeedForwardLoader}: SwiGLU (optional biases) or a mixture of experts.
 */
final class Llama extends Decoder {
    private record Layer(float[] attnNorm, Qkv qkv, Attention attn, Matrix wo, float[] woBias, float[] ffnNorm, FeedForward ffn) {
    }

    /**
     * llama's feed-forward as llama.cpp decides it: dense SwiGLU, or with expert_count &gt; 0
     * Mixtral's experts (softmax over all of them, the top k renormalised to sum 1, experts of
     * feed_forward_length).
     */
    static final FeedForwardLoader FFN = (m, l) -> m.hp.integer("expert_count", 0) == 0 ? FeedForwardLoader.DENSE.load(m, l)
            : Moe.load(m.weights, l, m.dim, m.hp.ffnDim[l], Moe.Routing.read(m.hp, Moe.Gating.SOFTMAX, true), Ffn.Activation.SILU, 0,
            m.moeWorkspace());

    private final Layer[] layers;
    private final Rope rope;

    Llama(GGUFFile file, int context, Rope.Type ropeType, FeedForwardLoader ffn) {
        super(file, Output.OWN_OR_TIED);
        rope = new Rope(rope(ropeType).withFactors(frequencyFactors(context(context))));
        layers = new Layer[hp.nLayers];
        Attention[] attn = new Attention[layers.length];
        FeedForward[] ffns = new FeedForward[layers.length];
        for (int l = 0; l < layers.length; l++) {
            Attention.Options a = Attention.Options.standard(hp.nHeads[l], hp.nKvHeads[l], hp.headDim);
            attn[l] = new Attention(l, a);
            ffns[l] = ffn.load(this, l);
            layers[l] = new Layer(weights.vector(Weights.layer(l, "attn_norm.weight"), dim),
                    Qkv.load(weights, l, dim, a.qDim(), a.kvDim()), attn[l],
                    weights.matrix(Weights.layer(l, "attn_output.weight"), a.qDim(), dim),
                    weights.optionalVector(Weights.layer(l, "attn_output.bias"), dim),
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
            rope.rotate(s.q, a.heads(), n);
            rope.rotate(s.k, a.kvHeads(), n);
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
