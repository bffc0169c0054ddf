package io.sluice.cli;

import io.sluice.model.EmbeddingSynth;
import io.sluice.model.Synth;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.Callable;

@Command(name = "synth", description = "Write a random-weight model of a real model's shape (with a tokenizer) that llama.cpp loads too.")
final class SynthCommand implements Callable<Integer> {
    @Option(names = "--arch", description = "the shape's architecture (a check: must match it)")
    String arch;

    @Option(names = "--shape", required = true, description = "tinyllama-1.1b, llama-3.2-1b, smollm-135m, qwen2.5-0.5b, qwen2.5-1.5b, qwen3-0.6b, qwen3-4b, gemma-3-1b, "
            + "gemma-2-2b, phi-4-mini, smollm3-3b, olmo2-1b, granite-3.3-2b, bitnet-b1.58-large, tiny, tiny-qwen2, tiny-bitnet; "
            + "mixtures of experts: qwen3-30b-a3b, gpt-oss-20b, olmoe-1b-7b (and tiny-qwen3moe, tiny-qwen2moe, tiny-olmoe, tiny-mixtral, tiny-gpt-oss); "
            + "embedding: bge-small-en-v1.5, nomic-embed-text-v1.5 (and tiny-jina-bert-v2, tiny-gemma-embedding, tiny-bge-reranker, "
            + "tiny-qwen3-embedding, tiny-qwen3-reranker)")
    String shape;

    @Option(names = "--type", required = true, description = "f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q2_k..q6_k, iq4_nl, iq4_xs, iq3_s, iq3_xxs, iq2_s, iq2_xs, iq2_xxs, iq1_m, iq1_s, tq1_0, tq2_0, mxfp4, q4_k_m, mxfp4_moe (MXFP4 experts, Q8_0 elsewhere)")
    String type;

    @Option(names = {"-o", "--output"}, required = true, description = "output GGUF file")
    Path out;

    @Option(names = "--seed", defaultValue = "42")
    long seed;

    @Option(names = "--layers", description = "only the shape's first N layers: with the same --seed and a pure --type, a draft sharing the full model's weights")
    Integer layers;

    @Option(names = {"-t", "--threads"}, description = "worker threads (default: cores)")
    Integer threads;

    @Override
    public Integer call() throws IOException {
        Options.threads(threads);
        Options.outputFile(out);
        EmbeddingSynth.Shape e = EmbeddingSynth.find(shape);
        String name = e != null ? e.name() : Synth.shape(shape).name(), shapeArch = e != null ? e.arch() : Synth.shape(shape).arch();
        if (arch != null && !arch.equals(shapeArch)) throw new IllegalArgumentException("shape " + name + " is a " + shapeArch + " model, not " + arch);
        if (e != null && layers != null) throw new IllegalArgumentException("--layers is for decoder shapes, not " + name);
        long t0 = System.nanoTime();
        if (e != null) EmbeddingSynth.write(e, Synth.TypeSpec.parse(type), seed, out);
        else Synth.write(layers == null ? Synth.shape(shape) : Synth.shape(shape).withLayers(layers), Synth.TypeSpec.parse(type), seed, out);
        System.err.printf("wrote %s (%s, %s) in %.1f s%n", out, name, type, (System.nanoTime() - t0) / 1e9);
        return 0;
    }
}
