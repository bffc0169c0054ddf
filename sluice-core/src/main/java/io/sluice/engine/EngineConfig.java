package io.sluice.engine;

import io.sluice.gguf.GGMLType;

/**
 * Memory and batching limits of an engine.
 *
 * @param kvMemoryBytes     bytes for the KV block pool; 0 = derive from memoryBudgetBytes
 * @param memoryBudgetBytes hard budget for weights + activations + KV pool; 0 = no budget (then kvMemoryBytes or a default)
 * @param kvBlockSize       token positions per KV block
 * @param kvType            F32, F16 or Q8_0
 * @param maxBatchedTokens  tokens per forward pass (decodes first, then prefill chunks)
 * @param maxSeqs           sequences running at once
 * @param maxQueue          waiting requests before submit() refuses with QUEUE_FULL
 * @param contextLength     per-sequence context; 0 = the model's
 */
public record EngineConfig(
        long kvMemoryBytes,
        long memoryBudgetBytes,
        int kvBlockSize,
        GGMLType kvType,
        int maxBatchedTokens,
        int maxSeqs,
        int maxQueue,
        int contextLength) {

    public static EngineConfig defaults() {
        return new EngineConfig(0, 0, 16, GGMLType.F16, 512, 16, 256, 0);
    }

    public EngineConfig {
        if (kvBlockSize <= 0 || kvBlockSize > 1024) throw new IllegalArgumentException("--kv-block-size must be in 1..1024");
        if (maxBatchedTokens <= 0) throw new IllegalArgumentException("--max-batched-tokens must be positive");
        if (maxSeqs <= 0) throw new IllegalArgumentException("--max-seqs must be positive");
        if (maxQueue < 0) throw new IllegalArgumentException("queue size must be >= 0");
        if (kvMemoryBytes < 0 || memoryBudgetBytes < 0 || contextLength < 0) throw new IllegalArgumentException("sizes must be >= 0");
        if (kvType != GGMLType.F32 && kvType != GGMLType.F16 && kvType != GGMLType.Q8_0) {
            throw new IllegalArgumentException("--kv-type must be f32, f16 or q8_0");
        }
    }
}
