package io.sluice.model;

import io.sluice.gguf.GGUFException;
import io.sluice.gguf.GGUFFile;

/** Hyperparameters of a decoder-only transformer, read from GGUF metadata ({@code ARCH.*} keys). */
public record ModelConfig(
        String arch,
        int dim,
        int nLayers,
        int nHeads,
        int nKvHeads,
        int headDim,
        int ffnDim,
        int vocabSize,
        int contextLength,
        float normEps,
        float ropeTheta,
        int ropeDim,
        float ropeScale,
        RopeType ropeType) {

    public int kvDim() {
        return nKvHeads * headDim;
    }

    public int qDim() {
        return nHeads * headDim;
    }

    public static ModelConfig from(GGUFFile f, RopeType ropeType) {
        String arch = f.requireString("general.architecture");
        int dim = f.requireInt(arch + ".embedding_length");
        int nLayers = f.requireInt(arch + ".block_count");
        int nHeads = f.requireInt(arch + ".attention.head_count");
        int nKvHeads = f.getInt(arch + ".attention.head_count_kv", nHeads);
        int headDim = f.getInt(arch + ".attention.key_length", nHeads > 0 ? dim / nHeads : 0);
        int ffn = f.requireInt(arch + ".feed_forward_length");
        int ctx = f.getInt(arch + ".context_length", 2048);
        float eps = f.getFloat(arch + ".attention.layer_norm_rms_epsilon", 1e-5f);
        float theta = f.getFloat(arch + ".rope.freq_base", 10000f);
        int ropeDim = f.getInt(arch + ".rope.dimension_count", headDim);
        float scale = 1f;
        String scalingType = f.getString(arch + ".rope.scaling.type", "none");
        if ("linear".equals(scalingType)) {
            float factor = f.getFloat(arch + ".rope.scaling.factor", 1f);
            if (factor > 0) scale = 1f / factor;
        }
        int vocab = f.getInt(arch + ".vocab_size", f.has("tokenizer.ggml.tokens") ? f.get("tokenizer.ggml.tokens").length() : 0);
        String where = f.path() + ": ";
        if (dim <= 0 || nLayers <= 0 || nHeads <= 0 || nKvHeads <= 0 || headDim <= 0 || ffn <= 0 || ctx <= 0) {
            throw new GGUFException(where + "model hyperparameters must be positive");
        }
        // Each layer has several tensors: a block count beyond the tensor count is corruption (and would
        // allocate per-layer tables for it before the first missing tensor is noticed).
        if (nLayers > f.tensors().size()) {
            throw new GGUFException(where + "block_count " + nLayers + " but the file holds only " + f.tensors().size() + " tensors");
        }
        if ((long) nHeads * headDim > (1 << 20) || dim > (1 << 20) || ffn > (1 << 24)) {
            throw new GGUFException(where + "model dimensions are implausibly large (embedding " + dim + ", heads " + nHeads + " x " + headDim + ", ffn " + ffn + ")");
        }
        if (nHeads % nKvHeads != 0) throw new GGUFException(where + "head_count " + nHeads + " is not a multiple of head_count_kv " + nKvHeads);
        if (ropeDim > headDim || ropeDim % 2 != 0) throw new GGUFException(where + "rope.dimension_count " + ropeDim + " does not fit head size " + headDim);
        if (!(eps > 0) || !(theta > 0)) throw new GGUFException(where + "norm epsilon and rope base must be positive");
        return new ModelConfig(arch, dim, nLayers, nHeads, nKvHeads, headDim, ffn, vocab, ctx, eps, theta, ropeDim, scale, ropeType);
    }
}
