package io.sluice.langchain4j;

import dev.langchain4j.data.embedding.Embedding;
import dev.langchain4j.data.segment.TextSegment;
import dev.langchain4j.model.output.Response;
import dev.langchain4j.store.embedding.EmbeddingMatch;
import dev.langchain4j.store.embedding.EmbeddingSearchRequest;
import dev.langchain4j.store.embedding.inmemory.InMemoryEmbeddingStore;
import io.sluice.Fixtures;
import io.sluice.engine.Embedder;
import io.sluice.engine.EmbeddingVectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The LangChain4j EmbeddingModel on the bert fixture: the Embedder's vectors, token usage,
 * Matryoshka width, and LangChain4j's in-memory store retrieving by them.
 */
@Timeout(120)
class SluiceEmbeddingModelTest {
    static final List<String> DOCS = List.of("a sluice gate holds back the river", "bread is baked in an oven", "the canal lock fills with water",
            "cats sleep most of the day", "water flows downhill to the sea", "a library lends books");

    static double cosine(float[] a, float[] b) {
        double ab = 0;
        for (int i = 0; i < a.length; i++) ab += (double) a[i] * b[i];
        return ab; // both unit length
    }

    @Test
    void embedsAsTheEmbedderDoesAndRetrievesThroughTheInMemoryStore() {
        try (SluiceEmbeddingModel m = SluiceEmbeddingModel.builder().modelPath(Fixtures.model("tiny-bert-q8_0.gguf")).build()) {
            assertEquals(256, m.dimension());
            assertEquals("tiny-bert-q8_0.gguf", m.modelName());
            List<TextSegment> segs = DOCS.stream().map(TextSegment::from).toList();
            Response<List<Embedding>> r = m.embedAll(segs);
            List<float[]> want = m.embedder().embed(DOCS);
            int tokens = 0;
            for (int i = 0; i < DOCS.size(); i++) {
                assertArrayEquals(want.get(i), r.content().get(i).vector(), 1e-6f, "segment " + i);
                tokens += m.embedder().tokenize(DOCS.get(i)).length;
            }
            assertEquals(tokens, r.tokenUsage().inputTokenCount());
            assertArrayEquals(want.get(2), m.embed("the canal lock fills with water").content().vector(), 1e-6f);

            InMemoryEmbeddingStore<TextSegment> store = new InMemoryEmbeddingStore<>();
            store.addAll(r.content(), segs);
            for (String query : List.of("the canal lock fills with water", "water flows to the sea", "a dog sleeps")) {
                float[] q = m.embed(query).content().vector();
                List<EmbeddingMatch<TextSegment>> found = store.search(EmbeddingSearchRequest.builder().queryEmbedding(Embedding.from(q))
                        .maxResults(3).build()).matches();
                // The store's top 3 are the documents nearest by cosine, in that order.
                List<Integer> byCosine = IntStream.range(0, DOCS.size()).boxed()
                        .sorted(Comparator.comparingDouble((Integer i) -> -cosine(q, want.get(i)))).limit(3).toList();
                List<String> expected = new ArrayList<>();
                for (int i : byCosine) expected.add(DOCS.get(i));
                assertEquals(expected, found.stream().map(x -> x.embedded().text()).toList(), "query: " + query);
                assertEquals((cosine(q, want.get(byCosine.getFirst())) + 1) / 2, found.getFirst().score(), 1e-5);
            }
            // A document's own text finds itself first, with the best score there is.
            EmbeddingMatch<TextSegment> self = store.search(EmbeddingSearchRequest.builder()
                    .queryEmbedding(m.embed(DOCS.get(3)).content()).maxResults(1).build()).matches().getFirst();
            assertEquals(DOCS.get(3), self.embedded().text());
            assertEquals(1.0, self.score(), 1e-5);
        }
    }

    @Test
    void dimensionsTruncateAndASharedEmbedderStaysOpen() {
        try (Embedder e = Embedder.open(Fixtures.model("tiny-nomic-bert-q8_0.gguf"))) {
            SluiceEmbeddingModel m = SluiceEmbeddingModel.builder().embedder(e).dimensions(64).build();
            assertEquals(64, m.dimension());
            float[] v = m.embed("a sluice").content().vector();
            assertArrayEquals(EmbeddingVectors.normalized(e.embed("a sluice"), 64), v, 1e-6f);
            m.close();
            assertEquals(256, e.embed("still open").length, "close() leaves a shared embedder open");
            assertThrows(IllegalArgumentException.class, () -> SluiceEmbeddingModel.builder().embedder(e).dimensions(1000).build());
        }
        assertThrows(IllegalStateException.class, () -> SluiceEmbeddingModel.builder().build());
    }
}
