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
 * bitnet (BitNet b1.58, as llama.cpp's converter writes it: ternary weights, each tensor's scale
 * folded in, usually stored as TQ1_0 or TQ2_0): llama's pre-norm blocks with NeoX RoPE, plus two
 * sub-norms that BitLinear layers need: RMSNorm of the attention output before attn_output
 * (attn_sub_norm) and of the SwiGLU product before ffn_down (ffn_sub_norm). The output
 * projection is always the token embedding, as in llama.cpp.
 */
final class Bitnet extends Decoder {
    private record Layer(float[] attnNorm, Qkv qkv, Attention attn, float[] attnSubNorm, Matrix wo, float[] ffnNorm, Ffn ffn) {
    }

    private final Layer[] layers;
    private final Rope rope;

    Bitnet(GGUFFile file, int context) {
        super(file, Output.TIED);
        for (String t : file.tensors().keySet()) {
            // Per-tensor scales (weight.scale) multiply a projection's output; llama.cpp's converter folds them into the weights.
            if (t.endsWith(".scale")) throw weights.error(t, "per-tensor BitNet scales are not supported (convert with the scales folded into the weights)");
        }
        rope = new Rope(rope(Rope.Type.NEOX));
        layers = new Layer[hp.nLayers];
        Attention[] attn = new Attention[layers.length];
        for (int l = 0; l < layers.length; l++) {
            Attention.Options a = Attention.Options.standard(hp.nHeads[l], hp.nKvHeads[l], hp.headDim);
            attn[l] = new Attention(l, a);
            layers[l] = new Layer(weights.vector(Weights.layer(l, "attn_norm.weight"), dim),
                    Qkv.load(weights, l, dim, a.qDim(), a.kvDim()), attn[l],
                    weights.vector(Weights.layer(l, "attn_sub_norm.weight"), a.qDim()),
                    weights.matrix(Weights.layer(l, "attn_output.weight"), a.qDim(), dim),
                    weights.vector(Weights.layer(l, "ffn_norm.weight"), dim),
                    Ffn.loadSubNormed(weights, l, dim, hp.ffnDim[l], Ffn.Activation.SILU, hp.rmsEps));
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
            rope.rotate(s.q, a.heads(), n);
            rope.rotate(s.k, a.kvHeads(), n);
            L.attn.forward(b, kv, s.q, s.k, s.v, s.att, attentionWorkspace());
            Norm.rms(s.att, s.att, L.attnSubNorm, n, eps);
            L.wo.matmul(s.att, s.xb, n);
            Ops.add(s.x, s.xb, n * dim);

            Norm.rms(s.xb, s.x, L.ffnNorm, n, eps);
            L.ffn.forward(s.xb, n, s.hb, s.hb2, s.xb);
            Ops.add(s.x, s.xb, n * dim);
        }
        logits(b, s, logits);
    }
}
