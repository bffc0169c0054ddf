package io.sluice.server;

import io.sluice.chat.ChatFormat;
import io.sluice.chat.ChatTemplate;
import io.sluice.chat.output.ToolFormat;
import io.sluice.engine.Engine;
import io.sluice.engine.LlmEngine;
import io.sluice.grammar.GrammarCache;
import io.sluice.model.Model;
import io.sluice.model.tokenizer.Tokenizer;
import io.sluice.template.TemplateException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Everything the handlers need about the served model, fixed once the engine is set. */
record ModelState(Engine engine, String alias, Tokenizer tokenizer, ChatFormat format, int contextLength, RequestParser parser, GrammarCache grammars) {
    private static final Logger LOG = LoggerFactory.getLogger(ModelState.class);
    /** Compiled grammars kept for reuse (schemas and GBNF texts seen most recently). */
    static final int GRAMMARS = 64;

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
        GrammarCache grammars = new GrammarCache(tok, GRAMMARS);
        ChatFormat format = ChatFormat.of(template, tok, grammars);
        LOG.info("chat output: tool calls in the {} format{}{}", format.toolFormat().name(), format.toolsInPrompt() ? " (described in a system message)" : "",
                format.thinks() ? ", reasoning split out" : "");
        return new ModelState(engine, alias, tok, format, ctx, new RequestParser(tok.vocabSize(), ctx, grammars), grammars);
    }

    ChatTemplate template() {
        return format.template();
    }

    String bosText() {
        return format.bosText();
    }

    String eosText() {
        return format.eosText();
    }

    ToolFormat toolFormat() {
        return format.toolFormat();
    }

    boolean thinks() {
        return format.thinks();
    }

    boolean toolsInPrompt() {
        return format.toolsInPrompt();
    }

    /**
     * The configured template, else the model's, else ChatML. Each is compiled and given a trial render
     * (a short conversation, within the render limits) once, here. A model file whose template fails is
     * reported once and replaced by ChatML, so chat still works; a template the operator configured
     * (--chat-template-file) that fails refuses to start instead, since that is a mistake to fix.
     */
    static ChatTemplate template(ServerConfig cfg, String fromModel, String bos, String eos) {
        if (cfg.chatTemplate() != null) {
            String problem;
            try {
                ChatTemplate t = ChatTemplate.compile(cfg.chatTemplate());
                problem = t.check(bos, eos);
                if (problem == null) return t;
            } catch (TemplateException e) {
                problem = e.getMessage();
            }
            throw new IllegalArgumentException("the configured chat template does not work: " + problem);
        }
        if (fromModel == null || fromModel.isBlank()) {
            LOG.info("model has no chat template; using ChatML");
            return ChatTemplate.chatml();
        }
        String problem;
        try {
            ChatTemplate t = ChatTemplate.compile(fromModel);
            problem = t.check(bos, eos);
            if (problem == null) return t;
        } catch (TemplateException e) {
            problem = e.getMessage();
        }
        LOG.warn("the model's chat template (tokenizer.chat_template) cannot be used: {}; falling back to ChatML, which may not be "
                + "the format this model was trained on (give one with --chat-template-file)", problem);
        return ChatTemplate.chatml();
    }
}
