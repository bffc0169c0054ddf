package io.sluice.springai;

import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * {@code sluice.*} in application.properties: {@code sluice.model} (a GGUF file) is all a Boot
 * application needs for chat, {@code sluice.embedding-model} for embeddings; the rest tune sampling and the engine.
 */
@ConfigurationProperties(prefix = "sluice")
public class SluiceProperties {
    /** GGUF model file. The auto-configuration does nothing without it. */
    private String model;
    private Double temperature;
    private Double topP;
    private Integer topK;
    private Integer maxTokens;
    /** A fixed seed makes answers repeatable. */
    private Long seed;
    /** Context per sequence in tokens (0 = the model's). */
    private int contextSize;
    /** Sequences generated at once. */
    private int maxSeqs = 16;
    /** Jinja chat template file to use instead of the model's (as {@code serve --chat-template-file}). */
    private String chatTemplateFile;
    /** GGUF embedding model file (bge, nomic-embed, ...): gives an EmbeddingModel bean. */
    private String embeddingModel;
    /** Embedding width to truncate to (Matryoshka); unset = the model's full width. */
    private Integer embeddingDimensions;

    public String getModel() { return model; }
    public void setModel(String model) { this.model = model; }
    public Double getTemperature() { return temperature; }
    public void setTemperature(Double temperature) { this.temperature = temperature; }
    public Double getTopP() { return topP; }
    public void setTopP(Double topP) { this.topP = topP; }
    public Integer getTopK() { return topK; }
    public void setTopK(Integer topK) { this.topK = topK; }
    public Integer getMaxTokens() { return maxTokens; }
    public void setMaxTokens(Integer maxTokens) { this.maxTokens = maxTokens; }
    public Long getSeed() { return seed; }
    public void setSeed(Long seed) { this.seed = seed; }
    public int getContextSize() { return contextSize; }
    public void setContextSize(int contextSize) { this.contextSize = contextSize; }
    public int getMaxSeqs() { return maxSeqs; }
    public void setMaxSeqs(int maxSeqs) { this.maxSeqs = maxSeqs; }
    public String getChatTemplateFile() { return chatTemplateFile; }
    public void setChatTemplateFile(String chatTemplateFile) { this.chatTemplateFile = chatTemplateFile; }
    public String getEmbeddingModel() { return embeddingModel; }
    public void setEmbeddingModel(String embeddingModel) { this.embeddingModel = embeddingModel; }
    public Integer getEmbeddingDimensions() { return embeddingDimensions; }
    public void setEmbeddingDimensions(Integer embeddingDimensions) { this.embeddingDimensions = embeddingDimensions; }
}
