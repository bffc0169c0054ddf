package io.sluice.cli;

import io.sluice.engine.BatchedBench;
import io.sluice.engine.EngineConfig;
import io.sluice.engine.LlmEngine;
import io.sluice.gguf.GGMLType;
import io.sluice.grammar.JsonSchemaGrammar;
import io.sluice.grammar.TokenGrammar;
import io.sluice.grammar.TokenVocabulary;
import io.sluice.model.Model;

/** {@code sluice bench --batched}: sizes an engine for the largest test, then prints llama-batched-bench's table or JSON lines. */
final class BatchedBenchRunner {
    private BatchedBenchRunner() {
    }

    /** schema: JSON Schema text every sequence is constrained by, or null. */
    static void run(Model m, GGMLType kvType, int[] npp, int[] ntg, int[] npl, boolean json, String schema, io.sluice.engine.Speculation speculation) {
        TokenGrammar grammar = schema == null ? null
                : TokenGrammar.compile(JsonSchemaGrammar.fromSchema(schema), TokenVocabulary.of(m.tokenizer()));
        int maxPl = 0, maxCtx = 0;
        for (int pl : npl) maxPl = Math.max(maxPl, pl);
        for (int pp : npp) for (int tg : ntg) maxCtx = Math.max(maxCtx, pp + tg + 1);
        if (maxCtx > m.config().contextLength()) {
            throw new IllegalArgumentException("a sequence of " + maxCtx + " positions exceeds the model's context of " + m.config().contextLength());
        }
        int bs = 16;
        // Every group a block per block of positions, as a prefill chunk may need before its window moves on.
        // Guessed positions past a sequence's last need blocks too.
        long blocksPerSeq = ((maxCtx + speculation.draftMax() + bs - 1) / bs + 1) * m.kvLayout().groups().size();
        long kvBytes = (long) maxPl * blocksPerSeq * io.sluice.model.KvStore.bytesPerBlock(m.kvLayout(), bs, kvType);
        EngineConfig cfg = new EngineConfig(kvBytes, 0, bs, kvType, 512, Math.max(1, maxPl), Math.max(256, maxPl), maxCtx);
        try (LlmEngine engine = new LlmEngine(m, cfg, speculation)) {
            if (!json) {
                System.out.println(BatchedBench.header());
            }
            // Speculation's counts per row, on stderr so the table stays llama-batched-bench's: a delta of the
            // engine's totals, so the first row also counts the warm-up.
            long[] seen = new long[4];
            boolean[] first = {true};
            BatchedBench.run(engine, npp, ntg, npl, 1, grammar, row -> {
                System.out.println(json ? row.toJson() : row.toTableRow());
                System.out.flush();
                if (speculation.mode() != io.sluice.engine.Speculation.Mode.OFF) {
                    io.sluice.engine.EngineMetrics em = engine.metrics();
                    long[] now = {em.ngramDraftedTokens(), em.ngramAcceptedTokens(), em.draftModelDraftedTokens(), em.draftModelAcceptedTokens()};
                    System.err.printf("speculation, pl %d%s: prompt lookup %d drafted / %d accepted, draft model %d / %d%n",
                            row.pl(), first[0] ? " (with the warm-up)" : "",
                            now[0] - seen[0], now[1] - seen[1], now[2] - seen[2], now[3] - seen[3]);
                    System.arraycopy(now, 0, seen, 0, 4);
                    first[0] = false;
                }
            });
        }
    }
}
