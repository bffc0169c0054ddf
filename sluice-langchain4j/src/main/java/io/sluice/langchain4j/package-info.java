/**
 * LangChain4j models backed by Sluice in the same JVM: {@link io.sluice.langchain4j.SluiceChatModel} and
 * {@link io.sluice.langchain4j.SluiceStreamingChatModel}, sharing one {@link io.sluice.langchain4j.SluiceModel}
 * (weights + engine + chat template) when both are wanted.
 *
 * <p>Embeddings: a {@code SluiceEmbeddingModel} (LangChain4j's {@code EmbeddingModel}) belongs in this
 * package, on the engine's embedding API once it exists (the embeddings issue); until then this module
 * has chat models only.
 */
package io.sluice.langchain4j;
