package io.sluice.cli;

import io.sluice.engine.EmbeddingEngine;
import io.sluice.engine.Engine;
import io.sluice.engine.FinishReason;
import io.sluice.engine.GenerationEvent;
import io.sluice.engine.GenerationRequest;
import io.sluice.model.EmbeddingModel;
import io.sluice.model.Model;
import io.sluice.model.nn.Pooling;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;

/**
 * The long steps before a model answers: loading the file, then one warm-up token through the engine,
 * during which the native kernels repack every weight matrix (otherwise the first request would wait for
 * that, and a server would look ready before it is). On a terminal each shows its elapsed time, then a
 * summary line; in logs and pipes they print nothing (the commands' own lines give the timings).
 */
final class Loading {
    private Loading() {
    }

    static Model model(Path file, int contextLength, boolean quiet) {
        String size;
        try {
            size = " (" + Progress.bytes(Files.size(file)) + ")";
        } catch (java.io.IOException e) {
            size = "";
        }
        Progress p = Progress.ticking("loading " + file.getFileName() + size, quiet || !Terminal.stderrIsTerminal());
        try {
            Model m = Model.load(file, contextLength);
            p.finish(String.format(Locale.ROOT, "loaded %s in %.1f s", file.getFileName(), p.elapsedSeconds()));
            return m;
        } catch (RuntimeException e) {
            p.finish(null);
            throw e;
        }
    }

    /** An embedding model (pooling null: the file's; a decoder's per-call KV cache in kvType). */
    static EmbeddingModel embeddingModel(Path file, Pooling pooling, String kvType, boolean quiet) {
        Progress p = Progress.ticking("loading " + file.getFileName(), quiet || !Terminal.stderrIsTerminal());
        try {
            EmbeddingModel m = EmbeddingModel.load(file, pooling, Options.kvType(kvType));
            p.finish(String.format(Locale.ROOT, "loaded %s in %.1f s", file.getFileName(), p.elapsedSeconds()));
            return m;
        } catch (RuntimeException e) {
            p.finish(null);
            throw e;
        }
    }

    /** One short input through the embedding engine, so the weights are repacked before the first request. */
    static void warmUp(EmbeddingEngine engine, boolean quiet) throws InterruptedException {
        Progress p = Progress.ticking("preparing the weights (repacked for the native kernels)", quiet || !Terminal.stderrIsTerminal());
        var tok = engine.model().tokenizer();
        try {
            engine.submit(new int[]{tok.bos() >= 0 ? tok.bos() : 0}).get();
            p.finish(String.format(Locale.ROOT, "weights ready in %.1f s", p.elapsedSeconds()));
        } catch (java.util.concurrent.ExecutionException e) {
            p.finish(null);
            throw new IllegalStateException("the model failed its first pass: " + e.getCause().getMessage(), e.getCause());
        } catch (RuntimeException | InterruptedException e) {
            p.finish(null);
            throw e;
        }
    }

    static void warmUp(Engine engine, boolean quiet) throws InterruptedException {
        Progress p = Progress.ticking("preparing the weights (repacked for the native kernels)", quiet || !Terminal.stderrIsTerminal());
        var tok = engine.model().tokenizer();
        CompletableFuture<GenerationEvent.Finished> done = new CompletableFuture<>();
        try {
            engine.submit(GenerationRequest.greedy(new int[]{tok.bos() >= 0 ? tok.bos() : 0}, 1), ev -> {
                if (ev instanceof GenerationEvent.Finished f) done.complete(f);
            });
            GenerationEvent.Finished f = done.get();
            if (f.reason() == FinishReason.ERROR) throw new IllegalStateException("the model failed its first forward pass: " + f.message());
            p.finish(String.format(Locale.ROOT, "weights ready in %.1f s", p.elapsedSeconds()));
        } catch (java.util.concurrent.ExecutionException e) {
            p.finish(null);
            throw new IllegalStateException(e.getCause());
        } catch (RuntimeException | InterruptedException e) {
            p.finish(null);
            throw e;
        }
    }
}
