package io.sluice.model;

import io.sluice.gguf.GGMLType;
import io.sluice.gguf.GGUFFile;
import io.sluice.model.arch.Architectures;
import io.sluice.model.nn.Pooling;
import io.sluice.model.tokenizer.Tokenizer;

import java.nio.file.Path;
import java.util.List;

/**
 * A model that turns whole token sequences into vectors: an encoder (bert, nomic-bert,
 * jina-bert-v2, gemma-embedding) with bidirectional attention, or a decoder used as an embedder
 * (Qwen3-Embedding: its causal pass, last-token pooling). No KV cache outlives a call. Like a
 * {@link Model}, it is driven by one thread at a time; kernels parallelise inside.
 */
public interface EmbeddingModel extends AutoCloseable {
    ModelConfig config();

    Tokenizer tokenizer();

    GGUFFile file();

    /** How hidden states become one vector per sequence (the file's {@code ARCH.pooling_type}, unless overridden). */
    Pooling pooling();

    /**
     * Floats per output row: the embedding width, or for {@link Pooling#RANK} the classifier's
     * labels (1 for a cross-encoder's relevance logit; Qwen3-Reranker's 2: p(yes), p(no)).
     */
    int outputDim();

    /** The classifier's label names ({@code ARCH.classifier.output_labels}); empty when the file has none. */
    List<String> labels();

    /**
     * The embedding widths the model was trained to be truncated to (Matryoshka), from
     * {@code ARCH.matryoshka_dimensions} (vLLM's {@code matryoshka_dimensions}; GGUF has no
     * standard key); empty when the file does not say, and then any width up to
     * {@link #outputDim()} is served.
     */
    int[] matryoshkaDimensions();

    /**
     * Runs the batch's sequences, each whole and contiguous at positions 0..n-1, and writes one
     * row of {@link #outputDim()} floats per sequence (one per token for {@link Pooling#NONE}) to
     * out, in batch order: pooled, not normalised. Block tables and wantLogits of the batch are
     * not read.
     */
    void encode(Batch batch, float[] out);

    /** Heap bytes of the work buffers for a pass of {@code tokens} tokens (out excluded). */
    long activationBytes(int tokens);

    /** Bytes of weights this model maps. */
    long weightBytes();

    @Override
    void close();

    /** Loads the file as an embedding model, pooling as the file says. */
    static EmbeddingModel load(Path path) {
        return load(path, null);
    }

    /**
     * Loads the file as an embedding model: an encoder architecture, or a decoder's hidden states.
     * {@code pooling} overrides the file's {@code ARCH.pooling_type}; a decoder whose file names
     * no pooling needs one here.
     */
    static EmbeddingModel load(Path path, Pooling pooling) {
        return load(path, pooling, GGMLType.F16);
    }

    /** As {@link #load(Path, Pooling)}, a decoder's per-call KV cache in kvType (F32, F16 or Q8_0; encoders keep none). */
    static EmbeddingModel load(Path path, Pooling pooling, GGMLType kvType) {
        GGUFFile f = GGUFFile.open(path);
        try {
            return Architectures.loadEmbedding(f, pooling, kvType);
        } catch (RuntimeException e) {
            f.close();
            throw e;
        }
    }
}
