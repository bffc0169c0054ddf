package io.sluice.langchain4j;

import dev.langchain4j.model.chat.request.ChatRequestParameters;

import java.nio.file.Path;
import java.util.List;

/** The options both chat models are built with: which model, and the sampling defaults of their requests. */
abstract class ModelBuilder<B extends ModelBuilder<B>> {
    SluiceModel model;
    Path path;
    Double temperature, topP;
    Integer topK, maxTokens;
    Long seed;
    List<String> stop;
    boolean parallelToolCalls = true;

    @SuppressWarnings("unchecked")
    private B self() {
        return (B) this;
    }

    /** A loaded model to use (and share); the caller closes it. */
    public B model(SluiceModel m) {
        this.model = m;
        return self();
    }

    /** A GGUF file to load; the chat model then owns it and close() releases it. */
    public B modelPath(Path p) {
        this.path = p;
        return self();
    }

    public B temperature(double t) {
        this.temperature = t;
        return self();
    }

    public B topP(double p) {
        this.topP = p;
        return self();
    }

    public B topK(int k) {
        this.topK = k;
        return self();
    }

    public B maxTokens(int n) {
        this.maxTokens = n;
        return self();
    }

    /** A fixed seed makes answers repeatable. */
    public B seed(long s) {
        this.seed = s;
        return self();
    }

    public B stopSequences(List<String> s) {
        this.stop = List.copyOf(s);
        return self();
    }

    /**
     * Whether an answer may make several tool calls (OpenAI's parallel_tool_calls; default true). With false a
     * forced answer is exactly one call.
     */
    public B parallelToolCalls(boolean p) {
        this.parallelToolCalls = p;
        return self();
    }

    Path requirePath() {
        if (path == null) throw new IllegalStateException("give the model: modelPath(Path) or model(SluiceModel)");
        return path;
    }

    ChatRequestParameters parameters(String modelName) {
        return ChatRequestParameters.builder().modelName(modelName).temperature(temperature).topP(topP).topK(topK)
                .maxOutputTokens(maxTokens).stopSequences(stop).build();
    }
}
