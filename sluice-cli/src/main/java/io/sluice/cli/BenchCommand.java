package io.sluice.cli;

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
 * repeated r times after a warm-up, reported as tokens/s with standard deviation.
 */
@Command(name = "bench", description = "Benchmark prompt processing (pp) and generation (tg) like llama-bench.")
final class BenchCommand implements Callable<Integer> {
    @picocli.CommandLine.Mixin
    ModelSource source;

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

    @Option(names = "--batched", description = "parallel sequences through the engine, like llama-batched-bench (uses -npp, -ntg, -npl)")
    boolean batched;

    @Option(names = "-npp", split = ",", defaultValue = "128", description = "--batched: prompt tokens per sequence (list; default ${DEFAULT-VALUE})")
    int[] npp;

    @Option(names = "-ntg", split = ",", defaultValue = "32", description = "--batched: generated tokens per sequence (list; default ${DEFAULT-VALUE})")
    int[] ntg;

    @Option(names = "-npl", split = ",", defaultValue = "1,4,8,16", description = "--batched: parallel sequences (list; default ${DEFAULT-VALUE})")
    int[] npl;

    @Override
    public Integer call() throws Exception {
        Options.threads(threads);
        if (!output.equals("md") && !output.equals("json")) throw new IllegalArgumentException("--output must be md or json");
        if (nPrompt < 0 || nGen < 0 || reps <= 0 || reps > 1000) throw new IllegalArgumentException("-p/-n must be >= 0 and -r in 1..1000");
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

    private int runOn(Path file) {
        try (Model m = Model.load(file)) {
            if (batched) {
                BatchedBenchRunner.run(m, Options.kvType(kvType), npp, ntg, npl, output.equals("json"));
                return 0;
            }
            List<Map<String, Object>> rows = new ArrayList<>();
            if (nPrompt > 0) rows.add(run(m, file, nPrompt, 0));
            if (nGen > 0) rows.add(run(m, file, 0, nGen));
            print(rows);
        }
        return 0;
    }

    private Map<String, Object> run(Model m, Path file, int pp, int tg) {
        int ctx = Math.max(pp, tg) + 1;
        if (ctx > m.config().contextLength()) throw new IllegalArgumentException("test needs " + ctx + " positions, the model's context is " + m.config().contextLength());
        GGMLType kv = Options.kvType(kvType);
        int bs = 16;
        int[] table = new int[(ctx + bs - 1) / bs];
        for (int i = 0; i < table.length; i++) table[i] = i;
        SplittableRandom rnd = new SplittableRandom(1);
        int vocab = m.config().vocabSize();
        double[] samples = new double[reps];
        try (KvStore store = new KvStore(m.kvLayout(), table.length, bs, kv)) {
            float[] logits = new float[vocab];
            for (int r = -1; r < reps; r++) { // r = -1 is the warm-up
                long t0 = System.nanoTime();
                if (pp > 0) {
                    int[] toks = new int[pp];
                    for (int i = 0; i < pp; i++) toks[i] = rnd.nextInt(vocab);
                    m.forward(Batch.single(toks, 0, false, table), store, logits);
                } else {
                    int tok = rnd.nextInt(vocab);
                    Batch b = new Batch(1, 1);
                    for (int i = 0; i < tg; i++) {
                        b.clear();
                        b.add(tok, i, b.addSequence(table), true);
                        m.forward(b, store, logits);
                    }
                }
                long ns = System.nanoTime() - t0;
                if (r >= 0) samples[r] = ns;
            }
        }
        double[] ts = new double[reps];
        int n = pp > 0 ? pp : tg;
        for (int i = 0; i < reps; i++) ts[i] = n / (samples[i] / 1e9);
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("model_filename", file.toString());
        row.put("model_type", m.config().arch() + " " + m.file().getString("general.name", ""));
        row.put("model_size", m.weightBytes());
        row.put("n_threads", Parallel.threads());
        row.put("backend", NativeKernels.status());
        row.put("type_k", kv.name().toLowerCase());
        row.put("type_v", kv.name().toLowerCase());
        row.put("n_prompt", pp);
        row.put("n_gen", tg);
        row.put("avg_ns", (long) mean(samples));
        row.put("stddev_ns", (long) stddev(samples));
        row.put("avg_ts", mean(ts));
        row.put("stddev_ts", stddev(ts));
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
                int pp = (int) r.get("n_prompt"), tg = (int) r.get("n_gen");
                System.out.printf("| %s | %.2f MiB | %s | %d | %s | %.2f ± %.2f |%n", r.get("model_type"), (long) r.get("model_size") / 1048576.0,
                        r.get("backend"), r.get("n_threads"), pp > 0 ? "pp" + pp : "tg" + tg, r.get("avg_ts"), r.get("stddev_ts"));
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
