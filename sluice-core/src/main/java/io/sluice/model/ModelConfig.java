package io.sluice.model;

/**
 * What the engine, CLI and server need to know of a loaded model, whatever its architecture (the
 * architecture's own hyperparameters stay inside its forward pass).
 *
 * @param arch          {@code general.architecture}
 * @param dim           embedding width
 * @param nLayers       transformer layers
 * @param vocabSize     rows of the output layer (logits per token)
 * @param contextLength the context the model was trained for ({@code ARCH.context_length})
 */
public record ModelConfig(String arch, int dim, int nLayers, int vocabSize, int contextLength) {
}
