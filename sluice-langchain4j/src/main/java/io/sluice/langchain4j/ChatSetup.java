package io.sluice.langchain4j;

import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.response.ChatResponse;
import io.sluice.chat.output.ChatOutput;
import io.sluice.engine.GenerationEvent;

/**
 * What both chat models (blocking and streaming) hold once built: the model, whether they loaded it
 * (and so close it), and their requests' defaults.
 */
record ChatSetup(SluiceModel model, boolean ownsModel, ChatRequestParameters defaults, Long seed, boolean parallelToolCalls) {
    static ChatSetup of(ModelBuilder<?> b) {
        SluiceModel m = b.model != null ? b.model : SluiceModel.load(b.requirePath());
        return new ChatSetup(m, b.model == null, b.parameters(m.name()), b.seed, b.parallelToolCalls);
    }

    Requests.Prepared prepare(ChatRequest request) {
        return Requests.toEngine(model, request, defaults, seed, parallelToolCalls);
    }

    /** The finished answer as LangChain4j's response. */
    ChatResponse response(ChatOutput out, GenerationEvent.Finished f) {
        return ChatResponse.builder()
                .aiMessage(Requests.aiMessage(out))
                .finishReason(Requests.finishReason(f, out))
                .tokenUsage(Requests.usage(f.usage()))
                .modelName(model.name())
                .build();
    }

    void close() {
        if (ownsModel) model.close();
    }
}
