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
 * @param draft           a draft model's weights, activations and KV pool ({@link Draft#NONE} without speculation by one)
 */
public record MemoryPlan(long weightBytes, long activationBytes, long bytesPerBlock, int numBlocks, int contextLength, long runtimeBytes,
                         Draft draft) {

    /**
     * A draft model's share (speculative decoding): its weights, all resident; its work buffers (on the
     * heap, like the target's); and its own KV pool of {@code numBlocks} blocks of this size, so that
     * every sequence the target holds can be drafted for. {@link #NONE} without a draft model.
     */
    public record Draft(long weightBytes, long activationBytes, long bytesPerBlock) {
        public static final Draft NONE = new Draft(0, 0, 0);

        public boolean present() {
            return bytesPerBlock > 0;
        }
    }

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

    /** The target's KV pool. */
    public long kvBytes() {
        return bytesPerBlock * numBlocks;
    }

    /** The draft model's KV pool (0 without one). */
    public long draftKvBytes() {
        return draft.bytesPerBlock() * numBlocks;
    }

    /**
     * Everything the budget covers: weights + KV pool + the runtime (whose heap holds the activations), or
     * weights + activations + KV pool; with a draft model, its weights and pool (and activations) too.
     */
    public long totalBytes() {
        return weightBytes + draft.weightBytes() + (runtimeBytes > 0 ? runtimeBytes : activationBytes + draft.activationBytes())
                + kvBytes() + draftKvBytes();
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
        if (draft.present()) {
            sb.append(" + draft model ").append(size(draft.weightBytes() + draftKvBytes() + (runtimeBytes > 0 ? 0 : draft.activationBytes())))
                    .append(" (weights ").append(size(draft.weightBytes())).append(" + KV pool ").append(size(draftKvBytes()))
                    .append(runtimeBytes > 0 ? "; its activations of " + size(draft.activationBytes()) + " are in the heap)"
                            : " + activations " + size(draft.activationBytes()) + ")");
        }
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
     * gets half of what its minimum leaves, and its weights the rest. A draft model (speculative
     * decoding) is counted in full, weights, work buffers and a pool of as many blocks as the target's,
     * so under a budget both pools get fewer blocks. Throws EngineException (INVALID_REQUEST) with the numbers
     * when the model does not fit, and when the settings could not run on this machine (pool
     * beyond its physical memory, work buffers beyond the Java heap), before anything is allocated.
     */
    public static MemoryPlan of(EngineConfig config, Model model) {
        return of(config, model, Speculation.OFF);
    }

    /** As {@link #of(EngineConfig, Model)} for an engine decoding speculatively: the guesses' logits rows and a draft model's share counted. */
    public static MemoryPlan of(EngineConfig config, Model model, Speculation spec) {
        return of(config, model, spec, Runtime.getRuntime().maxMemory(), physicalMemoryBytes());
    }

    static MemoryPlan of(EngineConfig config, Model model, long heapBytes, long physicalBytes) {
        return of(config, model, Speculation.OFF, heapBytes, physicalBytes);
    }

    static MemoryPlan of(EngineConfig config, Model model, Speculation spec, long heapBytes, long physicalBytes) {
        Model draftModel = spec.usesDraftModel() ? spec.draftModel() : null;
        long full = model.weightBytes();
        long min = Math.min(full, model.minimumResidentWeightBytes());
        int modelCtx = model.config().contextLength();
        if (config.contextLength() > 0 && modelCtx > 0 && config.contextLength() > modelCtx) {
            throw invalid(String.format("--ctx-size %d exceeds the model's context of %d tokens", config.contextLength(), modelCtx));
        }
        int ctx = config.contextLength() > 0 ? config.contextLength() : modelCtx;
        if (ctx <= 0) throw invalid("the model declares no context length; give one with --ctx-size");
        GGMLType kvType = config.kvType();
        checkKvType(model, kvType, "this model's");
        if (draftModel != null) checkKvType(draftModel, kvType, "the draft model's");
        long perBlock = KvStore.bytesPerBlock(model.kvLayout(), config.kvBlockSize(), kvType);
        long act = activationBytes(config, model, logitRows(config, spec));
        Draft draft = draftModel == null ? Draft.NONE : new Draft(draftModel.weightBytes(), activationBytes(config, draftModel),
                KvStore.bytesPerBlock(draftModel.kvLayout(), config.kvBlockSize(), kvType));
        long runtime = config.runtimeBytes();
        checkWorkBuffers(config, model, draftModel, logitRows(config, spec), act + draft.activationBytes(), heapBytes, runtime > 0);
        long budget = config.memoryBudgetBytes();
        // The draft model's pool holds as many blocks as the target's (every sequence can be drafted for): a block costs both.
        long blockBytes = perBlock + draft.bytesPerBlock();
        long defaultPool = defaultPool(config, model.kvLayout().blocksToHold(ctx, config.kvBlockSize()), perBlock) / perBlock * blockBytes;
        // With the runtime counted, the activations are inside its heap and not counted twice.
        long jvm = runtime > 0 ? runtime : act + draft.activationBytes();
        // Besides the target's weights and the pools: the runtime (or the activations) and the draft model's weights.
        long fixed = jvm + draft.weightBytes();
        String fixedPart = (draft.present() ? "draft model's weights " + size(draft.weightBytes()) + " + " : "") + (runtime > 0
                ? String.format("Java runtime %s (heap limit %s + JVM overhead %s)", size(runtime),
                size(runtime - Math.min(runtime, JVM_OVERHEAD_BYTES)), size(Math.min(runtime, JVM_OVERHEAD_BYTES)))
                : "activations " + size(act + draft.activationBytes()));
        String hint = runtime > 0 ? "; raise --memory-budget, or lower the heap (-Xmx; ./sluice derives it from the budget)" : "";
        // Say so when it is the draft model that does not fit.
        boolean aloneFits = draft.present() && budget > 0 && min + (runtime > 0 ? runtime : act) + perBlock <= budget;
        String blameDraft = aloneFits ? "; without the draft model (-md) the target alone would fit" : "";
        long weightBytes = full, pool;
        if (budget > 0 && min + fixed > budget) {
            throw invalid(min < full
                    ? String.format("the model does not fit the memory budget of %s: of its weights of %s at least %s must stay resident, + %s = %s%s%s",
                    size(budget), size(full), size(min), fixedPart, size(min + fixed), blameDraft, hint)
                    : String.format("the model does not fit the memory budget of %s: weights %s + %s = %s%s%s",
                    size(budget), size(full), fixedPart, size(full + fixed), blameDraft, hint));
        }
        if (config.kvMemoryBytes() > 0) {
            // --kv-memory sizes the target's pool; the draft model's comes on top, block for block.
            pool = config.kvMemoryBytes() / perBlock * blockBytes;
            if (budget > 0 && min + fixed + pool > budget) {
                throw invalid(String.format("weights %s + %s + KV pool %s (--kv-memory)%s exceed the memory budget of %s%s",
                        size(min), fixedPart, size(config.kvMemoryBytes()),
                        draft.present() ? " + the draft model's KV pool " + size(pool / blockBytes * draft.bytesPerBlock()) : "", size(budget), blameDraft));
            }
            // Weights beyond what the budget leaves stay on disk (a mixture of experts streams its experts).
            if (budget > 0) weightBytes = Math.min(full, budget - fixed - pool);
        } else if (budget > 0) {
            if (min < full && full + fixed + defaultPool > budget) {
                // The experts would crowd out the KV cache: keep the cold ones on disk, give the pool half of what is left.
                pool = Math.min(defaultPool, (budget - min - fixed) / 2);
                weightBytes = budget - fixed - pool;
            } else {
                pool = budget - full - fixed;
            }
        } else {
            pool = defaultPool;
        }
        long blocks = pool / blockBytes;
        if (blocks < 1) {
            String from = config.kvMemoryBytes() > 0 ? "--kv-memory gives " + size(config.kvMemoryBytes())
                    : size(Math.max(pool, 0)) + " left of the --memory-budget after weights " + size(weightBytes) + " + " + fixedPart;
            throw invalid(String.format("no room for the KV cache: %s, but one block of %d tokens (--kv-block-size) takes %s%s%s",
                    from, config.kvBlockSize(), size(perBlock),
                    draft.present() ? " + " + size(draft.bytesPerBlock()) + " in the draft model's pool" : "", blameDraft));
        }
        if (blocks > Integer.MAX_VALUE / 2) blocks = Integer.MAX_VALUE / 2;
        long kvBytes = blocks * blockBytes;
        if (physicalBytes > 0 && kvBytes + act + draft.activationBytes() > physicalBytes) {
            throw invalid(String.format(
                    "the KV pool of %s plus activations of %s exceed this machine's memory of %s; lower --kv-memory or give --memory-budget",
                    size(kvBytes), size(act + draft.activationBytes()), size(physicalBytes)));
        }
        // What whole blocks leave of the pool goes to the streamed weights.
        if (budget > 0 && weightBytes < full) weightBytes = Math.min(full, budget - fixed - kvBytes);
        return new MemoryPlan(weightBytes, act, perBlock, (int) blocks, ctx, runtime, draft);
    }

    private static void checkKvType(Model m, GGMLType kvType, String whose) {
        int badHead = m.kvLayout().headDimNotMultipleOf(kvType.blockSize);
        if (badHead != 0) {
            throw invalid(String.format("--kv-type %s stores heads in blocks of %d values, but %s heads have %d; use f16 or f32",
                    kvType.name().toLowerCase(java.util.Locale.ROOT), kvType.blockSize, whose, badHead));
        }
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

    /**
     * The forward passes (the target's and the draft model's, if any) and the sampler keep their work
     * buffers in Java arrays: each must be indexable, all (act) must fit the heap.
     */
    private static void checkWorkBuffers(EngineConfig config, Model m, Model draft, long logitRows, long act, long heapBytes, boolean heapCounted) {
        long n = config.maxBatchedTokens();
        for (Model x : draft == null ? java.util.List.of(m) : java.util.List.of(m, draft)) {
            if (n * x.activationWidth() > MAX_ARRAY || logitRows * Math.max(x.config().vocabSize(), 1) > MAX_ARRAY) {
                throw invalid(String.format("--max-batched-tokens %d and --max-seqs %d are too large for %s work buffers; lower them",
                        config.maxBatchedTokens(), config.maxSeqs(), x == m ? "this model's" : "the draft model's"));
            }
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
        return activationBytes(config, m, Math.min(config.maxSeqs(), config.maxBatchedTokens()));
    }

    private static long activationBytes(EngineConfig config, Model m, int logitRows) {
        long vocab = Math.max(m.config().vocabSize(), 1);
        long sampler = 32L * vocab;
        return m.activationBytes(config.maxBatchedTokens()) + 4L * vocab * logitRows + sampler;
    }

    /**
     * Logits rows a step of the target may produce: one per sequence, and with speculation room for one
     * sequence's longest draft twice over (a single stream gets it whole), within the batch's tokens.
     */
    static int logitRows(EngineConfig config, Speculation spec) {
        return Math.min(config.maxSeqs() + (spec.enabled() ? 2 * spec.draftMax() : 0), config.maxBatchedTokens());
    }

    /** A byte count in the largest unit that keeps it at least 1 (bytes, KiB, MiB, GiB), so small sizes never print as 0.0. */
    public static String size(long bytes) {
        if (bytes < 1024) return bytes + " bytes";
        if (bytes < 1L << 20) return String.format(java.util.Locale.ROOT, "%.1f KiB", bytes / 1024.0);
        if (bytes < 1L << 30) return String.format(java.util.Locale.ROOT, "%.1f MiB", bytes / 1048576.0);
        return String.format(java.util.Locale.ROOT, "%.1f GiB", bytes / (double) (1L << 30));
    }
}
