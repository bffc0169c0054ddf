package io.sluice.cli;

import io.sluice.engine.Embedder;
import io.sluice.engine.EngineConfig;
import io.sluice.engine.MemoryPlan;
import picocli.CommandLine;
import picocli.CommandLine.Option;

/** The engine's memory and batching options, shared by run, serve and bench --batched. */
final class EngineOptions {
    @Option(names = "--kv-memory", paramLabel = "BYTES", description = "KV cache pool size, e.g. 512M (default: from --memory-budget, else enough for the context of every sequence)")
    String kvMemory;

    @Option(names = "--memory-budget", paramLabel = "BYTES",
            description = "hard budget for the whole process, e.g. 4G: weights + KV pool + Java heap (which holds the activations) + JVM overhead; ./sluice sizes -Xmx from it")
    String memoryBudget;

    @Option(names = "--kv-block-size", defaultValue = "16", description = "token positions per KV block (default ${DEFAULT-VALUE})")
    int kvBlockSize;

    @Option(names = "--kv-type", defaultValue = "f16", description = "KV cache type: f32, f16, q8_0, q4_0, iq4_nl (default ${DEFAULT-VALUE})")
    String kvType;

    @Option(names = "--max-batched-tokens", defaultValue = "512", description = "tokens per forward pass (default ${DEFAULT-VALUE})")
    int maxBatchedTokens;

    @Option(names = "--max-seqs", defaultValue = "16", description = "sequences running at once (default ${DEFAULT-VALUE})")
    int maxSeqs;

    @Option(names = "--max-queue", defaultValue = "256", description = "waiting requests before new ones are refused (default ${DEFAULT-VALUE})")
    int maxQueue;

    @Option(names = {"-c", "--ctx-size"}, defaultValue = "0", description = "context per sequence (default: the model's)")
    int ctxSize;

    @CommandLine.Spec(CommandLine.Spec.Target.MIXEE)
    CommandLine.Model.CommandSpec spec;

    /**
     * The settings for an embedding model: the batching options given on the command line, the rest
     * {@link Embedder#defaults()} (an encoder gains from wider passes and has no KV cache to hold).
     */
    EngineConfig toEmbeddingConfig() {
        EngineConfig d = Embedder.defaults();
        long budget = memoryBudget == null ? 0 : Options.bytes("--memory-budget", memoryBudget);
        return new EngineConfig(0, budget, kvBlockSize, Options.kvType(kvType),
                given("--max-batched-tokens") ? maxBatchedTokens : d.maxBatchedTokens(), given("--max-seqs") ? maxSeqs : d.maxSeqs(),
                given("--max-queue") ? maxQueue : d.maxQueue(), ctxSize, budget > 0 ? MemoryPlan.javaRuntimeBytes() : 0);
    }

    private boolean given(String option) {
        return spec != null && spec.commandLine().getParseResult() != null && spec.commandLine().getParseResult().hasMatchedOption(option);
    }

    EngineConfig toConfig() {
        long budget = memoryBudget == null ? 0 : Options.bytes("--memory-budget", memoryBudget);
        // The CLI owns its JVM, so a budget covers the whole process, this JVM's heap limit included.
        return new EngineConfig(kvMemory == null ? 0 : Options.bytes("--kv-memory", kvMemory), budget,
                kvBlockSize, Options.kvType(kvType), maxBatchedTokens, maxSeqs, maxQueue, ctxSize, budget > 0 ? MemoryPlan.javaRuntimeBytes() : 0);
    }
}
