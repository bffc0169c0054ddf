package io.sluice.springai;

import io.sluice.Fixtures;
import io.sluice.engine.Embedder;
import io.sluice.engine.EmbeddingVectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.springframework.ai.document.Document;
import org.springframework.ai.embedding.EmbeddingModel;
import org.springframework.ai.embedding.EmbeddingOptions;
import org.springframework.ai.embedding.EmbeddingRequest;
import org.springframework.ai.embedding.EmbeddingResponse;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The Spring AI EmbeddingModel on the bert fixture, and the auto-configuration that makes it from sluice.embedding-model. */
@Timeout(120)
class SluiceEmbeddingModelTest {
    final ApplicationContextRunner boot = new ApplicationContextRunner()
            .withConfiguration(AutoConfigurations.of(SluiceAutoConfiguration.class, SluiceEmbeddingAutoConfiguration.class));

    @Test
    void onePropertyGivesAnEmbeddingModelBean() {
        String model = Fixtures.model("tiny-bert-q8_0.gguf").toString();
        boot.withPropertyValues("sluice.embedding-model=" + model).run(ctx -> {
            assertTrue(ctx.getStartupFailure() == null, () -> String.valueOf(ctx.getStartupFailure()));
            assertFalse(ctx.containsBean("sluiceChatModel"), "no chat model without sluice.model");
            EmbeddingModel em = ctx.getBean(EmbeddingModel.class);
            assertInstanceOf(SluiceEmbeddingModel.class, em);
            Embedder direct = ((SluiceEmbeddingModel) em).embedder();
            List<String> texts = List.of("a sluice gate", "bread and butter", "x");
            List<float[]> want = direct.embed(texts);

            EmbeddingResponse r = em.call(new EmbeddingRequest(texts, null));
            assertEquals(3, r.getResults().size());
            int tokens = 0;
            for (int i = 0; i < 3; i++) {
                assertEquals(i, r.getResults().get(i).getIndex());
                assertArrayEquals(want.get(i), r.getResults().get(i).getOutput(), 1e-6f, "text " + i);
                tokens += direct.tokenize(texts.get(i)).length;
            }
            assertEquals(tokens, r.getMetadata().getUsage().getPromptTokens());
            assertEquals("tiny-bert-q8_0.gguf", r.getMetadata().getModel());
            assertEquals(256, em.dimensions());
            assertArrayEquals(want.get(1), em.embed("bread and butter"), 1e-6f);
            assertArrayEquals(want.get(0), em.embed(new Document("a sluice gate")), 1e-6f);
            assertEquals(3, em.embed(texts).size());

            EmbeddingResponse d = em.call(new EmbeddingRequest(List.of("a sluice gate"), EmbeddingOptions.builder().dimensions(32).build()));
            assertArrayEquals(EmbeddingVectors.normalized(want.get(0), 32), d.getResult().getOutput(), 1e-6f, "options' dimensions: Matryoshka");
        });
    }

    @Test
    void defaultDimensionsFromThePropertiesAndABadPathIsNamed() {
        String model = Fixtures.model("tiny-bert-q8_0.gguf").toString();
        boot.withPropertyValues("sluice.embedding-model=" + model, "sluice.embedding-dimensions=64").run(ctx -> {
            EmbeddingModel em = ctx.getBean(EmbeddingModel.class);
            assertEquals(64, em.dimensions());
            assertEquals(64, em.embed("hello").length);
        });
        boot.withPropertyValues("sluice.embedding-model=/nonexistent/e.gguf").run(ctx -> {
            Throwable t = ctx.getStartupFailure();
            assertTrue(t != null, "no context without the model");
            StringBuilder msgs = new StringBuilder();
            for (Throwable c = t; c != null; c = c.getCause()) msgs.append(c.getMessage()).append(" | ");
            assertTrue(msgs.toString().contains("sluice.embedding-model: no GGUF file at /nonexistent/e.gguf"), msgs.toString());
        });
    }
}
