package io.sluice.engine;

/** Token counts of one request; cachedPromptTokens came from the prefix cache, not computed. */
public record Usage(int promptTokens, int completionTokens, int cachedPromptTokens) {
    public int totalTokens() {
        return promptTokens + completionTokens;
    }
}
