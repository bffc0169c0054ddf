package io.sluice.model.arch;

import io.sluice.gguf.GGUFException;
import io.sluice.gguf.GGUFFile;
import io.sluice.gguf.TensorInfo;
import io.sluice.model.Batch;
import io.sluice.model.EmbeddingModel;
import io.sluice.model.Hparams;
import io.sluice.model.ModelConfig;
import io.sluice.model.Weights;
import io.sluice.model.nn.BidirectionalAttention;
import io.sluice.model.nn.ClassifierHead;
import io.sluice.model.nn.Ops;
import io.sluice.model.nn.Pooling;
import io.sluice.model.nn.Rope;
import io.sluice.model.tokenizer.Tokenizer;
import io.sluice.tensor.Matrix;

import java.util.Arrays;
import java.util.List;

/**
 * What every encoder architecture shares, beside {@link Decoder}: the file, hyperparameters,
 * weights, tokenizer and token embedding; the pooling ({@code ARCH.pooling_type} or the caller's),
 * a reranker's {@link ClassifierHead}, sentence-transformers' dense projections after pooling
 * ({@code dense_2}, {@code dense_3}, as llama.cpp's build_dense_out); the work buffers (Decoder's
 * {@link Decoder.Scratch}) and the bidirectional attention's workspace.
 *
 * <p>A subclass loads its layers, calls {@link #plan}, and writes {@link #forward}: embed, its
 * layers over whole sequences, the final hidden states left in {@code x}. {@link #encode} pools them.
 */
abstract class Encoder implements EmbeddingModel {
    protected final GGUFFile file;
    protected final Hparams hp;
    protected final Weights weights;
    protected final int dim;
    private final Tokenizer tokenizer;
    private final Matrix tokenEmbedding;
    private final Pooling pooling;
    private final ClassifierHead head;
    private final Matrix dense2, dense3;
    private final float[] dense2Bias;
    private final int outputDim;
    private final List<String> labels;
    private final int[] matryoshka;
    private final ModelConfig config;
    private final BidirectionalAttention.Workspace attention = new BidirectionalAttention.Workspace();
    private int qDim, kvDim, ffnDim, maxHeadDim;
    private Rope[] ropes = new Rope[0];
    private Decoder.Scratch scratch;
    private float[] pooled, work;

    protected Encoder(GGUFFile file, Pooling override) {
        this.file = file;
        this.hp = new Hparams(file);
        this.weights = new Weights(file);
        this.dim = hp.dim;
        this.tokenizer = Tokenizer.fromGGUF(file);
        this.tokenEmbedding = weights.matrix("token_embd.weight", dim, -1);
        this.pooling = override != null ? override : filePooling(hp, Pooling.MEAN);
        this.labels = labels(hp);
        this.head = pooling == Pooling.RANK ? ClassifierHead.load(weights, dim, false) : null;
        this.dense2 = weights.optionalMatrix("dense_2.weight", dim, -1);
        this.dense2Bias = dense2 == null ? null : weights.optionalVector("dense_2.bias", dense2.rows());
        this.dense3 = weights.optionalMatrix("dense_3.weight", dense2 != null ? dense2.rows() : dim, -1);
        int width = dense3 != null ? dense3.rows() : dense2 != null ? dense2.rows() : dim;
        this.outputDim = head != null ? head.labels() : width;
        this.matryoshka = matryoshka(hp, outputDim);
        this.config = new ModelConfig(hp.arch, dim, hp.nLayers, tokenEmbedding.rows(), hp.contextLength);
    }

    /** The file's ARCH.pooling_type, or dflt when absent; an unknown number is a clear error. */
    static Pooling filePooling(Hparams hp, Pooling dflt) {
        if (!hp.has("pooling_type")) return dflt;
        int id = hp.integer("pooling_type", -1);
        if (id == -1) return dflt; // llama.cpp's "unspecified"
        Pooling p = Pooling.ofId(id);
        if (p == null) throw hp.error("pooling_type", id + " is not a pooling type (0 none, 1 mean, 2 cls, 3 last, 4 rank)");
        return p;
    }

    static List<String> labels(Hparams hp) {
        String key = hp.key("classifier.output_labels");
        if (!hp.file.has(key)) return List.of();
        var v = hp.file.get(key);
        if (!v.isArray()) throw hp.error("classifier.output_labels", "must be an array of strings");
        try {
            return List.of(hp.file.getStringArray(key));
        } catch (RuntimeException e) {
            throw hp.error("classifier.output_labels", "must be an array of strings");
        }
    }

    /** ARCH.matryoshka_dimensions: ascending, distinct widths in 1..width (the full width implied). */
    static int[] matryoshka(Hparams hp, int width) {
        String key = hp.key("matryoshka_dimensions");
        if (!hp.file.has(key)) return new int[0];
        int[] d;
        try {
            d = hp.file.getIntArray(key);
        } catch (RuntimeException e) {
            throw hp.error("matryoshka_dimensions", "must be an array of integers");
        }
        int[] s = Arrays.stream(d).sorted().distinct().toArray();
        if (s.length == 0 || s[0] < 1 || s[s.length - 1] > width) {
            throw hp.error("matryoshka_dimensions", Arrays.toString(d) + " must hold widths in 1.." + width);
        }
        return s;
    }

    /** Declares the widest buffers the layers need and every Rope the forward pass uses. */
    protected final void plan(int qDim, int kvDim, int ffnDim, int maxHeadDim, Rope... ropes) {
        this.qDim = qDim;
        this.kvDim = kvDim;
        this.ffnDim = Math.max(ffnDim, head != null ? head.width() : 0);
        this.maxHeadDim = maxHeadDim;
        this.ropes = ropes;
    }

    /** Work buffers for the batch, each token's embedding in x (times scale), the ropes prepared. */
    protected final Decoder.Scratch embed(Batch b, float scale) {
        int n = b.size;
        if (scratch == null || scratch.capacity < n) scratch = new Decoder.Scratch(Math.max(n, 1), dim, qDim, kvDim, ffnDim);
        scratch.embed(tokenEmbedding, b, dim, scale);
        for (Rope r : ropes) r.prepare(b);
        return scratch;
    }

    protected final BidirectionalAttention.Workspace attentionWorkspace() {
        return attention;
    }

    /** Runs the layers over the batch's whole sequences; leaves the final hidden states in the returned scratch's x. */
    protected abstract Decoder.Scratch forward(Batch b, int[] starts);

    @Override
    public final void encode(Batch b, float[] out) {
        if (b.size == 0) return;
        int[] starts = Pooling.sequenceStarts(b);
        for (int s = 0; s < b.numSeqs; s++) {
            int len = starts[s + 1] - starts[s];
            if (len > hp.contextLength) throw new IllegalArgumentException("a sequence of " + len + " tokens exceeds the context of " + hp.contextLength);
        }
        Decoder.Scratch s = forward(b, starts);
        int rows = pooling == Pooling.NONE ? b.size : b.numSeqs;
        int widest = Math.max(dim, Math.max(dense2 != null ? dense2.rows() : 0, dense3 != null ? dense3.rows() : 0));
        if (pooled == null || pooled.length < rows * widest) {
            pooled = new float[rows * widest];
            work = new float[rows * widest];
        }
        if (out.length < (long) rows * outputDim) throw new IllegalArgumentException("output buffer too small");
        pooling.pool(s.x, dim, b, starts, false, pooled);
        if (head != null) {
            head.forward(pooled, rows, work, out);
            return;
        }
        float[] cur = pooled, spare = work;
        if (dense2 != null) {
            dense2.matmul(cur, spare, rows);
            Ops.addBias(spare, dense2Bias, rows);
            float[] t = cur;
            cur = spare;
            spare = t;
        }
        if (dense3 != null) {
            dense3.matmul(cur, spare, rows);
            cur = spare;
        }
        System.arraycopy(cur, 0, out, 0, rows * outputDim);
    }

    @Override public ModelConfig config() { return config; }
    @Override public Tokenizer tokenizer() { return tokenizer; }
    @Override public GGUFFile file() { return file; }
    @Override public Pooling pooling() { return pooling; }
    @Override public int outputDim() { return outputDim; }
    @Override public List<String> labels() { return labels; }
    @Override public int[] matryoshkaDimensions() { return matryoshka.clone(); }

    @Override
    public long activationBytes(int tokens) {
        long bytes = Decoder.Scratch.bytes(tokens, dim, qDim, kvDim, ffnDim);
        for (Rope r : ropes) bytes += r.bytes(tokens);
        int widest = Math.max(dim, Math.max(dense2 != null ? dense2.rows() : 0, dense3 != null ? dense3.rows() : 0));
        return bytes + 8L * tokens * widest + BidirectionalAttention.Workspace.bytes(Math.min(tokens, hp.contextLength), maxHeadDim);
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

    /** One row of a [width, rows] table decoded (e.g. token type 0's embedding); null when the file has no such tensor. */
    protected final float[] optionalRow(String tensor, int width, int row) {
        if (!weights.has(tensor)) return null;
        Matrix m = weights.matrix(tensor, width, -1);
        if (row >= m.rows()) throw new GGUFException(file.path() + ": tensor '" + tensor + "' has no row " + row);
        float[] r = new float[width];
        m.row(row, r, 0);
        return r;
    }
}
