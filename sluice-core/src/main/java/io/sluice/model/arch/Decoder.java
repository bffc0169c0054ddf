package io.sluice.model.arch;

import io.sluice.gguf.GGUFFile;
import io.sluice.gguf.TensorInfo;
import io.sluice.model.Batch;
import io.sluice.model.Hparams;
import io.sluice.model.KvLayout;
import io.sluice.model.Model;
import io.sluice.model.ModelConfig;
import io.sluice.model.RoutingStats;
import io.sluice.model.Weights;
import io.sluice.model.nn.Attention;
import io.sluice.model.nn.ExpertResidency;
import io.sluice.model.nn.Moe;
import io.sluice.model.nn.Norm;
import io.sluice.model.nn.Ops;
import io.sluice.model.nn.Rope;
import io.sluice.model.tokenizer.Tokenizer;
import io.sluice.tensor.Matrix;
import io.sluice.tensor.Parallel;

import java.util.ArrayList;
import java.util.List;

/**
 * What every decoder-only architecture shares, so that each one's file holds only its layers and
 * forward pass: the file, hyperparameters, weights and tokenizer; the token embedding, output
 * norm and output projection (own or tied to the embedding); the work buffers of a forward pass
 * and what they cost; and the KV layout the engine plans the cache by.
 *
 * <p>A subclass loads its layers, calls {@link #plan} with its KV layout and widest buffers, and
 * writes {@link #forward} as {@code embed}, its layers over {@link Scratch}, then {@code logits}.
 */
public abstract class Decoder implements Model {
    /** Where the output projection comes from. */
    protected enum Output {
        /** output.weight when the file has it, else the token embedding (tied). */
        OWN_OR_TIED,
        /** output.weight, required. */
        OWN,
        /** Always the token embedding, as Gemma's. */
        TIED
    }

    protected final GGUFFile file;
    protected final Hparams hp;
    protected final Weights weights;
    protected final int dim;
    private final Tokenizer tokenizer;
    private final Matrix tokenEmbedding;
    private final float[] outputNorm;
    private final Matrix output;
    private final float[] outputBias;
    private final Attention.Workspace attention = new Attention.Workspace();
    private final Moe.Workspace experts = new Moe.Workspace();
    private KvLayout kvLayout;
    private int qDim, kvDim, ffnDim, maxHeadDim, maxGroup;
    private Rope[] ropes;
    private Scratch scratch;
    private final ModelConfig config;

    protected Decoder(GGUFFile file, Output out) {
        this.file = file;
        this.hp = new Hparams(file);
        this.weights = new Weights(file);
        this.dim = hp.dim;
        this.tokenizer = Tokenizer.fromGGUF(file);
        if (hp.valueDim != hp.headDim) {
            throw hp.error("attention.value_length", hp.valueDim + " differs from attention.key_length " + hp.headDim + ", which Sluice does not support");
        }
        checkHeadShapes();
        this.tokenEmbedding = weights.matrix("token_embd.weight", dim, -1);
        int vocab = tokenEmbedding.rows();
        this.outputNorm = weights.vector("output_norm.weight", dim);
        this.output = switch (out) {
            case OWN -> weights.matrix("output.weight", dim, vocab);
            case TIED -> tokenEmbedding;
            case OWN_OR_TIED -> weights.has("output.weight") ? weights.matrix("output.weight", dim, vocab) : tokenEmbedding;
        };
        this.outputBias = weights.optionalVector("output.bias", vocab);
        this.config = new ModelConfig(hp.arch, dim, hp.nLayers, vocab, hp.contextLength);
    }

    /**
     * The attention projections must have the rows the head counts and head size say: a
     * mismatch is the metadata's fault more often than the tensor's, so it names the keys.
     */
    private void checkHeadShapes() {
        for (int l = 0; l < hp.nLayers; l++) {
            int q = hp.nHeads[l] * hp.headDim, kv = hp.nKvHeads[l] * hp.headDim;
            checkRows(Weights.layer(l, "attn_q.weight"), q, "head_count " + hp.nHeads[l] + " x key_length " + hp.headDim);
            checkRows(Weights.layer(l, "attn_k.weight"), kv, "head_count_kv " + hp.nKvHeads[l] + " x key_length " + hp.headDim);
            checkRows(Weights.layer(l, "attn_qkv.weight"), q + 2 * kv, "(head_count " + hp.nHeads[l] + " + 2 x head_count_kv "
                    + hp.nKvHeads[l] + ") x key_length " + hp.headDim);
        }
    }

    private void checkRows(String tensor, int rows, String why) {
        TensorInfo t = file.tensor(tensor);
        if (t != null && t.rows() != rows) {
            throw hp.error("attention.key_length", "heads do not match tensor '" + tensor + "' of shape " + t.shape() + ": "
                    + why + " = " + rows + " rows expected");
        }
    }

    /**
     * Declares what the layers need, once they are loaded: each layer's attention (the KV cache
     * holds its KV heads, head size and window), the widest feed-forward, and every Rope the
     * forward pass uses ({@link #embed} prepares them for each batch).
     */
    protected final void plan(Attention[] layers, int ffnDim, Rope... ropes) {
        List<KvLayout.Layer> kv = new ArrayList<>(layers.length);
        for (Attention a : layers) {
            Attention.Options o = a.options();
            kv.add(new KvLayout.Layer(o.kvHeads(), o.headDim(), o.window()));
            qDim = Math.max(qDim, o.qDim());
            kvDim = Math.max(kvDim, o.kvDim());
            maxHeadDim = Math.max(maxHeadDim, o.headDim());
            maxGroup = Math.max(maxGroup, o.heads() / o.kvHeads());
        }
        this.kvLayout = new KvLayout(kv);
        this.ffnDim = ffnDim;
        this.ropes = ropes;
    }

    /**
     * The model's RoPE as the file describes it (rope.freq_base, dimension_count, scaling type,
     * factor, attn_factor, original context), with YaRN's default correction range and no log
     * multiplier; no frequency factors (see {@link #frequencyFactors}).
     */
    protected final Rope.Spec rope(Rope.Type type) {
        return rope(type, 32f, 1f, 0f);
    }

    /** As {@link #rope(Rope.Type)} with YaRN's betas and yarn_log_multiplier (for the architectures that read them). */
    protected final Rope.Spec rope(Rope.Type type, float betaFast, float betaSlow, float yarnLogMultiplier) {
        return rope(hp, type, betaFast, betaSlow, yarnLogMultiplier);
    }

    /** The RoPE the file describes (shared with the encoders that rotate, e.g. nomic-bert). */
    static Rope.Spec rope(Hparams hp, Rope.Type type, float betaFast, float betaSlow, float yarnLogMultiplier) {
        float freqScale = hp.ropeFreqScale;
        float ext = hp.ropeScaling == Hparams.RopeScaling.YARN ? 1f : 0f;
        float attn = hp.ropeAttnFactor;
        if (ext != 0f) {
            // llama.cpp's YaRN magnitude: mscale(f)/mscale(f, log_mul) (or mscale(f)), divided by the
            // 1 + 0.1 ln f that ggml's rope multiplies back in.
            float f = 1f / freqScale;
            float m = yarnLogMultiplier != 0f ? mscale(f, 1f) / mscale(f, yarnLogMultiplier) : mscale(f, 1f);
            attn *= m / (1f + 0.1f * (float) Math.log(f));
        }
        return new Rope.Spec(type, hp.ropeDim, hp.headDim, hp.ropeBase, freqScale, ext, attn, betaFast, betaSlow, hp.ropeOrigContext, null);
    }

    /**
     * Per-pair frequency divisors, as llama.cpp's get_rope_factors: rope_freqs.weight (Llama 3.1),
     * else LongRoPE's rope_factors_long when the context exceeds the original one and
     * rope_factors_short otherwise; null when the file has none.
     */
    protected final float[] frequencyFactors(int context) {
        int half = hp.ropeDim / 2;
        if (weights.has("rope_freqs.weight")) return weights.vector("rope_freqs.weight", half);
        return weights.optionalVector(context > hp.ropeOrigContext ? "rope_factors_long.weight" : "rope_factors_short.weight", half);
    }

    private static float mscale(float scale, float m) {
        return scale <= 1f ? 1f : 0.1f * m * (float) Math.log(scale) + 1f;
    }

    /** The context the model is loaded for: the one asked for, or the trained one. */
    protected final int context(int asked) {
        if (asked < 0) throw new IllegalArgumentException("context length must not be negative, is " + asked);
        return asked > 0 ? asked : hp.contextLength;
    }

    /** The widest feed-forward of any layer. */
    protected final int maxFfn() {
        int m = 0;
        for (int f : hp.ffnDim) m = Math.max(m, f);
        return m;
    }

    /** The activations of one forward pass: n rows each, grown when a bigger batch comes. */
    protected static final class Scratch {
        final int capacity;
        /** The residual stream and a second buffer of its width. */
        final float[] x, xb;
        /** Queries, keys, values, attention output. */
        final float[] q, k, v, att;
        /** Feed-forward gate and up. */
        final float[] hb, hb2;
        /** The rows that want logits, gathered and normalised. */
        final float[] head;

        Scratch(int n, int dim, int qDim, int kvDim, int ffnDim) {
            capacity = n;
            x = new float[n * dim];
            xb = new float[n * dim];
            q = new float[n * qDim];
            k = new float[n * kvDim];
            v = new float[n * kvDim];
            att = new float[n * qDim];
            hb = new float[n * ffnDim];
            hb2 = new float[n * ffnDim];
            head = new float[n * dim];
        }

        static long bytes(long n, int dim, int qDim, int kvDim, int ffnDim) {
            return 4L * n * (3L * dim + 2L * qDim + 2L * kvDim + 2L * ffnDim);
        }

        /** x = each batch token's row of the embedding table (scaled by scale, 1 for none). */
        void embed(Matrix table, Batch b, int dim, float scale) {
            int n = b.size;
            for (int t = 0; t < n; t++) {
                int tok = b.tokens[t];
                if (tok < 0 || tok >= table.rows()) throw new IllegalArgumentException("token id " + tok + " outside the vocabulary");
            }
            Parallel.forRange(n, 8, (from, to) -> {
                for (int t = from; t < to; t++) table.row(b.tokens[t], x, t * dim);
            });
            if (scale != 1f) Ops.scale(x, n * dim, scale);
        }
    }

    /** Per-thread attention buffers shared by every layer. */
    protected final Attention.Workspace attentionWorkspace() {
        return attention;
    }

    /** The work buffers of the model's MoE layers, if any ({@link #activationBytes} counts what they reserve). */
    protected final Moe.Workspace moeWorkspace() {
        return experts;
    }

    /** Work buffers for the batch, with each token's embedding in x (scaled by embeddingScale, 1 for none). */
    protected final Scratch embed(Batch b, float embeddingScale) {
        int n = b.size;
        if (scratch == null || scratch.capacity < n) scratch = new Scratch(Math.max(n, 1), dim, qDim, kvDim, ffnDim);
        Scratch s = scratch;
        s.embed(tokenEmbedding, b, dim, embeddingScale);
        for (Rope r : ropes) r.prepare(b);
        return s;
    }

    /**
     * The output norm and projection (plus output.bias when the file has one) of only the tokens
     * that want logits: the vocabulary-wide matrix is the largest of most models. Returns the
     * number of logits written (rows × vocabulary). A batch that asks for
     * {@link Batch.Output#HIDDEN} gets the normed rows themselves (dim floats each, llama.cpp's
     * t_embd, what an embedder pools) and no logits: 0 is returned, so no logit step follows.
     */
    protected final int logits(Batch b, Scratch s, float[] logits) {
        int vocab = output.rows(), nOut = 0;
        for (int t = 0; t < b.size; t++) {
            if (b.wantLogits[t]) System.arraycopy(s.x, t * dim, s.head, nOut++ * dim, dim);
        }
        if (b.output == Batch.Output.HIDDEN) {
            if (logits.length < (long) nOut * dim) throw new IllegalArgumentException("hidden-state buffer too small");
            Norm.rms(logits, s.head, outputNorm, nOut, hp.rmsEps);
            return 0;
        }
        if (logits.length < (long) nOut * vocab) throw new IllegalArgumentException("logits buffer too small");
        Norm.rms(s.head, s.head, outputNorm, nOut, hp.rmsEps);
        output.matmul(s.head, logits, nOut);
        Ops.addBias(logits, outputBias, nOut);
        return nOut * vocab;
    }

    @Override
    public ModelConfig config() {
        return config;
    }

    @Override public Tokenizer tokenizer() { return tokenizer; }
    @Override public GGUFFile file() { return file; }
    @Override public KvLayout kvLayout() { return kvLayout; }

    @Override
    public long activationBytes(int tokens) {
        long bytes = Scratch.bytes(tokens, dim, qDim, kvDim, ffnDim);
        for (Rope r : ropes) bytes += r.bytes(tokens);
        return bytes + Parallel.threads() * Attention.Workspace.bytes(64, maxHeadDim, maxGroup) + experts.bytes(tokens);
    }

    @Override
    public int activationWidth() {
        return Math.max(Math.max(dim, qDim), Math.max(kvDim, ffnDim));
    }

    @Override
    public RoutingStats routingStats() {
        return experts.stats();
    }

    @Override
    public long minimumResidentWeightBytes() {
        ExpertResidency r = experts.residency();
        return weightBytes() - r.expertBytes() + r.activeBytes();
    }

    @Override
    public void limitResidentWeights(long bytes) {
        ExpertResidency r = experts.residency();
        r.limit(bytes - (weightBytes() - r.expertBytes()));
    }

    @Override
    public long residentWeightBytes() {
        ExpertResidency r = experts.residency();
        return weightBytes() - r.expertBytes() + r.residentBytes();
    }

    @Override
    public long weightBytes() {
        long sum = 0;
        for (TensorInfo t : file.tensors().values()) sum += t.byteSize();
        return sum;
    }

    @Override
    public void close() {
        file.close();
    }
}
