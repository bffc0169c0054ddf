package io.sluice.engine;

import io.sluice.gguf.GGMLType;

/**
 * Memory and batching limits of an engine.
 *
 * @param kvMemoryBytes     bytes for the KV block pool; 0 = derive from memoryBudgetBytes
 * @param memoryBudgetBytes hard budget for weights + activations + KV pool (+ runtimeBytes); 0 = no budget (then kvMemoryBytes or a default)
 * @param kvBlockSize       token positions per KV block
 * @param kvType            F32, F16 or Q8_0
 * @param maxBatchedTokens  tokens per forward pass (decodes first, then prefill chunks)
 * @param maxSeqs           sequences running at once
 * @param maxQueue          waiting requests before submit() refuses with QUEUE_FULL
 * @param contextLength     per-sequence context; 0 = the model's
 * @param runtimeBytes      the part of the budget the Java runtime itself takes (its heap limit, which also holds the
 *                          activations, plus the JVM's own memory; {@link MemoryPlan#javaRuntimeBytes()}), so that the
 *                          budget covers the whole process; 0 = the budget covers the engine's buffers only (a library
 *                          sharing its JVM)
 */
public record EngineConfig(
        long kvMemoryBytes,
        long memoryBudgetBytes,
        int kvBlockSize,
        GGMLType kvType,
        int maxBatchedTokens,
        int maxSeqs,
        int maxQueue,
        int contextLength,
        long runtimeBytes) {

    /** A configuration whose budget (if any) covers the engine's buffers only. */
    public EngineConfig(long kvMemoryBytes, long memoryBudgetBytes, int kvBlockSize, GGMLType kvType, int maxBatchedTokens,
                        int maxSeqs, int maxQueue, int contextLength) {
        this(kvMemoryBytes, memoryBudgetBytes, kvBlockSize, kvType, maxBatchedTokens, maxSeqs, maxQueue, contextLength, 0);
    }

    public static EngineConfig defaults() {
        return new EngineConfig(0, 0, 16, GGMLType.F16, 512, 16, 256, 0);
    }

    /** Upper limits that keep every per-step array (sized by these) far from int overflow. */
    public static final int MAX_BATCHED_TOKENS = 1 << 20, MAX_SEQS = 4096, MAX_QUEUE = 1 << 20;

    public EngineConfig {
        if (kvBlockSize <= 0 || kvBlockSize > 1024) throw new IllegalArgumentException("--kv-block-size must be in 1..1024");
        if (maxBatchedTokens <= 0 || maxBatchedTokens > MAX_BATCHED_TOKENS) {
            throw new IllegalArgumentException("--max-batched-tokens must be in 1.." + MAX_BATCHED_TOKENS + " (got " + maxBatchedTokens + ")");
        }
        if (maxSeqs <= 0 || maxSeqs > MAX_SEQS) throw new IllegalArgumentException("--max-seqs must be in 1.." + MAX_SEQS + " (got " + maxSeqs + ")");
        if (maxQueue < 0 || maxQueue > MAX_QUEUE) throw new IllegalArgumentException("--max-queue must be in 0.." + MAX_QUEUE + " (got " + maxQueue + ")");
        if (kvMemoryBytes < 0 || memoryBudgetBytes < 0 || contextLength < 0 || runtimeBytes < 0) throw new IllegalArgumentException("sizes must be >= 0");
        if (kvType == null || !io.sluice.model.KvStore.supports(kvType)) {
            throw new IllegalArgumentException("--kv-type must be f32, f16, q8_0, q4_0 or iq4_nl");
        }
    }
}
