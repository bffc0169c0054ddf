package io.sluice.cli;

import io.sluice.engine.Embedder;
import io.sluice.engine.EmbeddingEngine;
import io.sluice.engine.EmbeddingVectors;
import io.sluice.model.EmbeddingModel;
import io.sluice.model.nn.Pooling;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;

@Command(name = "embed", description = "Embed each input with an embedding model (bert, nomic-bert, jina-bert-v2, gemma-embedding, or a decoder "
        + "with a pooling) and print one line per input: the pooled, L2-normalised vector (as llama-embedding does), or with --query "
        + "a reranker's score of each input as a document. Timings on stderr.")
final class EmbedCommand implements Callable<Integer> {
    @Option(names = {"-m", "--model"}, required = true, description = "GGUF file")
    Path model;

    @ArgGroup(exclusive = false, multiplicity = "1")
    Inputs inputs;

    static final class Inputs {
        @Option(names = {"-p", "--prompt"}, description = "a text to embed (repeat for several)")
        List<String> prompts;
        @Option(names = {"-f", "--file"}, arity = "1..*", description = "text file(s), each one input, read as strict UTF-8")
        List<Path> files;
        @Option(names = "--tokens", paramLabel = "ID,ID,...", description = "one input as comma-separated token ids, used as given (repeat for several)")
        List<String> tokens;
    }

    @Option(names = "--dimensions", description = "truncate to this many dimensions, then re-normalise (Matryoshka); default: all")
    Integer dimensions;

    @Option(names = "--format", defaultValue = "float", description = "float, base64 (little-endian float32), binary, ubinary (sign bits, 8 a byte) or int8 (default ${DEFAULT-VALUE})")
    String format;

    @Option(names = "--out", description = "write the vectors as little-endian float32 (inputs x dimensions) instead of printing them")
    Path out;

    @Option(names = "--query", description = "rerank: score each input as a document for this query (the model must have rank pooling)")
    String query;

    @Option(names = "--pooling", description = "none, mean, cls, last, rank (default: the file's pooling_type; decoders need one)")
    String pooling;

    @Option(names = {"-t", "--threads"}, description = "worker threads (default: cores)")
    Integer threads;

    @Option(names = "--max-batched-tokens", defaultValue = "2048", description = "tokens per encoder pass (default ${DEFAULT-VALUE})")
    int maxBatchedTokens;

    @Option(names = "--max-seqs", defaultValue = "64", description = "inputs per encoder pass (default ${DEFAULT-VALUE})")
    int maxSeqs;

    @Option(names = "--repeat", defaultValue = "1", description = "encode the inputs this many times, timing each (benchmarking: later runs are warm)")
    int repeat;

    @Override
    public Integer call() throws IOException {
        if (repeat < 1) throw new IllegalArgumentException("--repeat must be at least 1");
        Options.threads(threads);
        if (!List.of("float", "base64", "binary", "ubinary", "int8").contains(format)) {
            throw new IllegalArgumentException("--format must be float, base64, binary, ubinary or int8, not '" + format + "'");
        }
        if (out != null) {
            Options.outputFile(out);
            if (!format.equals("float")) throw new IllegalArgumentException("--out writes float32; leave --format at float");
        }
        Pooling pool = pooling == null ? null : Pooling.parse(pooling);
        List<String> texts = new ArrayList<>();
        if (inputs.prompts != null) texts.addAll(inputs.prompts);
        if (inputs.files != null) {
            for (Path p : inputs.files) {
                if (Files.isDirectory(p)) throw new IllegalArgumentException(p + " is a directory, not a text file");
                if (Files.size(p) > TokenizeCommand.MAX_FILE_BYTES) throw new IllegalArgumentException(p + " is larger than " + (TokenizeCommand.MAX_FILE_BYTES >> 20) + " MiB; split it");
                texts.add(Options.readUtf8(p));
            }
        }
        List<int[]> idInputs = new ArrayList<>();
        if (inputs.tokens != null) for (String t : inputs.tokens) idInputs.add(ids(t));
        var d = Embedder.defaults();
        var cfg = new io.sluice.engine.EngineConfig(0, 0, d.kvBlockSize(), d.kvType(), maxBatchedTokens, maxSeqs,
                Math.max(d.maxQueue(), texts.size() + idInputs.size()), 0);
        long t0 = System.nanoTime();
        try (Embedder e = Embedder.open(Options.modelFile(model), pool, cfg)) {
            EmbeddingModel m = e.model();
            // The first pass repacks the weights for the native kernels: not part of the encode time.
            e.engine().submit(new int[]{Math.max(0, m.tokenizer().bos())}).join();
            long loaded = System.nanoTime();
            List<int[]> all = new ArrayList<>();
            for (String t : texts) all.add(e.tokenize(t));
            all.addAll(idInputs);
            long tokens = all.stream().mapToLong(a -> a.length).sum();
            PrintStream o = System.out;
            if (query != null) {
                if (m.pooling() != Pooling.RANK) throw new IllegalArgumentException("--query needs a reranker (rank pooling); this model's pooling is " + name(m.pooling()));
                if (!idInputs.isEmpty()) throw new IllegalArgumentException("--query ranks texts (-p, -f), not --tokens");
                float[] scores = e.rerank(query, texts);
                long done = System.nanoTime();
                for (int i = 0; i < scores.length; i++) o.println("rerank score " + i + ": " + scores[i]);
                timings(e.engine(), texts.size(), loaded - t0, done - loaded);
                return 0;
            }
            if (m.pooling() == Pooling.RANK) throw new IllegalArgumentException("this model is a reranker: give --query QUERY and the documents as inputs");
            if (m.pooling() == Pooling.NONE) throw new IllegalArgumentException("this model has no pooling (one vector per token); give --pooling mean, cls or last");
            int dims = dimensions == null ? m.outputDim() : dimensions;
            EmbeddingVectors.checkDimensions(m, dims);
            List<float[]> vectors = null;
            long done = loaded;
            for (int r = 0; r < repeat; r++) {
                long start = System.nanoTime();
                vectors = e.embedTokens(all, dims);
                done = System.nanoTime();
                if (repeat > 1) timings(e.engine(), all.size(), -1, done - start);
            }
            if (out != null) {
                float[] flat = new float[vectors.size() * dims];
                for (int i = 0; i < vectors.size(); i++) System.arraycopy(vectors.get(i), 0, flat, i * dims, dims);
                Files.write(out, EmbeddingVectors.littleEndian(flat));
                System.err.printf("wrote %d x %d float32 to %s%n", vectors.size(), dims, out);
            } else {
                StringBuilder sb = new StringBuilder();
                for (float[] v : vectors) {
                    switch (format) {
                        case "base64" -> sb.append(EmbeddingVectors.base64(v));
                        case "binary" -> join(sb, EmbeddingVectors.binary(v));
                        case "ubinary" -> join(sb, EmbeddingVectors.ubinaryValues(v));
                        case "int8" -> join(sb, EmbeddingVectors.int8(v));
                        default -> {
                            for (int i = 0; i < v.length; i++) sb.append(i > 0 ? " " : "").append(v[i]);
                        }
                    }
                    sb.append('\n');
                }
                o.print(sb);
                o.flush();
            }
            System.err.printf(Locale.ROOT, "sluice: %d inputs, %d tokens, %d dimensions%n", all.size(), tokens, dims);
            timings(e.engine(), all.size(), loaded - t0, done - loaded);
        }
        return 0;
    }

    private static void timings(EmbeddingEngine eng, int inputs, long loadNanos, long runNanos) {
        double s = runNanos / 1e9;
        String load = loadNanos < 0 ? "" : String.format(Locale.ROOT, "load %.0f ms; ", loadNanos / 1e6);
        System.err.printf(Locale.ROOT, "sluice: %sencode %.1f ms: %.1f inputs/s (%d passes so far)%n", load, runNanos / 1e6, inputs / s, eng.stats().passes());
    }

    private static int[] ids(String list) {
        String[] parts = list.split(",", -1);
        int[] r = new int[parts.length];
        for (int i = 0; i < r.length; i++) {
            try {
                r[i] = Integer.parseInt(parts[i].strip());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--tokens: '" + Main.oneLine(parts[i]) + "' is not a token id");
            }
        }
        return r;
    }

    private static void join(StringBuilder sb, int[] v) {
        sb.append(Arrays.stream(v).mapToObj(Integer::toString).collect(Collectors.joining(" ")));
    }

    private static String name(Pooling p) {
        return p.name().toLowerCase(Locale.ROOT);
    }
}
