package io.sluice.model;

import io.sluice.gguf.GGUFException;
import io.sluice.gguf.GGUFFile;
import io.sluice.gguf.TensorInfo;
import io.sluice.model.tokenizer.Tokenizer;
import io.sluice.tensor.Formats;
import io.sluice.tensor.Matrix;
import io.sluice.tensor.Parallel;
import io.sluice.tensor.VectorMath;

import java.util.Arrays;

/**
 * The Llama-family decoder (llama, Mistral, TinyLlama, SmolLM, and with Q/K/V biases and NeoX
 * RoPE, qwen2): RMSNorm, rotary attention with grouped KV heads, SwiGLU feed-forward.
 *
 * <p>The whole forward pass is {@link #forward}: every token of the batch goes through each layer
 * together, so each weight row is read once per step whatever the number of tokens or sequences.
 */
public final class Llama implements Model {
    private final GGUFFile file;
    private final ModelConfig cfg;
    private final Tokenizer tokenizer;
    private final Matrix tokenEmbedding;
    private final float[] outputNorm;
    private final Matrix output;
    private final Layer[] layers;
    private final Matrix[][] qkv, gateUp;
    /** Per rotary pair i: base^(-2i/ropeDim) / freq_factor[i] (llama 3.1's rope_freqs), times linear scale. */
    private final float[] invFreq;
    private Scratch scratch;

    private record Layer(float[] attnNorm, Matrix wq, Matrix wk, Matrix wv, float[] bq, float[] bk, float[] bv,
                         Matrix wo, float[] ffnNorm, Matrix gate, Matrix up, Matrix down) {
        /** Projections of the same input, computed as one operation. */
        Matrix[] qkv() { return new Matrix[]{wq, wk, wv}; }
        Matrix[] gateUp() { return new Matrix[]{gate, up}; }
    }

    private Llama(GGUFFile file, ModelConfig cfg, boolean qkvBias) {
        this.file = file;
        this.cfg = cfg;
        this.tokenizer = Tokenizer.fromGGUF(file);
        this.tokenEmbedding = matrix("token_embd.weight", cfg.dim(), -1);
        int vocab = tokenEmbedding.rows();
        this.outputNorm = vector("output_norm.weight", cfg.dim());
        // Tied embeddings: without output.weight the token embedding doubles as the output layer.
        this.output = file.tensor("output.weight") != null ? matrix("output.weight", cfg.dim(), vocab) : tokenEmbedding;
        this.layers = new Layer[cfg.nLayers()];
        for (int l = 0; l < cfg.nLayers(); l++) {
            String p = "blk." + l + ".";
            layers[l] = new Layer(
                    vector(p + "attn_norm.weight", cfg.dim()),
                    matrix(p + "attn_q.weight", cfg.dim(), cfg.qDim()),
                    matrix(p + "attn_k.weight", cfg.dim(), cfg.kvDim()),
                    matrix(p + "attn_v.weight", cfg.dim(), cfg.kvDim()),
                    qkvBias ? vector(p + "attn_q.bias", cfg.qDim()) : null,
                    qkvBias ? vector(p + "attn_k.bias", cfg.kvDim()) : null,
                    qkvBias ? vector(p + "attn_v.bias", cfg.kvDim()) : null,
                    matrix(p + "attn_output.weight", cfg.qDim(), cfg.dim()),
                    vector(p + "ffn_norm.weight", cfg.dim()),
                    matrix(p + "ffn_gate.weight", cfg.dim(), cfg.ffnDim()),
                    matrix(p + "ffn_up.weight", cfg.dim(), cfg.ffnDim()),
                    matrix(p + "ffn_down.weight", cfg.ffnDim(), cfg.dim()));
        }
        this.qkv = new Matrix[layers.length][];
        this.gateUp = new Matrix[layers.length][];
        for (int l = 0; l < layers.length; l++) {
            qkv[l] = layers[l].qkv();
            gateUp[l] = layers[l].gateUp();
        }
        int half = cfg.ropeDim() / 2;
        float[] factors = file.tensor("rope_freqs.weight") != null ? vector("rope_freqs.weight", half) : null;
        this.invFreq = new float[half];
        for (int i = 0; i < half; i++) {
            double f = Math.pow(cfg.ropeTheta(), -2.0 * i / cfg.ropeDim()) * cfg.ropeScale();
            invFreq[i] = (float) (factors != null ? f / factors[i] : f);
        }
    }

    public static Llama load(GGUFFile file, boolean qwen2) {
        ModelConfig cfg = ModelConfig.from(file, qwen2 ? RopeType.NEOX : RopeType.NORMAL);
        return new Llama(file, cfg, qwen2);
    }

    private Matrix matrix(String name, int cols, int rows) {
        TensorInfo t = file.requireTensor(name);
        Matrix m = Matrix.of(file, t);
        if (m.cols() != cols || (rows >= 0 && m.rows() != rows)) {
            throw new GGUFException(file.path() + ": tensor '" + name + "' has shape " + t.shape() + ", expected [" + cols + ", " + (rows >= 0 ? rows : "n") + "]");
        }
        return m;
    }

    private float[] vector(String name, int n) {
        TensorInfo t = file.requireTensor(name);
        if (t.elementCount() != n) throw new GGUFException(file.path() + ": tensor '" + name + "' has " + t.elementCount() + " values, expected " + n);
        float[] v = new float[n];
        Formats.of(t.type()).dequantize(file.data(t), 0, v, 0, n);
        return v;
    }

    @Override public ModelConfig config() { return cfg; }
    @Override public Tokenizer tokenizer() { return tokenizer; }
    @Override public GGUFFile file() { return file; }

    @Override
    public long weightBytes() {
        long sum = 0;
        for (TensorInfo t : file.tensors().values()) sum += t.byteSize();
        return sum;
    }

    /** Activations for up to n tokens; grown when a bigger batch comes. */
    private static final class Scratch {
        final int n;
        final float[] x, xb, q, k, v, att, hb, hb2, logitsIn;
        final float[][] qkvOut, gateUpOut;
        final AttentionScratch[] attn;

        Scratch(ModelConfig c, int n, int blockSize) {
            this.n = n;
            x = new float[n * c.dim()];
            xb = new float[n * c.dim()];
            q = new float[n * c.qDim()];
            k = new float[n * c.kvDim()];
            v = new float[n * c.kvDim()];
            att = new float[n * c.qDim()];
            hb = new float[n * c.ffnDim()];
            hb2 = new float[n * c.ffnDim()];
            logitsIn = new float[n * c.dim()];
            qkvOut = new float[][]{q, k, v};
            gateUpOut = new float[][]{hb, hb2};
            attn = new AttentionScratch[Parallel.threads()];
            for (int i = 0; i < attn.length; i++) attn[i] = new AttentionScratch(c, blockSize);
        }
    }

    /** One thread's attention buffers: a KV block of one head decoded to floats, and per-query-head softmax state. */
    private static final class AttentionScratch {
        final float[] k, v, scores, max, sum;
        final int blockSize;

        AttentionScratch(ModelConfig c, int blockSize) {
            this.blockSize = blockSize;
            k = new float[blockSize * c.headDim()];
            v = new float[blockSize * c.headDim()];
            int group = c.nHeads() / c.nKvHeads();
            scores = new float[blockSize];
            max = new float[group];
            sum = new float[group];
        }
    }

    @Override
    public void forward(Batch b, KvStore kv, float[] logits) {
        int n = b.size;
        if (n == 0) return;
        int vocab = output.rows();
        int nOut = b.logitsCount();
        if (logits.length < (long) nOut * vocab) throw new IllegalArgumentException("logits buffer too small");
        if (scratch == null || scratch.n < n || scratch.attn.length < Parallel.threads() || scratch.attn[0].blockSize != kv.blockSize()) {
            scratch = new Scratch(cfg, n, kv.blockSize());
        }
        Scratch s = scratch;
        int dim = cfg.dim(), qDim = cfg.qDim(), kvDim = cfg.kvDim();

        for (int t = 0; t < n; t++) {
            int tok = b.tokens[t];
            if (tok < 0 || tok >= tokenEmbedding.rows()) throw new IllegalArgumentException("token id " + tok + " outside the vocabulary");
            tokenEmbedding.row(tok, s.x, t * dim);
        }

        for (int l = 0; l < layers.length; l++) {
            Layer L = layers[l];
            rmsnorm(s.xb, s.x, L.attnNorm, n, dim);
            Matrix.matmulAll(s.xb, n, qkv[l], s.qkvOut);
            if (L.bq != null) {
                addBias(s.q, L.bq, n);
                addBias(s.k, L.bk, n);
                addBias(s.v, L.bv, n);
            }
            for (int t = 0; t < n; t++) {
                rope(s.q, t * qDim, cfg.nHeads(), b.positions[t]);
                rope(s.k, t * kvDim, cfg.nKvHeads(), b.positions[t]);
                int pos = b.positions[t];
                int[] table = b.blockTables[b.seqOf[t]];
                kv.write(l, table[pos / kv.blockSize()], pos % kv.blockSize(), s.k, t * kvDim, s.v, t * kvDim);
            }
            attention(b, kv, l, s, n);
            L.wo.matmul(s.att, s.xb, n);
            add(s.x, s.xb, n * dim);

            rmsnorm(s.xb, s.x, L.ffnNorm, n, dim);
            Matrix.matmulAll(s.xb, n, gateUp[l], s.gateUpOut);
            int ff = n * cfg.ffnDim();
            Parallel.forRange(ff, 4096, (from, to) -> VectorMath.swiglu(s.hb, s.hb2, from, to));
            L.down.matmul(s.hb, s.xb, n);
            add(s.x, s.xb, n * dim);
        }

        // Only the tokens that want logits go through the (large) output layer.
        int j = 0;
        for (int t = 0; t < n; t++) {
            if (b.wantLogits[t]) System.arraycopy(s.x, t * dim, s.xb, j++ * dim, dim);
        }
        rmsnorm(s.logitsIn, s.xb, outputNorm, nOut, dim);
        output.matmul(s.logitsIn, logits, nOut);
    }

    /**
     * Causal attention of every batch token over its own sequence's positions 0..pos, streamed
     * KV block by KV block with an online softmax (FlashAttention's recurrence): no score matrix,
     * and a query head's memory is one accumulator whatever the context length. Work items are
     * (token, KV head): the query heads sharing a KV head (GQA) reuse each decoded K/V block.
     */
    private void attention(Batch b, KvStore kv, int layer, Scratch s, int n) {
        int nKv = cfg.nKvHeads(), headDim = cfg.headDim(), qDim = cfg.qDim();
        int group = cfg.nHeads() / nKv;
        int bs = kv.blockSize();
        float scale = (float) (1.0 / Math.sqrt(headDim));
        Parallel.forRange(n * nKv, (start, end) -> {
            AttentionScratch w = s.attn[Parallel.workerIndex()];
            for (int item = start; item < end; item++) {
                int t = item / nKv, kvh = item % nKv;
                int pos = b.positions[t];
                int[] table = b.blockTables[b.seqOf[t]];
                int q0 = t * qDim + kvh * group * headDim; // first query head of the group; att has the same layout
                Arrays.fill(s.att, q0, q0 + group * headDim, 0f);
                Arrays.fill(w.max, Float.NEGATIVE_INFINITY);
                Arrays.fill(w.sum, 0f);
                for (int p0 = 0; p0 <= pos; p0 += bs) {
                    int block = table[p0 / bs], count = Math.min(bs, pos - p0 + 1);
                    kv.readKeys(layer, block, 0, count, kvh, w.k, 0);
                    kv.readValues(layer, block, 0, count, kvh, w.v, 0);
                    for (int g = 0; g < group; g++) {
                        int qo = q0 + g * headDim;
                        float blockMax = Float.NEGATIVE_INFINITY;
                        for (int j = 0; j < count; j++) {
                            float sc = VectorMath.dot(s.q, qo, w.k, j * headDim, headDim) * scale;
                            w.scores[j] = sc;
                            blockMax = Math.max(blockMax, sc);
                        }
                        float newMax = Math.max(w.max[g], blockMax);
                        if (newMax > w.max[g]) {
                            // Rescale what was accumulated under the old maximum (nothing on the first block).
                            float c = (float) Math.exp(w.max[g] - newMax);
                            w.sum[g] *= c;
                            VectorMath.scale(s.att, qo, headDim, c);
                            w.max[g] = newMax;
                        }
                        float sum = 0f;
                        for (int j = 0; j < count; j++) {
                            float e = (float) Math.exp(w.scores[j] - newMax);
                            sum += e;
                            VectorMath.axpy(e, w.v, j * headDim, s.att, qo, headDim);
                        }
                        w.sum[g] += sum;
                    }
                }
                for (int g = 0; g < group; g++) VectorMath.scale(s.att, q0 + g * headDim, headDim, 1f / w.sum[g]);
            }
        });
    }

    /** Rotates each head's first ropeDim dims by position-dependent angles (pairs per ropeType). */
    private void rope(float[] v, int off, int heads, int pos) {
        int headDim = cfg.headDim(), half = cfg.ropeDim() / 2;
        boolean neox = cfg.ropeType() == RopeType.NEOX;
        for (int i = 0; i < half; i++) {
            double angle = pos * (double) invFreq[i];
            float cos = (float) Math.cos(angle), sin = (float) Math.sin(angle);
            for (int h = 0; h < heads; h++) {
                int base = off + h * headDim;
                int a = neox ? base + i : base + 2 * i;
                int c = neox ? base + i + half : base + 2 * i + 1;
                float x0 = v[a], x1 = v[c];
                v[a] = x0 * cos - x1 * sin;
                v[c] = x0 * sin + x1 * cos;
            }
        }
    }

    private void rmsnorm(float[] out, float[] x, float[] w, int n, int dim) {
        for (int t = 0; t < n; t++) VectorMath.rmsnorm(out, x, t * dim, w, dim, cfg.normEps());
    }

    private static void addBias(float[] x, float[] bias, int n) {
        int d = bias.length;
        for (int t = 0; t < n; t++) for (int i = 0; i < d; i++) x[t * d + i] += bias[i];
    }

    private static void add(float[] x, float[] y, int len) {
        VectorMath.add(x, y, len);
    }

    @Override
    public void close() {
        file.close();
    }
}
