package io.sluice.model.arch;

import io.sluice.gguf.GGMLType;
import io.sluice.gguf.GGUFFile;
import io.sluice.model.Batch;
import io.sluice.model.EmbeddingModel;
import io.sluice.model.KvStore;
import io.sluice.model.Model;
import io.sluice.model.ModelConfig;
import io.sluice.model.Weights;
import io.sluice.model.nn.ClassifierHead;
import io.sluice.model.nn.Pooling;
import io.sluice.model.tokenizer.Tokenizer;

import java.util.List;

/**
 * A decoder used as an embedding model, as llama.cpp runs Qwen3-Embedding and Qwen3-Reranker:
 * its own causal forward pass, over a KV cache that lives for one call, writes the final-normed
 * hidden states (not logits) of the tokens the pooling reads; those are pooled, the last token
 * standing for the sequence under LAST and RANK pooling. A reranker's head is its
 * {@code cls.output.weight} (the label rows of its LM head) with a softmax over the labels for
 * qwen3, as llama.cpp applies it.
 */
final class DecoderEmbedder implements EmbeddingModel {
    private static final int BLOCK = 16;

    private final Model model;
    private final Pooling pooling;
    private final ClassifierHead head;
    private final List<String> labels;
    private final int[] matryoshka;
    private final int dim;
    private final GGMLType kvType;
    private KvStore kv;
    private float[] hidden, pooled, work;

    /** Wraps a loaded decoder (closing this closes it); pooling null: the file's, which must then say. */
    DecoderEmbedder(Model model, Pooling override, GGMLType kvType) {
        this.model = model;
        this.kvType = kvType;
        var hp = new io.sluice.model.Hparams(model.file());
        Pooling p = override != null ? override : Encoder.filePooling(hp, null);
        if (p == null) {
            throw new IllegalArgumentException(model.file().path() + ": " + hp.arch + " is a generation model and its file names no pooling ("
                    + hp.key("pooling_type") + "); choose one (mean, cls, last, rank) to use it as an embedder");
        }
        this.pooling = p;
        this.dim = model.config().dim();
        this.labels = Encoder.labels(hp);
        this.head = p == Pooling.RANK ? ClassifierHead.load(new Weights(model.file()), dim, hp.arch.equals("qwen3")) : null;
        this.matryoshka = Encoder.matryoshka(hp, outputDim());
    }

    @Override public ModelConfig config() { return model.config(); }
    @Override public Tokenizer tokenizer() { return model.tokenizer(); }
    @Override public GGUFFile file() { return model.file(); }
    @Override public Pooling pooling() { return pooling; }
    @Override public int outputDim() { return head != null ? head.labels() : dim; }
    @Override public List<String> labels() { return labels; }
    @Override public int[] matryoshkaDimensions() { return matryoshka.clone(); }

    @Override
    public void encode(Batch b, float[] out) {
        if (b.size == 0) return;
        int[] starts = Pooling.sequenceStarts(b);
        int blocks = 0, groups = model.kvLayout().groups().size();
        for (int s = 0; s < b.numSeqs; s++) {
            int len = starts[s + 1] - starts[s];
            if (len > model.config().contextLength()) {
                throw new IllegalArgumentException("a sequence of " + len + " tokens exceeds the context of " + model.config().contextLength());
            }
            blocks += (len + BLOCK - 1) / BLOCK * groups;
        }
        if (kv == null || kv.numBlocks() < blocks) {
            if (kv != null) kv.close();
            kv = new KvStore(model.kvLayout(), Math.max(blocks, kv == null ? 0 : kv.numBlocks() * 2), BLOCK, kvType);
        }
        // The sequences' own block tables over the cache, and the tokens whose state pooling reads.
        Batch inner = new Batch(b.size, b.numSeqs);
        inner.output = Batch.Output.HIDDEN;
        for (int s = 0, next = 0; s < b.numSeqs; s++) {
            int len = starts[s + 1] - starts[s];
            int[][] tables = new int[groups][(len + BLOCK - 1) / BLOCK];
            for (int[] table : tables) for (int i = 0; i < table.length; i++) table[i] = next++;
            inner.addSequence(tables);
            int pick = pooling.singleToken() ? pooling.token(starts, s, true) : -1;
            for (int t = starts[s]; t < starts[s + 1]; t++) inner.add(b.tokens[t], b.positions[t], s, pick < 0 || t == pick);
        }
        int rows = pooling == Pooling.NONE ? b.size : b.numSeqs;
        int wanted = inner.logitsCount();
        if (hidden == null || hidden.length < wanted * dim) hidden = new float[wanted * dim];
        if (pooled == null || pooled.length < rows * dim) {
            pooled = new float[rows * dim];
            work = new float[rows * dim];
        }
        if (out.length < (long) rows * outputDim()) throw new IllegalArgumentException("output buffer too small");
        model.forward(inner, kv, hidden);
        // Single-token pooling: the states are already one per sequence, in order.
        if (pooling.singleToken()) System.arraycopy(hidden, 0, pooled, 0, rows * dim);
        else pooling.pool(hidden, dim, b, starts, true, pooled);
        if (head != null) head.forward(pooled, rows, work, out);
        else System.arraycopy(pooled, 0, out, 0, rows * dim);
    }

    @Override
    public long activationBytes(int tokens) {
        long cache = KvStore.bytesPerBlock(model.kvLayout(), BLOCK, kvType) * ((tokens + BLOCK - 1) / BLOCK + 1) * model.kvLayout().groups().size();
        return model.activationBytes(tokens) + cache + 12L * tokens * dim;
    }

    @Override
    public long weightBytes() {
        return model.weightBytes();
    }

    @Override
    public void close() {
        if (kv != null) kv.close();
        model.close();
    }
}
