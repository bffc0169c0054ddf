package io.sluice.langchain4j;

import dev.langchain4j.data.embedding.Embedding;
import dev.langchain4j.data.segment.TextSegment;
import dev.langchain4j.model.embedding.EmbeddingModel;
import dev.langchain4j.model.output.Response;
import dev.langchain4j.model.output.TokenUsage;
import io.sluice.engine.Embedder;
import io.sluice.engine.EmbeddingVectors;
import io.sluice.model.nn.Pooling;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A LangChain4j {@link EmbeddingModel} running an embedding model (bge, nomic-embed, e5, all-MiniLM,
 * Qwen3-Embedding, ... as GGUF) in this JVM: unit-length vectors, optionally truncated to a
 * Matryoshka width. All segments of a call are encoded in shared passes; the model is thread-safe.
 *
 * <pre>{@code
 * try (SluiceEmbeddingModel m = SluiceEmbeddingModel.builder().modelPath(Path.of("bge-small-en-v1.5-q8_0.gguf")).build()) {
 *     InMemoryEmbeddingStore<TextSegment> store = new InMemoryEmbeddingStore<>();
 *     store.addAll(m.embedAll(segments).content(), segments);
 * }
 * }</pre>
 */
public final class SluiceEmbeddingModel implements EmbeddingModel, AutoCloseable {
    private final Embedder embedder;
    private final boolean owned;
    private final int dimensions;
    private final String name;

    private SluiceEmbeddingModel(Embedder embedder, boolean owned, Integer dimensions, String name) {
        this.embedder = embedder;
        this.owned = owned;
        this.dimensions = dimensions == null ? embedder.dimensions() : dimensions;
        try {
            EmbeddingVectors.checkDimensions(embedder.model(), this.dimensions);
        } catch (IllegalArgumentException e) {
            if (owned) embedder.close();
            throw e;
        }
        this.name = name;
    }

    public static Builder builder() {
        return new Builder();
    }

    @Override
    public Response<List<Embedding>> embedAll(List<TextSegment> segments) {
        List<int[]> tokens = new ArrayList<>(segments.size());
        int count = 0;
        for (TextSegment s : segments) {
            int[] t = embedder.tokenize(s.text());
            tokens.add(t);
            count += t.length;
        }
        List<Embedding> out = new ArrayList<>(segments.size());
        for (float[] v : embedder.embedTokens(tokens, dimensions)) out.add(Embedding.from(v));
        return Response.from(out, new TokenUsage(count, 0));
    }

    @Override
    public int dimension() {
        return dimensions;
    }

    @Override
    public String modelName() {
        return name;
    }

    /** The in-process embedder underneath (rerank, token inputs). */
    public Embedder embedder() {
        return embedder;
    }

    /** Releases the model when this instance loaded it. */
    @Override
    public void close() {
        if (owned) embedder.close();
    }

    public static final class Builder {
        private Path path;
        private Embedder embedder;
        private Integer dimensions;
        private Pooling pooling;

        /** A GGUF file to load; the model then owns it and close() releases it. */
        public Builder modelPath(Path p) {
            this.path = p;
            return this;
        }

        /** An embedder to use (and share); the caller closes it. */
        public Builder embedder(Embedder e) {
            this.embedder = e;
            return this;
        }

        /** Truncate every vector to this width and re-normalise (Matryoshka); default: the model's full width. */
        public Builder dimensions(int d) {
            this.dimensions = d;
            return this;
        }

        /** Overrides the file's pooling (a decoder without one needs it: last for Qwen3-Embedding). */
        public Builder pooling(Pooling p) {
            this.pooling = p;
            return this;
        }

        public SluiceEmbeddingModel build() {
            if (embedder != null) return new SluiceEmbeddingModel(embedder, false, dimensions, name(embedder));
            if (path == null) throw new IllegalStateException("give the model: modelPath(Path) or embedder(Embedder)");
            Embedder e = Embedder.open(path, pooling, Embedder.defaults());
            return new SluiceEmbeddingModel(e, true, dimensions, path.getFileName().toString());
        }

        private static String name(Embedder e) {
            return e.model().file() != null ? e.model().file().path().getFileName().toString() : "sluice";
        }
    }
}
