/**
 * Sluice's OpenAI-compatible HTTP server (Javalin on Jetty, virtual threads).
 *
 * <p>{@link io.sluice.server.SluiceServer#start(io.sluice.engine.Engine, io.sluice.server.ServerConfig)} listens
 * at once; with a null engine /health answers 503 until {@link io.sluice.server.SluiceServer#setEngine} is called.
 * Chat prompts are rendered with the model's {@code tokenizer.chat_template} by {@link io.sluice.chat.ChatTemplate}
 * (Sluice's sandboxed Jinja interpreter; ChatML when the file has none or its template fails the load-time check),
 * on {@code PromptRenderer}'s platform threads. Request bodies are validated by {@code RequestParser}: a client's mistake is
 * always a 4xx with OpenAI's error object, never a 500. Streams are SSE in OpenAI's chunk format; a client that
 * goes away mid-stream has its generation cancelled.
 */
package io.sluice.server;
