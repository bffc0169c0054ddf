package io.sluice.engine;

import io.sluice.gguf.GGMLType;
import io.sluice.model.KvStore;
import io.sluice.model.Model;

/**
 * How the process's memory splits into weights, activations, the KV block pool and the Java runtime.
 *
 * <p>Resident memory of a serving process is: the weights (mapped from the file, or their repacked
 * off-heap copy once the mapping's pages are released: about one copy either way), the KV pool (off-heap,
 * its pages supplied on first use, see {@link io.sluice.tensor.ZeroPages}), the Java heap (up to its
 * -Xmx limit; it holds the activations, the tokenizer and the server's request data) and the JVM's own
 * memory (class metadata, JIT code, GC tables, thread stacks, native libraries: {@link #JVM_OVERHEAD_BYTES},
 * an estimate measured on the serving process). When {@link EngineConfig#runtimeBytes()} is set (the CLI
 * does, from the real -Xmx) the budget covers all of it.
 *
 * @param weightBytes     the model's weights kept resident (once paged in or repacked): all of them, or under a
 *                        memory budget smaller than that what the budget leaves for them (a
 *                        mixture of experts then keeps its cold experts on disk)
 * @param activationBytes estimate of the forward pass's work buffers, logits and sampler arrays (on the heap)
 * @param bytesPerBlock   one KV block: blockSize positions, K and V, of one group of layers (the model's
 *                        {@link io.sluice.model.KvLayout}; every layer for a model without sliding windows)
 * @param numBlocks       blocks in the pool
 * @param contextLength   per-sequence context the engine enforces
 * @param runtimeBytes    the Java runtime's share of the budget (heap limit + JVM overhead); 0 when not counted
 */
public record MemoryPlan(long weightBytes, long activationBytes, long bytesPerBlock, int numBlocks, int contextLength, long runtimeBytes) {

    /** Without kvMemoryBytes or a budget, the pool holds maxSeqs full contexts, capped at this (allocated lazily). */
    static final long DEFAULT_POOL_CAP = 2L << 30;

    /**
     * The JVM's memory besides the heap, as counted against a budget: metaspace and class data (~40 MiB
     * with Javalin, Jackson and Jinjava loaded), JIT code cache and compiler arenas (~40-60 MiB under load), GC
     * structures, thread stacks, libjvm and the native kernels (~40 MiB), malloc arenas. Measured on
     * {@code sluice serve} under the streaming churn test (see docs/MEMORY.md).
     */
    public static final long JVM_OVERHEAD_BYTES = 160L << 20;

    /** The heap must keep this much room beside the activations, for the tokenizer's tables and request data. */
    static final long HEAP_HEADROOM_BYTES = 48L << 20;

    public long kvBytes() {
        return bytesPerBlock * numBlocks;
    }

    /** Everything the budget covers: weights + KV pool + the runtime (whose heap holds the activations), or weights + activations + KV pool. */
    public long totalBytes() {
        return weightBytes + (runtimeBytes > 0 ? runtimeBytes : activationBytes) + kvBytes();
    }

    /** The Java runtime's share of a process-wide budget: the heap's limit (-Xmx) plus {@link #JVM_OVERHEAD_BYTES}. */
    public static long javaRuntimeBytes() {
        return maxHeapBytes() + JVM_OVERHEAD_BYTES;
    }

    /** The heap's limit as configured (-Xmx, or the JVM's default), which the heap may grow to. */
    public static long maxHeapBytes() {
        try {
            var bean = java.lang.management.ManagementFactory.getPlatformMXBean(com.sun.management.HotSpotDiagnosticMXBean.class);
            if (bean != null) return Long.parseLong(bean.getVMOption("MaxHeapSize").getValue());
        } catch (RuntimeException | LinkageError e) {
            // not HotSpot: the usable heap is close enough
        }
        return Runtime.getRuntime().maxMemory();
    }

    /** One line for logs: every part and the sum against the budget. */
    public String describe(EngineConfig config) {
        StringBuilder sb = new StringBuilder();
        sb.append("weights ").append(size(weightBytes))
                .append(" + KV pool ").append(size(kvBytes())).append(" (").append(numBlocks).append(" blocks of ").append(config.kvBlockSize())
                .append(" tokens, ").append(config.kvType().name().toLowerCase(java.util.Locale.ROOT))
                .append(io.sluice.tensor.ZeroPages.lazy() ? ", pages allocated on use)" : ")");
        if (runtimeBytes > 0) {
            sb.append(" + JVM ").append(size(runtimeBytes)).append(" (heap ").append(size(runtimeBytes - JVM_OVERHEAD_BYTES))
                    .append(" holding activations of ").append(size(activationBytes)).append(", runtime overhead ").append(size(JVM_OVERHEAD_BYTES)).append(")");
        } else {
            sb.append(" + activations ").append(size(activationBytes)).append(" (JVM not counted)");
        }
        sb.append(" = ").append(size(totalBytes()));
        if (config.memoryBudgetBytes() > 0) sb.append(" of the ").append(size(config.memoryBudgetBytes())).append(" budget");
        return sb.toString();
    }

    /**
     * Sizes the pool: kvMemoryBytes if given, else what memoryBudgetBytes leaves after weights
     * and activations (or, with runtimeBytes, after weights and the Java runtime), else enough for
     * maxSeqs full contexts (at most 2 GiB, whose pages are only taken as used; a context larger
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
        long runtime = config.runtimeBytes();
        checkWorkBuffers(config, model, act, heapBytes, runtime > 0);
        long budget = config.memoryBudgetBytes();
        long defaultPool = defaultPool(config, model.kvLayout().blocksToHold(ctx, config.kvBlockSize()), perBlock);
        // With the runtime counted, the activations are inside its heap and not counted twice.
        long jvm = runtime > 0 ? runtime : act;
        String jvmPart = runtime > 0
                ? String.format("Java runtime %s (heap limit %s + JVM overhead %s)", size(runtime),
                size(runtime - Math.min(runtime, JVM_OVERHEAD_BYTES)), size(Math.min(runtime, JVM_OVERHEAD_BYTES)))
                : "activations " + size(act);
        String hint = runtime > 0 ? "; raise --memory-budget, or lower the heap (-Xmx; ./sluice derives it from the budget)" : "";
        long weightBytes = full, pool;
        if (budget > 0 && min + jvm > budget) {
            throw invalid(min < full
                    ? String.format("the model does not fit the memory budget of %s: of its weights of %s at least %s must stay resident, + %s = %s%s",
                    size(budget), size(full), size(min), jvmPart, size(min + jvm), hint)
                    : String.format("the model does not fit the memory budget of %s: weights %s + %s = %s%s",
                    size(budget), size(full), jvmPart, size(full + jvm), hint));
        }
        if (config.kvMemoryBytes() > 0) {
            pool = config.kvMemoryBytes();
            if (budget > 0 && min + jvm + pool > budget) {
                throw invalid(String.format("weights %s + %s + KV pool %s (--kv-memory) exceed the memory budget of %s",
                        size(min), jvmPart, size(pool), size(budget)));
            }
            // Weights beyond what the budget leaves stay on disk (a mixture of experts streams its experts).
            if (budget > 0) weightBytes = Math.min(full, budget - jvm - pool);
        } else if (budget > 0) {
            if (min < full && full + jvm + defaultPool > budget) {
                // The experts would crowd out the KV cache: keep the cold ones on disk, give the pool half of what is left.
                pool = Math.min(defaultPool, (budget - min - jvm) / 2);
                weightBytes = budget - jvm - pool;
            } else {
                pool = budget - full - jvm;
            }
        } else {
            pool = defaultPool;
        }
        long blocks = pool / perBlock;
        if (blocks < 1) {
            String from = config.kvMemoryBytes() > 0 ? "--kv-memory gives " + size(pool)
                    : size(Math.max(pool, 0)) + " left of the --memory-budget after weights " + size(weightBytes) + " + " + jvmPart;
            throw invalid(String.format("no room for the KV cache: %s, but one block of %d tokens (--kv-block-size) takes %s",
                    from, config.kvBlockSize(), size(perBlock)));
        }
        if (blocks > Integer.MAX_VALUE / 2) blocks = Integer.MAX_VALUE / 2;
        long kvBytes = blocks * perBlock;
        if (physicalBytes > 0 && kvBytes + act > physicalBytes) {
            throw invalid(String.format(
                    "the KV pool of %s plus activations of %s exceed this machine's memory of %s; lower --kv-memory or give --memory-budget",
                    size(kvBytes), size(act), size(physicalBytes)));
        }
        // What whole blocks leave of the pool goes to the streamed weights.
        if (budget > 0 && weightBytes < full) weightBytes = Math.min(full, budget - jvm - kvBytes);
        return new MemoryPlan(weightBytes, act, perBlock, (int) blocks, ctx, runtime);
    }

    /**
     * Without kvMemoryBytes or a budget: enough for maxSeqs full contexts (sliding-window layers
     * holding only their windows), at most 2 GiB (a context larger than that is capped by the pool).
     */
    private static long defaultPool(EngineConfig config, long blocksPerCtx, long perBlock) {
        long oneCtx = blocksPerCtx * perBlock;
        // Huge trained contexts (128K and more) would otherwise claim tens of GiB by default.
        return oneCtx >= DEFAULT_POOL_CAP / config.maxSeqs() ? DEFAULT_POOL_CAP : oneCtx * config.maxSeqs();
    }

    /** The forward pass and sampler keep their work buffers in Java arrays: each must be indexable, all must fit the heap. */
    private static void checkWorkBuffers(EngineConfig config, Model m, long act, long heapBytes, boolean heapCounted) {
        long n = config.maxBatchedTokens();
        long logitRows = Math.min(config.maxSeqs(), config.maxBatchedTokens());
        if (n * m.activationWidth() > MAX_ARRAY || logitRows * Math.max(m.config().vocabSize(), 1) > MAX_ARRAY) {
            throw invalid(String.format("--max-batched-tokens %d and --max-seqs %d are too large for this model's work buffers; lower them",
                    config.maxBatchedTokens(), config.maxSeqs()));
        }
        // When the heap is part of the budget it must also keep room for the tokenizer and requests.
        long need = heapCounted ? act + HEAP_HEADROOM_BYTES : act;
        if (heapBytes > 0 && heapBytes != Long.MAX_VALUE && need > heapBytes) {
            throw invalid(String.format(
                    "activations for --max-batched-tokens %d and --max-seqs %d need %s%s but the Java heap holds at most %s; lower them or raise %s",
                    config.maxBatchedTokens(), config.maxSeqs(), size(act), heapCounted ? " plus " + size(HEAP_HEADROOM_BYTES) + " of headroom" : "",
                    size(heapBytes), heapCounted ? "--memory-budget (./sluice sizes -Xmx from it) or -Xmx" : "-Xmx"));
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

    /** A byte count in the largest unit that keeps it at least 1 (bytes, KiB, MiB, GiB), so small sizes never print as 0.0. */
    public static String size(long bytes) {
        if (bytes < 1024) return bytes + " bytes";
        if (bytes < 1L << 20) return String.format(java.util.Locale.ROOT, "%.1f KiB", bytes / 1024.0);
        if (bytes < 1L << 30) return String.format(java.util.Locale.ROOT, "%.1f MiB", bytes / 1048576.0);
        return String.format(java.util.Locale.ROOT, "%.1f GiB", bytes / (double) (1L << 30));
    }
}
