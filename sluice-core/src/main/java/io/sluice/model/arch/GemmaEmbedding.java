package io.sluice.model.arch;

import io.sluice.gguf.GGUFFile;
import io.sluice.model.Batch;
import io.sluice.model.Weights;
import io.sluice.model.nn.BidirectionalAttention;
import io.sluice.model.nn.Ffn;
import io.sluice.model.nn.Norm;
import io.sluice.model.nn.Pooling;
import io.sluice.model.nn.Qkv;
import io.sluice.model.nn.Rope;
import io.sluice.tensor.Matrix;

/**
 * gemma-embedding (EmbeddingGemma): Gemma 3's blocks (sandwich RMSNorms, per-head Q/K RMSNorms,
 * GeGLU, embeddings scaled by √dim) run as an encoder. Attention sees the whole sequence; on the
 * local layers (five of every six by default, attention.sliding_window_pattern) only
 * sliding_window/2 positions either side (llama.cpp's symmetric window), with RoPE base
 * rope.freq_base_swa there and rope.freq_base on the global layers. Queries are scaled by
 * 1/√key_length. The final RMSNorm's output is pooled, then sentence-transformers' dense
 * projections (dense_2, dense_3) follow when the file has them.
 */
final class GemmaEmbedding extends Encoder {
    private record Layer(float[] attnNorm, Qkv qkv, float[] qNorm, float[] kNorm, Rope rope, BidirectionalAttention attn, Matrix wo,
                         float[] postAttnNorm, float[] ffnNorm, Ffn ffn, float[] postFfnNorm) {
    }

    private final Layer[] layers;
    private final float[] outputNorm;

    GemmaEmbedding(GGUFFile file, Pooling pooling) {
        super(file, pooling);
        int window = hp.count("attention.sliding_window", Integer.MAX_VALUE);
        boolean[] local = hp.slidingLayers(6);
        Rope global = new Rope(Decoder.rope(hp, Rope.Type.NEOX, 32f, 1f, 0f));
        Rope swa = new Rope(Decoder.rope(hp, Rope.Type.NEOX, 32f, 1f, 0f).withBase(hp.positive("rope.freq_base_swa", 10000f), 1f));
        outputNorm = weights.vector("output_norm.weight", dim);
        layers = new Layer[hp.nLayers];
        int q = 0, kv = 0;
        for (int l = 0; l < layers.length; l++) {
            var a = new BidirectionalAttention.Options(hp.nHeads[l], hp.nKvHeads[l], hp.headDim, (float) (1 / Math.sqrt(hp.headDim)),
                    local[l] ? window / 2 : BidirectionalAttention.ALL, 0f);
            q = Math.max(q, a.qDim());
            kv = Math.max(kv, a.kvDim());
            layers[l] = new Layer(weights.vector(Weights.layer(l, "attn_norm.weight"), dim),
                    Qkv.load(weights, l, dim, a.qDim(), a.kvDim()),
                    weights.vector(Weights.layer(l, "attn_q_norm.weight"), hp.headDim),
                    weights.vector(Weights.layer(l, "attn_k_norm.weight"), hp.headDim), local[l] ? swa : global,
                    new BidirectionalAttention(a),
                    weights.matrix(Weights.layer(l, "attn_output.weight"), a.qDim(), dim),
                    weights.vector(Weights.layer(l, "post_attention_norm.weight"), dim),
                    weights.vector(Weights.layer(l, "ffn_norm.weight"), dim),
                    Ffn.load(weights, l, dim, hp.ffnDim[l], Ffn.Activation.GELU),
                    weights.vector(Weights.layer(l, "post_ffw_norm.weight"), dim));
        }
        int ffn = 0;
        for (int f : hp.ffnDim) ffn = Math.max(ffn, f);
        plan(q, kv, ffn, hp.headDim, global, swa);
    }

    @Override
    protected Decoder.Scratch forward(Batch b, int[] starts) {
        Decoder.Scratch s = embed(b, (float) Math.sqrt(dim));
        int n = b.size;
        float eps = hp.rmsEps;
        for (Layer L : layers) {
            var a = L.attn.options();
            Norm.rms(s.xb, s.x, L.attnNorm, n, eps);
            L.qkv.forward(s.xb, n, s.q, s.k, s.v);
            Norm.rmsPerHead(s.q, L.qNorm, n, a.heads(), eps);
            Norm.rmsPerHead(s.k, L.kNorm, n, a.kvHeads(), eps);
            L.rope.rotate(s.q, a.heads(), n);
            L.rope.rotate(s.k, a.kvHeads(), n);
            L.attn.forward(b, starts, s.q, s.k, s.v, s.att, attentionWorkspace());
            L.wo.matmul(s.att, s.xb, n);
            Norm.addRms(s.x, s.xb, L.postAttnNorm, n, eps);

            Norm.rms(s.xb, s.x, L.ffnNorm, n, eps);
            L.ffn.forward(s.xb, n, s.hb, s.hb2, s.xb);
            Norm.addRms(s.x, s.xb, L.postFfnNorm, n, eps);
        }
        Norm.rms(s.x, s.x, outputNorm, n, eps);
        return s;
    }
}
