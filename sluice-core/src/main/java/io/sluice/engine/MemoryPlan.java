package io.sluice.engine;

import io.sluice.gguf.GGMLType;
import io.sluice.model.KvStore;
import io.sluice.model.Model;

/**
 * How the engine's memory splits into weights, activations and the KV block pool.
 *
 * @param weightBytes     the model's weights kept resident: all of them (once paged in), or under a
 *                        memory budget smaller than that what the budget leaves for them (a
 *                        mixture of experts then keeps its cold experts on disk)
 * @param activationBytes estimate of the forward pass's work buffers, logits and sampler arrays
 * @param bytesPerBlock   one KV block, all layers, K and V (the model's {@link io.sluice.model.KvLayout})
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
     * and activations, else enough for maxSeqs full contexts (at most 2 GiB; a context larger
     * than that is capped by the pool). A model that can leave weights on disk (a mixture of
     * experts, see {@link Model#minimumResidentWeightBytes}) is planned with fewer of them
     * resident when all of them would not leave that default pool within the budget: the pool then
     * gets half of what its minimum leaves, and its weights the rest. Throws EngineException (INVALID_REQUEST) with the numbers
     * when the model does not fit, and when the settings could not run on this machine (pool
     * beyond its physical memory, work buffers beyond the Java heap), before anything is allocated.
     */
    public static MemoryPlan of(EngineConfig config, Model model) {
        return of(config, model, Runtime.getRuntime().maxMemory(), physicalMemoryBytes());
    }

    static MemoryPlan of(EngineConfig config, Model model, long heapBytes, long physicalBytes) {
        long full = model.weightBytes();
        long min = Math.min(full, model.minimumResidentWeightBytes());
        int modelCtx = model.config().contextLength();
        if (config.contextLength() > 0 && modelCtx > 0 && config.contextLength() > modelCtx) {
            throw invalid(String.format("--ctx-size %d exceeds the model's context of %d tokens", config.contextLength(), modelCtx));
        }
        int ctx = config.contextLength() > 0 ? config.contextLength() : modelCtx;
        if (ctx <= 0) throw invalid("the model declares no context length; give one with --ctx-size");
        GGMLType kvType = config.kvType();
        int badHead = model.kvLayout().headDimNotMultipleOf(kvType.blockSize);
        if (badHead != 0) {
            throw invalid(String.format("--kv-type %s stores heads in blocks of %d values, but this model's heads have %d; use f16 or f32",
                    kvType.name().toLowerCase(java.util.Locale.ROOT), kvType.blockSize, badHead));
        }
        long perBlock = KvStore.bytesPerBlock(model.kvLayout(), config.kvBlockSize(), kvType);
        long act = activationBytes(config, model);
        checkWorkBuffers(config, model, act, heapBytes);
        long budget = config.memoryBudgetBytes();
        long defaultPool = defaultPool(config, ctx, perBlock);
        long weightBytes = full, pool;
        if (budget > 0 && min + act > budget) {
            throw invalid(min < full
                    ? String.format("the model does not fit the memory budget of %s: of its weights of %s at least %s must stay resident, + activations %s = %s",
                    mib(budget), mib(full), mib(min), mib(act), mib(min + act))
                    : String.format("the model does not fit the memory budget of %s: weights %s + activations %s = %s",
                    mib(budget), mib(full), mib(act), mib(full + act)));
        }
        if (config.kvMemoryBytes() > 0) {
            pool = config.kvMemoryBytes();
            if (budget > 0 && min + act + pool > budget) {
                throw invalid(String.format(
                        "weights %s + activations %s + KV pool %s exceed the memory budget of %s",
                        mib(min), mib(act), mib(pool), mib(budget)));
            }
            // Weights beyond what the budget leaves stay on disk (a mixture of experts streams its experts).
            if (budget > 0) weightBytes = Math.min(full, budget - act - pool);
        } else if (budget > 0) {
            if (min < full && full + act + defaultPool > budget) {
                // The experts would crowd out the KV cache: keep the cold ones on disk, give the pool half of what is left.
                pool = Math.min(defaultPool, (budget - min - act) / 2);
                weightBytes = budget - act - pool;
            } else {
                pool = budget - full - act;
            }
        } else {
            pool = defaultPool;
        }
        long blocks = pool / perBlock;
        if (blocks < 1) {
            throw invalid(String.format(
                    "no room for the KV cache: %s left, one block of %d tokens takes %s (weights %s, activations %s)",
                    mib(Math.max(pool, 0)), config.kvBlockSize(), mib(perBlock), mib(weightBytes), mib(act)));
        }
        if (blocks > Integer.MAX_VALUE / 2) blocks = Integer.MAX_VALUE / 2;
        long kvBytes = blocks * perBlock;
        if (physicalBytes > 0 && kvBytes + act > physicalBytes) {
            throw invalid(String.format(
                    "the KV pool of %s plus activations of %s exceed this machine's memory of %s; lower --kv-memory or give --memory-budget",
                    mib(kvBytes), mib(act), mib(physicalBytes)));
        }
        // What whole blocks leave of the pool goes to the streamed weights.
        if (budget > 0 && weightBytes < full) weightBytes = Math.min(full, budget - act - kvBytes);
        return new MemoryPlan(weightBytes, act, perBlock, (int) blocks, ctx);
    }

    /** Without kvMemoryBytes or a budget: enough for maxSeqs full contexts, at most 2 GiB (a context larger than that is capped by the pool). */
    private static long defaultPool(EngineConfig config, int ctx, long perBlock) {
        long blocksPerCtx = ((long) ctx + config.kvBlockSize() - 1) / config.kvBlockSize(); // long: ctx may be near 2^31
        long oneCtx = blocksPerCtx * perBlock;
        // Huge trained contexts (128K and more) would otherwise claim tens of GiB by default.
        return oneCtx >= DEFAULT_POOL_CAP / config.maxSeqs() ? DEFAULT_POOL_CAP : oneCtx * config.maxSeqs();
    }

    /** The forward pass and sampler keep their work buffers in Java arrays: each must be indexable, all must fit the heap. */
    private static void checkWorkBuffers(EngineConfig config, Model m, long act, long heapBytes) {
        long n = config.maxBatchedTokens();
        long logitRows = Math.min(config.maxSeqs(), config.maxBatchedTokens());
        if (n * m.activationWidth() > MAX_ARRAY || logitRows * Math.max(m.config().vocabSize(), 1) > MAX_ARRAY) {
            throw invalid(String.format("--max-batched-tokens %d and --max-seqs %d are too large for this model's work buffers; lower them",
                    config.maxBatchedTokens(), config.maxSeqs()));
        }
        if (heapBytes > 0 && heapBytes != Long.MAX_VALUE && act > heapBytes) {
            throw invalid(String.format(
                    "activations for --max-batched-tokens %d and --max-seqs %d need %s but the Java heap holds at most %s; lower them or raise -Xmx",
                    config.maxBatchedTokens(), config.maxSeqs(), mib(act), mib(heapBytes)));
        }
    }

    private static final long MAX_ARRAY = Integer.MAX_VALUE - 8;

    private static EngineException invalid(String message) {
        return new EngineException(EngineException.Kind.INVALID_REQUEST, message);
    }

    /** Total physical memory (the container's limit where there is one), or 0 when unknown. */
    static long physicalMemoryBytes() {
        try {
            if (java.lang.management.ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
                return os.getTotalMemorySize();
            }
        } catch (RuntimeException | LinkageError e) {
            // No management module: skip the check rather than refuse to start.
        }
        return 0;
    }

    /** The model's work buffers for maxBatchedTokens tokens, logits for maxSeqs rows, sampler arrays. */
    static long activationBytes(EngineConfig config, Model m) {
        long vocab = Math.max(m.config().vocabSize(), 1);
        long logits = 4L * vocab * Math.min(config.maxSeqs(), config.maxBatchedTokens());
        long sampler = 32L * vocab;
        return m.activationBytes(config.maxBatchedTokens()) + logits + sampler;
    }

    private static String mib(long bytes) {
        return bytes >= 1L << 30 ? String.format("%.1f GiB", bytes / (double) (1L << 30)) : String.format("%.1f MiB", bytes / 1048576.0);
    }
}
