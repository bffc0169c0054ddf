package io.sluice.model;

import io.sluice.gguf.GGUFFile;
import io.sluice.model.arch.Architectures;
import io.sluice.model.tokenizer.Tokenizer;

import java.nio.file.Path;

/**
 * A loaded model: its tokenizer, a forward pass over a {@link Batch} that reads and writes a paged
 * {@link KvStore}, and what the engine must know to plan memory for it: the KV cache layout of
 * every layer and the size of the forward pass's work buffers. Weights stay in the file's memory
 * mapping. A model is driven by one thread at a time (the engine loop); kernels parallelise inside.
 */
public interface Model extends AutoCloseable {
    ModelConfig config();

    Tokenizer tokenizer();

    GGUFFile file();

    /** Per layer: KV heads, head size and sliding window (what the KV cache must hold). */
    KvLayout kvLayout();

    /** Heap bytes of the forward pass's work buffers for a batch of {@code tokens} tokens (the caller's logits excluded). */
    long activationBytes(int tokens);

    /** The widest per-token work buffer, in floats: a batch of n tokens allocates arrays of n times this. */
    int activationWidth();

    /**
     * Runs the batch through the model: writes every token's K/V into its sequence's blocks and
     * puts the logits of each token with {@code wantLogits} into {@code logits}, one row of
     * {@code vocabSize} floats per such token, in batch order (with {@link Batch.Output#HIDDEN}
     * their final-normed hidden states instead, {@code dim} floats each).
     */
    void forward(Batch batch, KvStore kv, float[] logits);

    /** Bytes of weights this model maps (its resident size once paged in). */
    long weightBytes();

    /**
     * The fewest bytes of weights a forward pass needs resident: every weight of a dense model;
     * for a mixture of experts, everything but the experts plus one token's experts in every layer
     * (the others can stay on disk, see {@link #limitResidentWeights}).
     */
    default long minimumResidentWeightBytes() {
        return weightBytes();
    }

    /**
     * Keeps about at most {@code bytes} of weights resident from now on (not less than
     * {@link #minimumResidentWeightBytes()}); at or above {@link #weightBytes()} nothing changes.
     * A mixture of experts then reads its experts from the page cache without copying them and
     * drops the least recently used ones from the process; a dense model needs all of its weights.
     */
    default void limitResidentWeights(long bytes) {
    }

    /** Bytes of weights the model holds resident by its own accounting (all of them unless limited). */
    default long residentWeightBytes() {
        return weightBytes();
    }

    /** What a mixture-of-experts model's routing did since it was loaded; null for a dense model. */
    default RoutingStats routingStats() {
        return null;
    }

    @Override
    void close();

    /** Loads the architecture named by {@code general.architecture}, for its trained context. */
    static Model load(Path path) {
        return load(path, 0);
    }

    /**
     * Loads the model for sequences of up to {@code contextLength} tokens (0 = the trained context):
     * settings that depend on the context, such as LongRoPE's short or long factors, follow it.
     */
    static Model load(Path path, int contextLength) {
        GGUFFile f = GGUFFile.open(path);
        try {
            return Architectures.load(f, contextLength);
        } catch (RuntimeException e) {
            f.close();
            throw e;
        }
    }
}
