package io.sluice.engine;

import io.sluice.model.KvStore;
import io.sluice.model.ModelConfig;

/**
 * How the engine's memory splits into weights, activations and the KV block pool.
 *
 * @param weightBytes     the model's mapped weights (resident once paged in)
 * @param activationBytes estimate of the forward pass's work buffers, logits and sampler arrays
 * @param bytesPerBlock   one KV block, all layers, K and V
 * @param numBlocks       blocks in the pool
 * @param contextLength   per-sequence context the engine enforces
 */
public record MemoryPlan(long weightBytes, long activationBytes, long bytesPerBlock, int numBlocks, int contextLength) {

    /** Without kvMemoryBytes or a budget, the pool holds maxSeqs full contexts, capped at this. */
    static final long DEFAULT_POOL_CAP = 2L << 30;

    public long kvBytes() {
        return bytesPerBlock * numBlocks;
    }

    public long totalBytes() {
        return weightBytes + activationBytes + kvBytes();
    }

    /**
     * Sizes the pool: kvMemoryBytes if given, else what memoryBudgetBytes leaves after weights
     * and activations, else enough for maxSeqs full contexts (at most 2 GiB, at least one context).
     * Throws EngineException (INVALID_REQUEST) with the numbers when the model does not fit.
     */
    public static MemoryPlan of(EngineConfig config, ModelConfig model, long weightBytes) {
        int ctx = config.contextLength() > 0 ? config.contextLength() : model.contextLength();
        long perBlock = KvStore.bytesPerBlock(model, config.kvBlockSize(), config.kvType());
        long act = activationBytes(config, model);
        long budget = config.memoryBudgetBytes();
        long pool;
        if (budget > 0 && weightBytes + act > budget) {
            throw new EngineException(EngineException.Kind.INVALID_REQUEST, String.format(
                    "the model does not fit the memory budget of %s: weights %s + activations %s = %s",
                    mib(budget), mib(weightBytes), mib(act), mib(weightBytes + act)));
        }
        if (config.kvMemoryBytes() > 0) {
            pool = config.kvMemoryBytes();
            if (budget > 0 && weightBytes + act + pool > budget) {
                throw new EngineException(EngineException.Kind.INVALID_REQUEST, String.format(
                        "weights %s + activations %s + KV pool %s exceed the memory budget of %s",
                        mib(weightBytes), mib(act), mib(pool), mib(budget)));
            }
        } else if (budget > 0) {
            pool = budget - weightBytes - act;
        } else {
            long blocksPerCtx = (ctx + config.kvBlockSize() - 1) / config.kvBlockSize();
            long oneCtx = blocksPerCtx * perBlock;
            pool = Math.max(oneCtx, Math.min(oneCtx * config.maxSeqs(), DEFAULT_POOL_CAP));
        }
        long blocks = pool / perBlock;
        if (blocks < 1) {
            throw new EngineException(EngineException.Kind.INVALID_REQUEST, String.format(
                    "no room for the KV cache: %s left, one block of %d tokens takes %s (weights %s, activations %s)",
                    mib(Math.max(pool, 0)), config.kvBlockSize(), mib(perBlock), mib(weightBytes), mib(act)));
        }
        if (blocks > Integer.MAX_VALUE / 2) blocks = Integer.MAX_VALUE / 2;
        return new MemoryPlan(weightBytes, act, perBlock, (int) blocks, ctx);
    }

    /** Scratch of the forward pass for maxBatchedTokens tokens, logits for maxSeqs rows, sampler arrays. */
    static long activationBytes(EngineConfig config, ModelConfig m) {
        long n = config.maxBatchedTokens();
        long perToken = 4L * (4L * m.dim() + 2L * m.qDim() + 2L * m.kvDim() + 2L * m.ffnDim());
        long vocab = Math.max(m.vocabSize(), 1);
        long logits = 4L * vocab * Math.min(config.maxSeqs(), config.maxBatchedTokens());
        long sampler = 32L * vocab;
        return n * perToken + logits + sampler;
    }

    private static String mib(long bytes) {
        return String.format("%.1f MiB", bytes / 1048576.0);
    }
}
