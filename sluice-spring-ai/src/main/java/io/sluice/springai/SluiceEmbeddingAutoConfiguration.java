package io.sluice.springai;

import org.springframework.ai.embedding.EmbeddingModel;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.context.annotation.Bean;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * {@code sluice.embedding-model=/path/bge-small.gguf} gives a Boot application an {@link EmbeddingModel}
 * bean running the model in its own JVM (beside, or without, the chat model of {@code sluice.model}).
 * An application's own EmbeddingModel bean wins.
 */
@AutoConfiguration
@ConditionalOnProperty(prefix = "sluice", name = "embedding-model")
@EnableConfigurationProperties(SluiceProperties.class)
public class SluiceEmbeddingAutoConfiguration {
    @Bean(destroyMethod = "close")
    @ConditionalOnMissingBean(EmbeddingModel.class)
    public SluiceEmbeddingModel sluiceEmbeddingModel(SluiceProperties p) {
        Path file = Path.of(p.getEmbeddingModel());
        if (!Files.isRegularFile(file)) throw new IllegalArgumentException("sluice.embedding-model: no GGUF file at " + file.toAbsolutePath());
        return new SluiceEmbeddingModel(file, p.getEmbeddingDimensions());
    }
}
