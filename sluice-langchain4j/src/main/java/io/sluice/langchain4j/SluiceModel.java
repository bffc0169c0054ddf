package io.sluice.langchain4j;

import io.sluice.engine.EngineConfig;
import io.sluice.engine.LlmEngine;
import io.sluice.model.Model;
import io.sluice.chat.ChatPrompt;

import java.nio.file.Path;

/**
 * A GGUF model running in this JVM: the weights (memory-mapped), its engine (continuous batching, so
 * several chats can run at once) and its chat template. One instance can back a {@link SluiceChatModel}
 * and a {@link SluiceStreamingChatModel} together; close it when done.
 */
public final class SluiceModel implements AutoCloseable {
    private final Model model;
    private final LlmEngine engine;
    private final ChatPrompt prompt;
    private final String name;
    private final boolean owned;

    private SluiceModel(Model model, LlmEngine engine, String name, boolean owned) {
        this.model = model;
        this.engine = engine;
        this.prompt = ChatPrompt.of(model, null);
        this.name = name;
        this.owned = owned;
    }

    /** Loads a GGUF file with the engine's default limits. */
    public static SluiceModel load(Path gguf) {
        return load(gguf, EngineConfig.defaults());
    }

    public static SluiceModel load(Path gguf, EngineConfig config) {
        Model m = Model.load(gguf);
        try {
            return new SluiceModel(m, new LlmEngine(m, config), gguf.getFileName().toString(), true);
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
    }

    /** Uses an engine the caller owns (and closes). */
    public static SluiceModel of(LlmEngine engine, String name) {
        return new SluiceModel(engine.model(), engine, name, false);
    }

    public String name() {
        return name;
    }

    public LlmEngine engine() {
        return engine;
    }

    ChatPrompt prompt() {
        return prompt;
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
