package io.sluice.model.arch;

import io.sluice.gguf.GGUFFile;
import io.sluice.model.Batch;
import io.sluice.model.Weights;
import io.sluice.model.nn.BidirectionalAttention;
import io.sluice.model.nn.Ffn;
import io.sluice.model.nn.Norm;
import io.sluice.model.nn.Ops;
import io.sluice.model.nn.Pooling;
import io.sluice.model.nn.Qkv;
import io.sluice.model.nn.Rope;
import io.sluice.tensor.Matrix;
import io.sluice.tensor.VectorMath;

/**
 * The BERT family, as llama.cpp's one bert graph runs it: the token embedding plus token type
 * 0's row (and learned positions), LayerNorm with bias, then post-norm blocks: self-attention over
 * the whole sequence with biases, added to the layer input and LayerNorm'ed; the feed-forward,
 * added and LayerNorm'ed again. The variants differ in how positions enter and in the
 * feed-forward:
 * <ul>
 * <li>bert (all-MiniLM, bge, e5): learned position embeddings, GELU after ffn_up, no gate;</li>
 * <li>nomic-bert: fused Q|K|V, NeoX RoPE on Q and K, SwiGLU without biases;</li>
 * <li>jina-bert-v2: ALiBi (maximum bias 8), optional LayerNorms of Q and K and a second
 * post-attention LayerNorm (attn_norm_2, the input added once more), GeGLU from one ffn_up of
 * gate | up rows or GELU(ffn_gate)·ffn_up.</li>
 * </ul>
 */
final class Bert extends Encoder {
    /** How positions enter the model. */
    enum Positions {
        /** position_embd.weight rows added to the input (bert). */
        LEARNED,
        /** NeoX rotary on Q and K (nomic-bert). */
        ROPE,
        /** ALiBi biases on the attention scores (jina-bert-v2). */
        ALIBI
    }

    /** How a layer's feed-forward is loaded. */
    @FunctionalInterface
    interface FfnLoader {
        Ffn load(Bert m, int l);
    }

    static final FfnLoader GELU = (m, l) -> Ffn.loadSequential(m.weights, l, m.dim, m.hp.ffnDim[l], Ffn.Activation.GELU);
    static final FfnLoader SWIGLU = (m, l) -> Ffn.load(m.weights, l, m.dim, m.hp.ffnDim[l], Ffn.Activation.SILU);
    /** jina-bert-v2: ffn_up holds gate | up when it has twice feed_forward_length rows, else GELU(ffn_gate)·ffn_up. */
    static final FfnLoader JINA = (m, l) -> {
        var up = m.file.tensor(Weights.layer(l, "ffn_up.weight"));
        boolean fused = up != null && up.rows() == 2L * m.hp.ffnDim[l] && !m.weights.has(Weights.layer(l, "ffn_gate.weight"));
        return fused ? Ffn.loadFused(m.weights, l, m.dim, m.hp.ffnDim[l], Ffn.Activation.GELU)
                : Ffn.load(m.weights, l, m.dim, m.hp.ffnDim[l], Ffn.Activation.GELU);
    };

    private record Layer(Qkv qkv, float[] qNorm, float[] qNormBias, float[] kNorm, float[] kNormBias, BidirectionalAttention attn,
                         Matrix wo, float[] woBias, float[] attnOutNorm, float[] attnOutNormBias, float[] attnNorm2,
                         float[] attnNorm2Bias, Ffn ffn, float[] outNorm, float[] outNormBias) {
    }

    private final Layer[] layers;
    private final float[] typeEmbedding;
    private final Matrix positionEmbedding;
    private final float[] embedNorm, embedNormBias;
    private final Rope rope;
    private final float eps;

    Bert(GGUFFile file, Pooling pooling, Positions positions, FfnLoader ffn) {
        super(file, pooling);
        eps = hp.positive("attention.layer_norm_epsilon", 1e-12f);
        typeEmbedding = optionalRow("token_types.weight", dim, 0);
        positionEmbedding = positions == Positions.LEARNED ? weights.matrix("position_embd.weight", dim, hp.contextLength) : null;
        embedNorm = weights.vector("token_embd_norm.weight", dim);
        embedNormBias = weights.vector("token_embd_norm.bias", dim);
        rope = positions == Positions.ROPE ? new Rope(Decoder.rope(hp, Rope.Type.NEOX, 32f, 1f, 0f)) : null;
        float alibi = positions == Positions.ALIBI ? 8f : 0f;
        layers = new Layer[hp.nLayers];
        int ffnWidth = 0;
        for (int l = 0; l < layers.length; l++) {
            var a = new BidirectionalAttention.Options(hp.nHeads[l], hp.nKvHeads[l], hp.headDim, (float) (1 / Math.sqrt(hp.headDim)),
                    BidirectionalAttention.ALL, alibi);
            Ffn f = ffn.load(this, l);
            ffnWidth = Math.max(ffnWidth, f.width());
            layers[l] = new Layer(Qkv.load(weights, l, dim, a.qDim(), a.kvDim()),
                    weights.optionalVector(Weights.layer(l, "attn_q_norm.weight"), a.qDim()),
                    weights.optionalVector(Weights.layer(l, "attn_q_norm.bias"), a.qDim()),
                    weights.optionalVector(Weights.layer(l, "attn_k_norm.weight"), a.kvDim()),
                    weights.optionalVector(Weights.layer(l, "attn_k_norm.bias"), a.kvDim()),
                    new BidirectionalAttention(a),
                    weights.matrix(Weights.layer(l, "attn_output.weight"), a.qDim(), dim),
                    weights.optionalVector(Weights.layer(l, "attn_output.bias"), dim),
                    weights.vector(Weights.layer(l, "attn_output_norm.weight"), dim),
                    weights.vector(Weights.layer(l, "attn_output_norm.bias"), dim),
                    weights.optionalVector(Weights.layer(l, "attn_norm_2.weight"), dim),
                    weights.optionalVector(Weights.layer(l, "attn_norm_2.bias"), dim), f,
                    weights.vector(Weights.layer(l, "layer_output_norm.weight"), dim),
                    weights.vector(Weights.layer(l, "layer_output_norm.bias"), dim));
        }
        int q = hp.nHeads[0] * hp.headDim, kv = hp.nKvHeads[0] * hp.headDim;
        for (int l = 1; l < layers.length; l++) {
            q = Math.max(q, hp.nHeads[l] * hp.headDim);
            kv = Math.max(kv, hp.nKvHeads[l] * hp.headDim);
        }
        if (rope != null) plan(q, kv, ffnWidth, hp.headDim, rope);
        else plan(q, kv, ffnWidth, hp.headDim);
    }

    @Override
    protected Decoder.Scratch forward(Batch b, int[] starts) {
        Decoder.Scratch s = embed(b, 1f);
        int n = b.size;
        for (int t = 0; t < n; t++) {
            if (typeEmbedding != null) VectorMath.axpy(1f, typeEmbedding, 0, s.x, t * dim, dim);
            if (positionEmbedding != null) {
                positionEmbedding.row(b.positions[t], s.xb, 0);
                VectorMath.axpy(1f, s.xb, 0, s.x, t * dim, dim);
            }
        }
        Norm.layer(s.x, s.x, embedNorm, embedNormBias, n, eps);
        for (Layer L : layers) {
            var a = L.attn.options();
            L.qkv.forward(s.x, n, s.q, s.k, s.v);
            if (L.qNorm != null) Norm.layer(s.q, s.q, L.qNorm, L.qNormBias, n, eps);
            if (L.kNorm != null) Norm.layer(s.k, s.k, L.kNorm, L.kNormBias, n, eps);
            if (rope != null) {
                rope.rotate(s.q, a.heads(), n);
                rope.rotate(s.k, a.kvHeads(), n);
            }
            L.attn.forward(b, starts, s.q, s.k, s.v, s.att, attentionWorkspace());
            L.wo.matmul(s.att, s.xb, n);
            Ops.addBias(s.xb, L.woBias, n);
            Ops.add(s.xb, s.x, n * dim);
            Norm.layer(s.xb, s.xb, L.attnOutNorm, L.attnOutNormBias, n, eps);
            if (L.attnNorm2 != null) {
                Ops.add(s.xb, s.x, n * dim);
                Norm.layer(s.xb, s.xb, L.attnNorm2, L.attnNorm2Bias, n, eps);
            }

            L.ffn.forward(s.xb, n, s.hb, s.hb2, s.x);
            Ops.add(s.x, s.xb, n * dim);
            Norm.layer(s.x, s.x, L.outNorm, L.outNormBias, n, eps);
        }
        return s;
    }
}
