package io.sluice.engine;

import io.sluice.model.EmbeddingModel;
import io.sluice.model.nn.Pooling;
import io.sluice.model.tokenizer.Tokenizer;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/**
 * Embeddings for applications, in-process: text (or tokens) in, L2-normalised vectors out,
 * optionally truncated to a Matryoshka width; and relevance scores of documents for a query from
 * a reranker. Thread-safe: calls from many threads share the {@link EmbeddingEngine}'s passes.
 *
 * <pre>{@code
 * try (Embedder e = Embedder.open(Path.of("bge-small-en-v1.5-q8_0.gguf"))) {
 *     float[] q = e.embed("what is a sluice?");
 *     List<float[]> docs = e.embed(List.of("a sluice is a water channel", "bread is baked"));
 * }
 * }</pre>
 */
public final class Embedder implements AutoCloseable {
    private final EmbeddingEngine engine;
    private final boolean owns;

    /** Embeds through an engine the caller owns (and closes). */
    public Embedder(EmbeddingEngine engine) {
        this(engine, false);
    }

    private Embedder(EmbeddingEngine engine, boolean owns) {
        this.engine = engine;
        this.owns = owns;
    }

    /** Loads the model (pooling as its file says) with the default engine settings; close() releases both. */
    public static Embedder open(Path model) {
        return open(model, null, defaults());
    }

    /** Loads the model with this pooling (null: the file's) and engine settings; close() releases both. */
    public static Embedder open(Path model, Pooling pooling, EngineConfig config) {
        EmbeddingModel m = EmbeddingModel.load(model, pooling);
        try {
            return new Embedder(new EmbeddingEngine(m, config), true);
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
    }

    /**
     * Engine settings for embedding: passes of up to 2048 tokens and 64 inputs (an encoder's
     * matrix products gain from wide passes; there is no KV cache to hold), 4096 queued inputs.
     */
    public static EngineConfig defaults() {
        EngineConfig g = EngineConfig.defaults();
        return new EngineConfig(0, 0, g.kvBlockSize(), g.kvType(), 2048, 64, 4096, 0);
    }

    public EmbeddingEngine engine() {
        return engine;
    }

    public EmbeddingModel model() {
        return engine.model();
    }

    /** The full embedding width (or a reranker's label count). */
    public int dimensions() {
        return engine.model().outputDim();
    }

    /** The text's tokens as the model reads them (special tokens added: BERT's [CLS] ... [SEP]). */
    public int[] tokenize(String text) {
        return engine.model().tokenizer().encode(text, true, false);
    }

    /** The text's embedding, full width, unit length. */
    public float[] embed(String text) {
        return embed(List.of(text), dimensions()).getFirst();
    }

    /** The text's embedding truncated to {@code dimensions} and re-normalised (Matryoshka). */
    public float[] embed(String text, int dimensions) {
        return embed(List.of(text), dimensions).getFirst();
    }

    /** Embeddings of the texts, in order, full width; encoded in shared passes. */
    public List<float[]> embed(List<String> texts) {
        return embed(texts, dimensions());
    }

    /** Embeddings of the texts truncated to {@code dimensions} and re-normalised. */
    public List<float[]> embed(List<String> texts, int dimensions) {
        List<int[]> toks = new ArrayList<>(texts.size());
        for (String t : texts) toks.add(tokenize(t));
        return embedTokens(toks, dimensions);
    }

    /** Embeddings of token sequences (used as given), truncated to {@code dimensions} and re-normalised. */
    public List<float[]> embedTokens(List<int[]> inputs, int dimensions) {
        requirePooled();
        EmbeddingVectors.checkDimensions(engine.model(), dimensions);
        List<float[]> raw = run(inputs);
        List<float[]> out = new ArrayList<>(raw.size());
        for (float[] v : raw) out.add(EmbeddingVectors.normalized(v, dimensions));
        return out;
    }

    /**
     * A reranker's relevance score of each document for the query, in document order: the model's
     * rank output (a cross-encoder's logit; Qwen3-Reranker's probability of "yes").
     */
    public float[] rerank(String query, List<String> documents) {
        if (engine.model().pooling() != Pooling.RANK) {
            throw new IllegalStateException("this model is not a reranker (its pooling is " + engine.model().pooling().name().toLowerCase() + ", not rank)");
        }
        Tokenizer tok = engine.model().tokenizer();
        String template = RerankPrompt.template(engine.model());
        List<int[]> pairs = new ArrayList<>(documents.size());
        for (String d : documents) pairs.add(RerankPrompt.tokens(tok, template, query, d));
        List<float[]> raw = run(pairs);
        float[] scores = new float[raw.size()];
        for (int i = 0; i < scores.length; i++) scores[i] = raw.get(i)[0];
        return scores;
    }

    private void requirePooled() {
        Pooling p = engine.model().pooling();
        if (p == Pooling.NONE || p == Pooling.RANK) {
            throw new IllegalStateException("this model's pooling is " + p.name().toLowerCase() + ": it gives no sentence embedding");
        }
    }

    /** Submits every input, then waits: the engine packs them into as few passes as fit. */
    private List<float[]> run(List<int[]> inputs) {
        List<CompletableFuture<float[]>> futures = new ArrayList<>(inputs.size());
        try {
            for (int[] t : inputs) futures.add(engine.submit(t));
            List<float[]> out = new ArrayList<>(futures.size());
            for (CompletableFuture<float[]> f : futures) out.add(f.get());
            return out;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new EngineException(EngineException.Kind.SHUTDOWN, "interrupted while embedding");
        } catch (ExecutionException | CompletionException e) {
            Throwable c = e.getCause() != null ? e.getCause() : e;
            if (c instanceof RuntimeException re) throw re;
            throw new IllegalStateException(c);
        } finally {
            for (CompletableFuture<float[]> f : futures) f.cancel(false);
        }
    }

    @Override
    public void close() {
        if (!owns) return;
        engine.close();
        engine.model().close();
    }
}
