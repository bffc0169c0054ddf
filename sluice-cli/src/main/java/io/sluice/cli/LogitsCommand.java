package io.sluice.cli;

import io.sluice.gguf.GGMLType;
import io.sluice.model.Batch;
import io.sluice.model.KvStore;
import io.sluice.model.Model;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

@Command(name = "logits", description = "Evaluate token ids as one causal batch and write every position's logits "
        + "(n_tokens x n_vocab little-endian float32).")
final class LogitsCommand implements Callable<Integer> {
    @Option(names = {"-m", "--model"}, required = true, description = "GGUF file")
    Path model;

    @Option(names = "--tokens", required = true, split = ",", description = "comma-separated token ids")
    int[] tokens;

    @Option(names = "--out", required = true, description = "output file")
    Path out;

    @Option(names = {"-t", "--threads"}, description = "worker threads (default: cores)")
    Integer threads;

    @Option(names = "--kv-type", defaultValue = "f32", description = "KV cache type: f32, f16, q8_0, q4_0, iq4_nl (default ${DEFAULT-VALUE})")
    String kvType;

    @Override
    public Integer call() throws IOException {
        Options.threads(threads);
        Options.outputFile(out);
        try (Model m = Model.load(Options.modelFile(model))) {
            int vocab = m.config().vocabSize();
            if (tokens.length == 0) throw new IllegalArgumentException("--tokens needs at least one id");
            if (tokens.length > m.config().contextLength()) {
                throw new IllegalArgumentException(tokens.length + " tokens exceed the model's context of " + m.config().contextLength());
            }
            for (int t : tokens) if (t < 0 || t >= vocab) throw new IllegalArgumentException("token id " + t + " outside the vocabulary (0.." + (vocab - 1) + ")");
            long floats = (long) tokens.length * vocab;
            if (floats > Integer.MAX_VALUE - 8 || floats * 4 > Runtime.getRuntime().maxMemory() / 2) {
                throw new IllegalArgumentException(String.format("%d tokens x %d vocabulary = %.1f MiB of logits do not fit in memory; evaluate fewer tokens",
                        tokens.length, vocab, floats * 4 / 1048576.0));
            }
            int bs = 16;
            int blocks = (tokens.length + bs - 1) / bs;
            int[][] table = m.kvLayout().contiguousTables(blocks);
            float[] logits = new float[tokens.length * vocab];
            try (KvStore kv = new KvStore(m.kvLayout(), table.length * blocks, bs, Options.kvType(kvType))) {
                m.forward(Batch.single(tokens, 0, true, table), kv, logits);
            }
            ByteBuffer bb = ByteBuffer.allocate(logits.length * 4).order(ByteOrder.LITTLE_ENDIAN);
            bb.asFloatBuffer().put(logits);
            Files.write(out, bb.array());
            System.err.printf("wrote %d x %d logits to %s%n", tokens.length, vocab, out);
        }
        return 0;
    }
}
