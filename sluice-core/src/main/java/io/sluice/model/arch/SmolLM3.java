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
 * smollm3 (SmolLM3): Llama's block, but every fourth layer ((l + 1) % 4 == 0) attends without
 * RoPE (NoPE), as llama.cpp's fixed step for this architecture.
 */
final class SmolLM3 extends Decoder {
    private static final int NO_ROPE_STEP = 4;

    private record Layer(float[] attnNorm, Qkv qkv, boolean rotary, Attention attn, Matrix wo, float[] woBias, float[] ffnNorm, Ffn ffn) {
    }

    private final Layer[] layers;
    private final Rope rope;

    SmolLM3(GGUFFile file, int context) {
        super(file, Output.OWN_OR_TIED);
        rope = new Rope(rope(Rope.Type.NORMAL));
        layers = new Layer[hp.nLayers];
        Attention[] attn = new Attention[layers.length];
        for (int l = 0; l < layers.length; l++) {
            Attention.Options a = Attention.Options.standard(hp.nHeads[l], hp.nKvHeads[l], hp.headDim);
            attn[l] = new Attention(l, a);
            layers[l] = new Layer(weights.vector(Weights.layer(l, "attn_norm.weight"), dim),
                    Qkv.load(weights, l, dim, a.qDim(), a.kvDim()), (l + 1) % NO_ROPE_STEP != 0, attn[l],
                    weights.matrix(Weights.layer(l, "attn_output.weight"), a.qDim(), dim),
                    weights.optionalVector(Weights.layer(l, "attn_output.bias"), dim),
                    weights.vector(Weights.layer(l, "ffn_norm.weight"), dim),
                    Ffn.load(weights, l, dim, hp.ffnDim[l], Ffn.Activation.SILU));
        }
        plan(attn, maxFfn(), rope);
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
            if (L.rotary) {
                rope.rotate(s.q, a.heads(), n);
                rope.rotate(s.k, a.kvHeads(), n);
            }
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
