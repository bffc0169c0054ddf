package io.sluice.springai;

import io.sluice.engine.EngineConfig;
import org.springframework.ai.chat.model.ChatModel;
import org.springframework.ai.chat.prompt.ChatOptions;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.context.annotation.Bean;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * One dependency and one property ({@code sluice.model=/path/model.gguf}) give a Boot application a
 * {@link ChatModel} bean running the model in its own JVM. An application's own ChatModel bean wins.
 */
@AutoConfiguration
@ConditionalOnProperty(prefix = "sluice", name = "model")
@EnableConfigurationProperties(SluiceProperties.class)
public class SluiceAutoConfiguration {
    @Bean(destroyMethod = "close")
    @ConditionalOnMissingBean(ChatModel.class)
    public SluiceChatModel sluiceChatModel(SluiceProperties p) throws IOException {
        Path file = Path.of(p.getModel());
        if (!Files.isRegularFile(file)) throw new IllegalArgumentException("sluice.model: no GGUF file at " + file.toAbsolutePath());
        EngineConfig d = EngineConfig.defaults();
        EngineConfig cfg = new EngineConfig(d.kvMemoryBytes(), d.memoryBudgetBytes(), d.kvBlockSize(), d.kvType(), d.maxBatchedTokens(),
                p.getMaxSeqs(), d.maxQueue(), p.getContextSize());
        ChatOptions defaults = ChatOptions.builder().model(file.getFileName().toString()).temperature(p.getTemperature()).topP(p.getTopP())
                .topK(p.getTopK()).maxTokens(p.getMaxTokens()).build();
        return new SluiceChatModel(file, cfg, defaults, p.getSeed(), chatTemplate(p.getChatTemplateFile()));
    }

    /** The template file's text, or null for the model's own template. */
    private static String chatTemplate(String file) throws IOException {
        if (file == null) return null;
        Path path = Path.of(file);
        if (!Files.isRegularFile(path)) throw new IllegalArgumentException("sluice.chat-template-file: no file at " + path.toAbsolutePath());
        return Files.readString(path, StandardCharsets.UTF_8);
    }
}
