package io.sluice.model;

import io.sluice.gguf.GGUFException;
import io.sluice.gguf.GGUFFile;
import io.sluice.model.tokenizer.Tokenizer;

import java.nio.file.Path;

/**
 * A loaded model: its hyperparameters, tokenizer, and a forward pass over a {@link Batch} that
 * reads and writes a paged {@link KvStore}. Weights stay in the file's memory mapping.
 * A model is driven by one thread at a time (the engine loop); kernels parallelise inside.
 */
public interface Model extends AutoCloseable {
    ModelConfig config();

    Tokenizer tokenizer();

    GGUFFile file();

    /**
     * Runs the batch through the model: writes every token's K/V into its sequence's blocks and
     * puts the logits of each token with {@code wantLogits} into {@code logits}, one row of
     * {@code vocabSize} floats per such token, in batch order.
     */
    void forward(Batch batch, KvStore kv, float[] logits);

    /** Bytes of weights this model maps (its resident size once paged in). */
    long weightBytes();

    @Override
    void close();

    /** Loads the architecture named by {@code general.architecture}. */
    static Model load(Path path) {
        GGUFFile f = GGUFFile.open(path);
        try {
            String arch = f.getString("general.architecture", "");
            return switch (arch) {
                case "llama" -> Llama.load(f, false);
                case "qwen2" -> Llama.load(f, true);
                default -> throw new GGUFException(path + ": unsupported architecture '" + arch + "' (supported: llama, qwen2)");
            };
        } catch (RuntimeException e) {
            f.close();
            throw e;
        }
    }
}
