package io.sluice.model;

/** How rotary embeddings pair up the dimensions of a head. */
public enum RopeType {
    /** Adjacent pairs (x[2i], x[2i+1]): llama. */
    NORMAL,
    /** Halves (x[i], x[i + d/2]): GPT-NeoX style, used by qwen2. */
    NEOX
}
