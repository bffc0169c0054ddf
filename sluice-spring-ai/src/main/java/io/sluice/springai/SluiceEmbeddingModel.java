package io.sluice.springai;

import io.sluice.engine.Embedder;
import io.sluice.engine.EmbeddingVectors;
import org.springframework.ai.chat.metadata.DefaultUsage;
import org.springframework.ai.document.Document;
import org.springframework.ai.embedding.AbstractEmbeddingModel;
import org.springframework.ai.embedding.Embedding;
import org.springframework.ai.embedding.EmbeddingRequest;
import org.springframework.ai.embedding.EmbeddingResponse;
import org.springframework.ai.embedding.EmbeddingResponseMetadata;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A Spring AI {@link org.springframework.ai.embedding.EmbeddingModel} running a GGUF embedding model
 * in this JVM: unit-length vectors, truncated to a Matryoshka width when the request's options (or
 * the default given here) name one. Thread-safe; a call's texts are encoded in shared passes.
 */
public class SluiceEmbeddingModel extends AbstractEmbeddingModel implements AutoCloseable {
    private final Embedder embedder;
    private final boolean owned;
    private final Integer defaultDimensions;
    private final String name;

    /** Loads the file (pooling as it says); close() releases it. defaultDimensions null: the full width. */
    public SluiceEmbeddingModel(Path model, Integer defaultDimensions) {
        this(Embedder.open(model), true, defaultDimensions, model.getFileName().toString());
    }

    /** Uses an embedder the caller owns (and closes). */
    public SluiceEmbeddingModel(Embedder embedder, Integer defaultDimensions) {
        this(embedder, false, defaultDimensions, embedder.model().file() != null ? embedder.model().file().path().getFileName().toString() : "sluice");
    }

    private SluiceEmbeddingModel(Embedder embedder, boolean owned, Integer defaultDimensions, String name) {
        this.embedder = embedder;
        this.owned = owned;
        this.defaultDimensions = defaultDimensions;
        this.name = name;
        if (defaultDimensions != null) {
            try {
                EmbeddingVectors.checkDimensions(embedder.model(), defaultDimensions);
            } catch (IllegalArgumentException e) {
                if (owned) embedder.close();
                throw e;
            }
        }
    }

    @Override
    public EmbeddingResponse call(EmbeddingRequest request) {
        Integer asked = request.getOptions() != null ? request.getOptions().getDimensions() : null;
        int dims = asked != null ? asked : defaultDimensions != null ? defaultDimensions : embedder.dimensions();
        List<int[]> tokens = new ArrayList<>();
        int count = 0;
        for (String text : request.getInstructions()) {
            int[] t = embedder.tokenize(text);
            tokens.add(t);
            count += t.length;
        }
        List<float[]> vectors = embedder.embedTokens(tokens, dims);
        List<Embedding> out = new ArrayList<>(vectors.size());
        for (int i = 0; i < vectors.size(); i++) out.add(new Embedding(vectors.get(i), i));
        return new EmbeddingResponse(out, new EmbeddingResponseMetadata(name, new DefaultUsage(count, 0)));
    }

    @Override
    public float[] embed(Document document) {
        return call(new EmbeddingRequest(List.of(document.getText()), null)).getResult().getOutput();
    }

    @Override
    public int dimensions() {
        return defaultDimensions != null ? defaultDimensions : embedder.dimensions();
    }

    /** The in-process embedder underneath (rerank, token inputs). */
    public Embedder embedder() {
        return embedder;
    }

    @Override
    public void close() {
        if (owned) embedder.close();
    }
}
