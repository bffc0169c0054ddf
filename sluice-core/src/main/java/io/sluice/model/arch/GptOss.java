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
 * gpt-oss (gpt-oss-20b, -120b; llama.cpp's openai-moe): pre-norm blocks with Q/K/V and output
 * biases; learned per-head attention sinks; a sliding window of
 * {@code attention.sliding_window} on alternate layers (even layers local unless
 * {@code sliding_window_pattern} says otherwise) and full attention on the others; NeoX RoPE with
 * the file's scaling (YaRN) on both kinds, local layers at {@code rope.freq_base_swa} when given;
 * scores scaled by 1/√rope dims. {@code post_attention_norm} is the feed-forward's pre-norm. The
 * feed-forward is a mixture of experts: the router's biased logits pick the top k, weighted by a
 * softmax over just those k; experts have biases and use the clamped SwiGLU.
 */
final class GptOss extends Decoder {
    private record Layer(float[] attnNorm, Qkv qkv, Rope rope, Attention attn, Matrix wo, float[] woBias, float[] ffnNorm, Moe moe) {
    }

    private final Layer[] layers;

    GptOss(GGUFFile file, int context) {
        super(file, Output.OWN);
        int window = hp.count("attention.sliding_window", Integer.MAX_VALUE);
        boolean[] local = hp.slidingLayers(2);
        Rope.Spec spec = rope(Rope.Type.NEOX);
        Rope global = new Rope(spec);
        Rope swa = hp.has("rope.freq_base_swa") ? new Rope(spec.withBase(hp.positive("rope.freq_base_swa", hp.ropeBase), spec.freqScale())) : global;
        Moe.Routing routing = Moe.Routing.read(hp, Moe.Gating.SOFTMAX_WEIGHT, false);
        int ff = hp.count("expert_feed_forward_length", 1 << 24);
        float scale = (float) (1 / Math.sqrt(hp.ropeDim));
        layers = new Layer[hp.nLayers];
        Attention[] attn = new Attention[layers.length];
        for (int l = 0; l < layers.length; l++) {
            int heads = hp.nHeads[l];
            Attention.Options a = new Attention.Options(heads, hp.nKvHeads[l], hp.headDim, scale, local[l] ? window : 0, 0f,
                    weights.vector(Weights.layer(l, "attn_sinks.weight"), heads));
            attn[l] = new Attention(l, a);
            layers[l] = new Layer(weights.vector(Weights.layer(l, "attn_norm.weight"), dim),
                    Qkv.load(weights, l, dim, a.qDim(), a.kvDim()), local[l] ? swa : global, attn[l],
                    weights.matrix(Weights.layer(l, "attn_output.weight"), a.qDim(), dim),
                    weights.vector(Weights.layer(l, "attn_output.bias"), dim),
                    weights.vector(Weights.layer(l, "post_attention_norm.weight"), dim),
                    Moe.load(weights, l, dim, ff, routing, Ffn.Activation.SWIGLU_OAI, 0, moeWorkspace()));
        }
        plan(attn, 0, swa == global ? new Rope[]{global} : new Rope[]{global, swa});
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
            L.rope.rotate(s.q, a.heads(), n);
            L.rope.rotate(s.k, a.kvHeads(), n);
            L.attn.forward(b, kv, s.q, s.k, s.v, s.att, attentionWorkspace());
            L.wo.matmul(s.att, s.xb, n);
            Ops.addBias(s.xb, L.woBias, n);
            Ops.add(s.x, s.xb, n * dim);

            Norm.rms(s.xb, s.x, L.ffnNorm, n, eps);
            L.moe.forward(s.xb, n, s.hb, s.hb2, s.xb);
            Ops.add(s.x, s.xb, n * dim);
        }
        logits(b, s, logits);
    }
}
