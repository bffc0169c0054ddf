package io.sluice.server;

import io.sluice.engine.Engine;
import io.sluice.engine.LlmEngine;
import io.sluice.model.Model;
import io.sluice.model.tokenizer.Tokenizer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.Map;

/** Everything the handlers need about the served model, fixed once the engine is set. */
record ModelState(Engine engine, String alias, Tokenizer tokenizer, ChatTemplate template, String bosText, String eosText,
                  int contextLength, RequestParser parser) {
    private static final Logger LOG = LoggerFactory.getLogger(ModelState.class);

    static ModelState of(Engine engine, ServerConfig cfg) {
        Model model = engine.model();
        Tokenizer tok = model.tokenizer();
        var file = model.file();
        String alias = cfg.alias();
        if (alias == null) alias = file != null ? file.path().getFileName().toString() : "model";
        // LlmEngine knows the real per-sequence context (the configured one, capped by its KV pool).
        int ctx = engine instanceof LlmEngine le ? le.contextLength()
                : engine.config().contextLength() > 0 ? engine.config().contextLength() : model.config().contextLength();
        String bos = tok.bos() >= 0 ? tok.tokenText(tok.bos()) : "";
        String eos = tok.eos() >= 0 ? tok.tokenText(tok.eos()) : "";
        ChatTemplate template = template(cfg, file == null ? null : file.getString("tokenizer.chat_template", null), bos, eos);
        return new ModelState(engine, alias, tok, template, bos, eos, ctx, new RequestParser(tok.vocabSize(), ctx));
    }

    /**
     * The configured template, else the model's, else ChatML. A template that cannot even render a one-message
     * conversation (Jinja features Jinjava lacks) is replaced by ChatML with a warning, so chat still works.
     */
    private static ChatTemplate template(ServerConfig cfg, String fromModel, String bos, String eos) {
        String src = cfg.chatTemplate() != null ? cfg.chatTemplate() : fromModel;
        if (src == null || src.isBlank()) {
            LOG.info("model has no chat template; using ChatML");
            return new ChatTemplate(null);
        }
        ChatTemplate t = new ChatTemplate(src);
        try {
            t.render(List.of(Map.of("role", "user", "content", "Hello")), bos, eos, true);
        } catch (ChatTemplate.TemplateException e) {
            if (!e.raisedByTemplate()) {
                LOG.warn("chat template cannot be rendered ({}); falling back to ChatML", e.getMessage());
                return new ChatTemplate(null);
            }
        }
        return t;
    }
}
