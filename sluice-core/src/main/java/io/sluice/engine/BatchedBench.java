package io.sluice.engine;

import io.sluice.grammar.TokenGrammar;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

/**
 * Throughput of parallel generation through the engine, like llama.cpp's llama-batched-bench:
 * for each (pp, tg, pl), pl sequences each get their own pp-token prompt (random ids, so no
 * prefix is shared) and generate greedily. t_pp is the time until every sequence has its first
 * token (prompt processing; with chunked prefill some early decodes overlap it), t_tg the time of
 * the following tg decode steps of every sequence. Columns and JSON names follow llama-batched-bench.
 */
public final class BatchedBench {

    /** One measurement; speeds are tokens per second. */
    public record Row(int pp, int tg, int pl, int nKv, double tPp, double speedPp, double tTg, double speedTg, double t, double speed) {

        /** llama-batched-bench's JSONL fields for one row. */
        public String toJson() {
            return String.format(Locale.ROOT,
                    "{\"pp\": %d, \"tg\": %d, \"pl\": %d, \"n_kv\": %d, \"t_pp\": %f, \"speed_pp\": %f, \"t_tg\": %f, \"speed_tg\": %f, \"t\": %f, \"speed\": %f}",
                    pp, tg, pl, nKv, tPp, speedPp, tTg, speedTg, t, speed);
        }

        /** One line of the markdown table under {@link #header()}. */
        public String toTableRow() {
            return String.format(Locale.ROOT, "|%6d | %6d | %4d | %6d | %8.3f | %8.2f | %8.3f | %8.2f | %8.3f | %8.2f |",
                    pp, tg, pl, nKv, tPp, speedPp, tTg, speedTg, t, speed);
        }
    }

    /**
     * The schema of {@code --json-schema}: an object of ten required properties of every kind
     * (strings, a bounded integer, a number, a boolean, an enum, an array, a nested object, a date).
     */
    public static final String TEN_PROPERTY_SCHEMA = """
            {"type": "object", "properties": {
              "name": {"type": "string"}, "age": {"type": "integer", "minimum": 0, "maximum": 150},
              "email": {"type": "string"}, "active": {"type": "boolean"}, "score": {"type": "number"},
              "tags": {"type": "array", "items": {"type": "string"}},
              "role": {"enum": ["admin", "user", "guest"]},
              "address": {"type": "object", "properties": {"city": {"type": "string"}, "zip": {"type": "string"}}, "required": ["city", "zip"]},
              "created": {"type": "string", "format": "date"}, "note": {"type": "string"}},
             "required": ["name", "age", "email", "active", "score", "tags", "role", "address", "created", "note"]}
            """;

    private BatchedBench() {
    }

    public static String header() {
        return String.format("|%6s | %6s | %4s | %6s | %8s | %8s | %8s | %8s | %8s | %8s |%n", "PP", "TG", "B", "N_KV", "T_PP s", "S_PP t/s", "T_TG s", "S_TG t/s", "T s", "S t/s")
                + String.format("|%6s-|-%6s-|-%4s-|-%6s-|-%8s-|-%8s-|-%8s-|-%8s-|-%8s-|-%8s-|", "------", "------", "----", "------", "--------", "--------", "--------", "--------", "--------", "--------");
    }

    /**
     * Runs every combination (pp outer, then tg, then pl, as llama-batched-bench orders them) and
     * hands each row to onRow as it completes. Combinations the engine cannot hold at once (pl over
     * maxSeqs, a sequence over the context, or all of them over the KV pool) are skipped, as
     * llama-batched-bench skips those over its KV size.
     */
    public static List<Row> run(Engine engine, int[] npp, int[] ntg, int[] npl, long seed, Consumer<Row> onRow) {
        return run(engine, npp, ntg, npl, seed, null, onRow);
    }

    /**
     * As above, every sequence constrained by grammar (null: none), for the cost of constrained
     * decoding. A sequence whose grammar completes stops early; speeds count the tokens made.
     */
    public static List<Row> run(Engine engine, int[] npp, int[] ntg, int[] npl, long seed, TokenGrammar grammar, Consumer<Row> onRow) {
        for (int[] list : new int[][]{npp, ntg, npl}) {
            for (int v : list) if (v <= 0) throw new IllegalArgumentException("pp, tg and pl values must be positive, got " + v);
        }
        Random rng = new Random(seed);
        int vocab = vocabSize(engine);
        // Its own random prompts, so the measured rows' prompts do not depend on the warm-up.
        warmUp(engine, npl, new Random(~seed), vocab, grammar);
        List<Row> rows = new ArrayList<>();
        for (int pp : npp) {
            for (int tg : ntg) {
                for (int pl : npl) {
                    if (!fits(engine, pp, tg, pl)) continue;
                    Row row = runOne(engine, pp, tg, pl, rng, vocab, grammar);
                    rows.add(row);
                    if (onRow != null) onRow.accept(row);
                }
            }
        }
        return rows;
    }

    /**
     * llama-batched-bench primes caches with one 16-token batch; a JVM must also let the JIT compile
     * the prefill and the decode paths, or the first row measures half-compiled kernels. On a
     * TinyLlama-1.1B q4_0 with the old 16-token warm-up, the first row's prompt speed was 20-30% and
     * its decode speed up to 8% below the same row run again (the "engine overhead" seen when
     * comparing it with `bench -n`, which does warm up a whole repetition). So: a prompt chunk and
     * some single-sequence decode steps, plus a few steps at the widest batch.
     */
    private static void warmUp(Engine engine, int[] npl, Random rng, int vocab, TokenGrammar grammar) {
        // The largest of these shapes the pool holds (a bench pool is sized for the measured rows only).
        for (int[] shape : new int[][]{{128, 32}, {64, 32}, {16, 16}, {16, 1}}) {
            if (fits(engine, shape[0], shape[1], 1)) {
                runOne(engine, shape[0], shape[1], 1, rng, vocab, grammar);
                break;
            }
        }
        int widest = 1;
        for (int pl : npl) if (pl > widest && fits(engine, 16, 8, pl)) widest = pl;
        if (widest > 1) runOne(engine, 16, 8, widest, rng, vocab, grammar);
    }

    static boolean fits(Engine engine, int pp, int tg, int pl) {
        EngineConfig c = engine.config();
        int ctx = engine instanceof LlmEngine l ? l.contextLength()
                : c.contextLength() > 0 ? c.contextLength() : engine.model().config().contextLength();
        long poolTokens = (long) engine.metrics().kvBlocksTotal() * c.kvBlockSize();
        long perSeq = (long) c.kvBlockSize() * ((pp + tg + c.kvBlockSize()) / c.kvBlockSize());
        return pl <= c.maxSeqs() && pp + tg + 1 <= ctx && pl * perSeq <= poolTokens;
    }

    private static int vocabSize(Engine engine) {
        int v = engine.model().config().vocabSize();
        return v > 0 ? v : engine.model().tokenizer().vocabSize();
    }

    /** pl requests of pp random tokens, each generating tg + 1 tokens: the first ends prompt processing, then tg decode steps. */
    static Row runOne(Engine engine, int pp, int tg, int pl, Random rng, int vocab, TokenGrammar grammar) {
        CountDownLatch firsts = new CountDownLatch(pl);
        CountDownLatch done = new CountDownLatch(pl);
        AtomicLong lastFirst = new AtomicLong();
        AtomicReference<String> failure = new AtomicReference<>();
        AtomicLong decoded = new AtomicLong(); // tokens after each sequence's first
        long start = System.nanoTime();
        List<GenerationHandle> handles = new ArrayList<>();
        for (int s = 0; s < pl; s++) {
            int[] prompt = rng.ints(pp, 0, vocab).toArray();
            GenerationRequest req = new GenerationRequest(prompt, SamplingParams.GREEDY, tg + 1, List.of(), true, -1, grammar);
            boolean[] first = {true};
            handles.add(engine.submit(req, e -> {
                switch (e) {
                    case GenerationEvent.Token t -> {
                        if (first[0]) {
                            first[0] = false;
                            lastFirst.accumulateAndGet(System.nanoTime(), Math::max);
                            firsts.countDown();
                        } else {
                            decoded.incrementAndGet();
                        }
                    }
                    case GenerationEvent.Finished f -> {
                        boolean grammarDone = grammar != null && f.reason() == FinishReason.STOP;
                        if (f.reason() != FinishReason.LENGTH && !grammarDone) failure.compareAndSet(null, f.reason() + (f.message() != null ? ": " + f.message() : ""));
                        if (first[0]) firsts.countDown();
                        done.countDown();
                    }
                }
            }));
        }
        try {
            if (!done.await(1, TimeUnit.HOURS)) throw new IllegalStateException("batched bench did not finish within an hour");
        } catch (InterruptedException e) {
            handles.forEach(GenerationHandle::cancel);
            Thread.currentThread().interrupt();
            throw new IllegalStateException("batched bench interrupted", e);
        }
        long end = System.nanoTime();
        if (failure.get() != null) throw new IllegalStateException("a bench request ended with " + failure.get());
        double tPp = (lastFirst.get() - start) / 1e9;
        double tTg = (end - lastFirst.get()) / 1e9;
        double t = tPp + tTg;
        int nKv = pl * (pp + tg);
        return new Row(pp, tg, pl, nKv, tPp, pl * pp / tPp, tTg, decoded.get() / tTg, t, nKv / t);
    }
}
