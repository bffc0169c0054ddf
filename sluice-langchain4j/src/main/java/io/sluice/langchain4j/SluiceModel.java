package io.sluice.langchain4j;

import io.sluice.engine.EngineConfig;
import io.sluice.engine.LlmEngine;
import io.sluice.chat.ChatFormat;
import io.sluice.chat.ChatPrompt;
import io.sluice.grammar.GrammarCache;
import io.sluice.model.Model;

import java.nio.file.Path;

/**
 * A GGUF model running in this JVM: the weights (memory-mapped), its engine (continuous batching, so
 * several chats can run at once) and its chat template. One instance can back a {@link SluiceChatModel}
 * and a {@link SluiceStreamingChatModel} together; close it when done. The template also says how the
 * model calls tools (the formats the server knows), so tools and JSON answers work as over HTTP.
 */
public final class SluiceModel implements AutoCloseable {
    private final Model model;
    private final LlmEngine engine;
    private final ChatFormat format;
    private final String name;
    private final boolean owned;

    private SluiceModel(Model model, LlmEngine engine, String name, boolean owned, ChatFormat format) {
        this.model = model;
        this.engine = engine;
        this.format = format;
        this.name = name;
        this.owned = owned;
    }

    /** Loads a GGUF file with the engine's default limits. */
    public static SluiceModel load(Path gguf) {
        return load(gguf, EngineConfig.defaults());
    }

    public static SluiceModel load(Path gguf, EngineConfig config) {
        return load(gguf, config, null);
    }

    /**
     * @param chatTemplate a Jinja chat template to use instead of the model's (null: the model's)
     * @throws IllegalArgumentException when the given template does not work
     */
    public static SluiceModel load(Path gguf, EngineConfig config, String chatTemplate) {
        Model m = Model.load(gguf);
        try {
            ChatFormat format = format(m, chatTemplate); // before the engine starts, so a bad template leaves nothing running
            return new SluiceModel(m, new LlmEngine(m, config), gguf.getFileName().toString(), true, format);
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
    }

    /** Uses an engine the caller owns (and closes). */
    public static SluiceModel of(LlmEngine engine, String name) {
        return of(engine, name, null);
    }

    /** @param chatTemplate a Jinja chat template to use instead of the model's (null: the model's) */
    public static SluiceModel of(LlmEngine engine, String name, String chatTemplate) {
        return new SluiceModel(engine.model(), engine, name, false, format(engine.model(), chatTemplate));
    }

    /** The given template, else the model's, else ChatML (ChatPrompt.of's rule). */
    private static ChatFormat format(Model m, String chatTemplate) {
        return ChatFormat.of(ChatPrompt.of(m, chatTemplate).template(), m.tokenizer(), new GrammarCache(m.tokenizer(), 32));
    }

    public String name() {
        return name;
    }

    public LlmEngine engine() {
        return engine;
    }

    ChatFormat format() {
        return format;
    }

    int contextLength() {
        return engine.contextLength();
    }

    @Override
    public void close() {
        if (!owned) return;
        engine.close();
        model.close();
    }
}
