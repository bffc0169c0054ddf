package io.sluice.cli;

import io.sluice.engine.BatchedBench;
import io.sluice.gguf.GGMLType;
import io.sluice.model.Batch;
import io.sluice.model.KvStore;
import io.sluice.model.Model;
import io.sluice.model.Synth;
import io.sluice.tensor.NativeKernels;
import io.sluice.tensor.Parallel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;

/**
 * Like llama-bench: pp = one batch of n_prompt tokens, tg = n_gen single-token decode steps, each
 * repeated r times after a warm-up (tg's decodes at least 256 tokens, so the JIT has compiled the
 * one-token path), reported as tokens/s with standard deviation. With -d the test
 * runs after n_depth tokens of context (llama-bench's depth, in 512-token batches, not timed; one
 * cache serves all tests, filled once up to each depth); -gp PP,TG is ik_llama.cpp's "tg TG at
 * depth PP", the same as -d PP -n TG.
 */
@Command(name = "bench", description = "Benchmark prompt processing (pp) and generation (tg) like llama-bench.")
final class BenchCommand implements Callable<Integer> {
    @picocli.CommandLine.Mixin
    ModelSource source;

    @picocli.CommandLine.Mixin
    SpeculationOptions speculate;

    @Option(names = "--dummy", paramLabel = "SHAPE:TYPE", description = "benchmark a random-weight model of a real shape, e.g. tinyllama-1.1b:q4_0")
    String dummy;

    @Option(names = {"-p", "--n-prompt"}, defaultValue = "512", description = "prompt tokens (0 = skip pp; default ${DEFAULT-VALUE})")
    int nPrompt;

    @Option(names = {"-n", "--n-gen"}, defaultValue = "128", description = "generated tokens (0 = skip tg; default ${DEFAULT-VALUE})")
    int nGen;

    @Option(names = {"-t", "--threads"}, description = "worker threads (default: cores)")
    Integer threads;

    @Option(names = {"-r", "--repetitions"}, defaultValue = "5", description = "repetitions (default ${DEFAULT-VALUE})")
    int reps;

    @Option(names = {"-o", "--output"}, defaultValue = "md", description = "md or json (default ${DEFAULT-VALUE})")
    String output;

    @Option(names = "--kv-type", defaultValue = "f16", description = "KV cache type (default ${DEFAULT-VALUE})")
    String kvType;

    @Option(names = {"-d", "--n-depth"}, split = ",", defaultValue = "0", description = "context tokens before each test (list; default ${DEFAULT-VALUE})")
    int[] depths;

    @Option(names = "-gp", paramLabel = "PP,TG", description = "generation of TG tokens after PP tokens of context (repeatable)")
    List<String> gp = new ArrayList<>();

    @Option(names = "--batched", description = "parallel sequences through the engine, like llama-batched-bench (uses -npp, -ntg, -npl)")
    boolean batched;

    @Option(names = "-npp", split = ",", defaultValue = "128", description = "--batched: prompt tokens per sequence (list; default ${DEFAULT-VALUE})")
    int[] npp;

    @Option(names = "-ntg", split = ",", defaultValue = "32", description = "--batched: generated tokens per sequence (list; default ${DEFAULT-VALUE})")
    int[] ntg;

    @Option(names = "--json-schema", arity = "0..1", fallbackValue = "ten-properties", paramLabel = "FILE",
            description = "--batched: constrain every sequence by this JSON Schema file (no value: a built-in object of ten properties)")
    String jsonSchema;

    @Option(names = "-npl", split = ",", defaultValue = "1,4,8,16", description = "--batched: parallel sequences (list; default ${DEFAULT-VALUE})")
    int[] npl;

    /** The --json-schema text, read before the model loads so a bad path fails at once. */
    private String schemaText;

    @Override
    public Integer call() throws Exception {
        if (jsonSchema != null) {
            if (!batched) throw new IllegalArgumentException("--json-schema needs --batched");
            schemaText = jsonSchema.equals("ten-properties") ? BatchedBench.TEN_PROPERTY_SCHEMA : Files.readString(Path.of(jsonSchema));
        }
        Options.threads(threads);
        speculate.check();
        if (speculate.mode() != io.sluice.engine.Speculation.Mode.OFF && !batched) {
            throw new IllegalArgumentException("--speculate and -md need --batched (speculation runs in the engine; plain pp/tg tests call the model directly)");
        }
        if (!output.equals("md") && !output.equals("json")) throw new IllegalArgumentException("--output must be md or json");
        if (nPrompt < 0 || nGen < 0 || reps <= 0 || reps > 1000) throw new IllegalArgumentException("-p/-n must be >= 0 and -r in 1..1000");
        for (int d : depths) if (d < 0 || d > MAX_POSITIONS) throw new IllegalArgumentException("-d must be in 0.." + MAX_POSITIONS + ", not " + d);
        tests = tests();
        if (source.given() == (dummy != null)) throw new IllegalArgumentException("give either -m FILE, -hf REPO[:QUANT] or --dummy SHAPE:TYPE");
        Path file = source.given() ? source.resolve(false) : null;
        Path temp = null;
        try {
            if (dummy != null) {
                String[] st = dummy.split(":", 2);
                if (st.length != 2) throw new IllegalArgumentException("--dummy takes SHAPE:TYPE, e.g. tinyllama-1.1b:q4_0");
                // Parse both before creating the file, so a typo leaves nothing behind.
                Synth.Shape shape = Synth.shape(st[0]);
                Synth.TypeSpec type = Synth.TypeSpec.parse(st[1]);
                // In memory where the OS offers it (/dev/shm is RAM), so the dummy never touches the disk;
                // on disk when there is no /dev/shm or it is too small.
                Path shm = Path.of("/dev/shm");
                if (Files.isDirectory(shm) && Files.isWritable(shm)) {
                    temp = Files.createTempFile(shm, "sluice-dummy-", ".gguf");
                    try {
                        Synth.write(shape, type, 42, temp);
                    } catch (IOException e) {
                        Files.deleteIfExists(temp);
                        temp = null;
                    }
                }
                if (temp == null) {
                    temp = Files.createTempFile("sluice-dummy-", ".gguf");
                    Synth.write(shape, type, 42, temp);
                }
                System.err.println("sluice: dummy model " + dummy + " written to " + temp + " (deleted after the run)");
                file = temp;
            }
            return runOn(file);
        } finally {
            if (temp != null) Files.deleteIfExists(temp);
        }
    }

    /** Positions a test may span (depth + tokens): far beyond any context, short of int overflow in the KV arithmetic. */
    private static final int MAX_POSITIONS = 1 << 24;
    /** llama-bench's ubatch: the depth is filled in batches of this many tokens. */
    private static final int DEPTH_BATCH = 512;
    /** Fewest one-token steps the tg warm-up decodes, whatever -n (see run). */
    private static final int WARMUP_STEPS = 256;

    /** One test: n_prompt tokens in one batch or n_gen decode steps, after depth tokens of context. */
    private record Test(int pp, int tg, int depth) {
        int positions() {
            return depth + pp + tg;
        }
    }

    private List<Test> tests;

    /** llama-bench's order: per depth its pp test, then its tg test; then the -gp tests. */
    private List<Test> tests() {
        List<Test> list = new ArrayList<>();
        for (int d : depths) {
            if (nPrompt > 0) list.add(new Test(nPrompt, 0, d));
            if (nGen > 0) list.add(new Test(0, nGen, d));
        }
        for (String g : gp) {
            String[] p = g.split(",", -1);
            int pp, tg;
            try {
                if (p.length != 2) throw new NumberFormatException();
                pp = Integer.parseInt(p[0].trim());
                tg = Integer.parseInt(p[1].trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("-gp takes PP,TG (two numbers), not '" + g + "'");
            }
            if (pp < 0 || tg <= 0 || pp > MAX_POSITIONS) throw new IllegalArgumentException("-gp " + g + ": PP must be in 0.." + MAX_POSITIONS + " and TG positive");
            list.add(new Test(0, tg, pp));
        }
        for (Test t : list) {
            if ((long) t.positions() > MAX_POSITIONS) throw new IllegalArgumentException("a test spans " + t.positions() + " positions, more than " + MAX_POSITIONS);
        }
        return list;
    }

    private int runOn(Path file) {
        int longest = 0;
        for (Test t : tests) longest = Math.max(longest, t.positions());
        // Like llama-bench, a test may run past the trained context (it sets n_ctx to what the test needs).
        try (Model m = Loading.model(file, batched ? 0 : longest, false)) {
            if (batched) {
                try (Model draft = speculate.loadDraft(0)) {
                    BatchedBenchRunner.run(m, Options.kvType(kvType), npp, ntg, npl, output.equals("json"), schemaText, speculate.speculation(draft));
                }
                return 0;
            }
            if (longest > m.config().contextLength()) {
                System.err.println("sluice: note: tests span up to " + longest + " positions, beyond the model's trained context of " + m.config().contextLength());
            }
            // One cache for all tests, run by increasing depth: the context of random tokens is filled
            // once up to each depth (a test's own positions count as context for the deeper ones),
            // so -d 2048,8192,16384 costs one 16384-token fill, not three. Printed in llama-bench's order.
            GGMLType kv = Options.kvType(kvType);
            int bs = 16;
            int blocks = (longest + bs - 1) / bs;
            int[][] table = m.kvLayout().contiguousTables(blocks);
            List<Test> byDepth = new ArrayList<>(tests);
            byDepth.sort(java.util.Comparator.comparingInt(Test::depth));
            Map<Test, Map<String, Object>> rows = new java.util.IdentityHashMap<>();
            try (KvStore store = new KvStore(m.kvLayout(), table.length * blocks, bs, kv)) {
                Fill fill = new Fill(m, store, table);
                for (Test t : byDepth) rows.put(t, run(m, file, t, fill));
            }
            List<Map<String, Object>> ordered = new ArrayList<>();
            for (Test t : tests) ordered.add(rows.get(t));
            print(ordered);
        }
        return 0;
    }

    /** The context of random tokens written so far into the shared cache. */
    private static final class Fill {
        final Model m;
        final KvStore store;
        final int[][] table;
        final SplittableRandom rnd = new SplittableRandom(1);
        int filled;

        Fill(Model m, KvStore store, int[][] table) {
            this.m = m;
            this.store = store;
            this.table = table;
        }

        /** Positions [0, depth) hold context (not timed). */
        void to(int depth, float[] logits) {
            if (depth <= filled) return;
            long t0 = System.nanoTime();
            int vocab = m.config().vocabSize();
            for (int at = filled; at < depth; at += DEPTH_BATCH) {
                int[] toks = new int[Math.min(DEPTH_BATCH, depth - at)];
                for (int i = 0; i < toks.length; i++) toks[i] = rnd.nextInt(vocab);
                m.forward(Batch.single(toks, at, false, table), store, logits);
            }
            System.err.printf("sluice: depth %d filled in %.2f s%n", depth, (System.nanoTime() - t0) / 1e9);
            filled = depth;
        }
    }

    private Map<String, Object> run(Model m, Path file, Test test, Fill fill) {
        int pp = test.pp(), tg = test.tg(), depth = test.depth();
        int[][] table = fill.table;
        SplittableRandom rnd = fill.rnd;
        int vocab = m.config().vocabSize();
        double[] samples = new double[reps];
        float[] logits = new float[vocab];
        // Every repetition writes the positions after the context again.
        fill.to(depth, logits);
        // On a terminal: which test and repetition is running (nothing on stdout, nothing in logs).
        Progress progress = new Progress(System.err, pp > 0 ? "pp" + pp : "tg" + tg, reps + 1, Progress.Unit.ITEMS,
                Terminal.stderrIsTerminal(), !Terminal.stderrIsTerminal(), 0, Progress.PLAIN_MIN_NANOS);
        for (int r = -1; r < reps; r++) { // r = -1 is the warm-up
            progress.update(r + 1);
            long t0 = System.nanoTime();
            if (pp > 0) {
                int[] toks = new int[pp];
                for (int i = 0; i < pp; i++) toks[i] = rnd.nextInt(vocab);
                m.forward(Batch.single(toks, depth, false, table), fill.store, logits);
            } else {
                int tok = rnd.nextInt(vocab);
                Batch b = new Batch(1, 1);
                // The warm-up decodes at least WARMUP_STEPS tokens (over the same positions again): a short
                // -n leaves the JIT compiling the one-token path during the timed runs, which a serving
                // process has long finished; llama-bench's C needs no such warm-up.
                int passes = r < 0 ? Math.ceilDiv(WARMUP_STEPS, tg) : 1;
                for (int p = 0; p < passes; p++) {
                    for (int i = 0; i < tg; i++) {
                        b.clear();
                        b.add(tok, depth + i, b.addSequence(table), true);
                        m.forward(b, fill.store, logits);
                    }
                }
            }
            long ns = System.nanoTime() - t0;
            if (r >= 0) samples[r] = ns;
        }
        progress.finish(null);
        fill.filled = Math.max(fill.filled, test.positions());
        double[] ts = new double[reps];
        long[] ns = new long[reps];
        int n = pp > 0 ? pp : tg;
        for (int i = 0; i < reps; i++) {
            ts[i] = n / (samples[i] / 1e9);
            ns[i] = (long) samples[i];
        }
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("model_filename", file.toString());
        row.put("model_type", m.config().arch() + " " + m.file().getString("general.name", ""));
        row.put("model_size", m.weightBytes());
        row.put("n_threads", Parallel.threads());
        row.put("backend", NativeKernels.status());
        String kv = fill.store.type().name().toLowerCase();
        row.put("type_k", kv);
        row.put("type_v", kv);
        row.put("n_prompt", pp);
        row.put("n_gen", tg);
        row.put("n_depth", depth);
        row.put("test_time", java.time.Instant.now().truncatedTo(java.time.temporal.ChronoUnit.SECONDS).toString());
        row.put("avg_ns", (long) mean(samples));
        row.put("stddev_ns", (long) stddev(samples));
        row.put("avg_ts", mean(ts));
        row.put("stddev_ts", stddev(ts));
        row.put("samples_ns", ns);
        row.put("samples_ts", ts);
        return row;
    }

    private void print(List<Map<String, Object>> rows) {
        if (output.equals("json")) {
            StringBuilder sb = new StringBuilder("[\n");
            for (int i = 0; i < rows.size(); i++) {
                sb.append("  {");
                int k = 0;
                for (Map.Entry<String, Object> e : rows.get(i).entrySet()) {
                    sb.append(k++ > 0 ? ", " : "").append('"').append(e.getKey()).append("\": ").append(json(e.getValue()));
                }
                sb.append(i + 1 < rows.size() ? "},\n" : "}\n");
            }
            System.out.print(sb.append("]\n"));
        } else {
            System.out.println("| model | size | backend | threads | test | t/s |");
            System.out.println("| --- | ---: | --- | ---: | ---: | ---: |");
            for (Map<String, Object> r : rows) {
                int pp = (int) r.get("n_prompt"), tg = (int) r.get("n_gen"), d = (int) r.get("n_depth");
                String test = (pp > 0 ? "pp" + pp : "tg" + tg) + (d > 0 ? " @ d" + d : "");
                System.out.printf("| %s | %.2f MiB | %s | %d | %s | %.2f ± %.2f |%n", r.get("model_type"), (long) r.get("model_size") / 1048576.0,
                        r.get("backend"), r.get("n_threads"), test, r.get("avg_ts"), r.get("stddev_ts"));
            }
        }
    }

    private static String json(Object v) {
        if (v instanceof String s) return '"' + s.replace("\\", "\\\\").replace("\"", "\\\"") + '"';
        if (v instanceof double[] a) {
            StringBuilder sb = new StringBuilder("[");
            for (int i = 0; i < a.length; i++) sb.append(i > 0 ? ", " : "").append(a[i]);
            return sb.append(']').toString();
        }
        if (v instanceof long[] a) {
            StringBuilder sb = new StringBuilder("[");
            for (int i = 0; i < a.length; i++) sb.append(i > 0 ? ", " : "").append(a[i]);
            return sb.append(']').toString();
        }
        return String.valueOf(v);
    }

    static double mean(double[] a) {
        double s = 0;
        for (double x : a) s += x;
        return s / a.length;
    }

    static double stddev(double[] a) {
        if (a.length < 2) return 0;
        double m = mean(a), s = 0;
        for (double x : a) s += (x - m) * (x - m);
        return Math.sqrt(s / (a.length - 1));
    }
}
