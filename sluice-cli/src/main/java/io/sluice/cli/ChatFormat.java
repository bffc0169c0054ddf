package io.sluice.cli;

import io.sluice.model.Model;
import io.sluice.model.tokenizer.Tokenizer;
import io.sluice.server.ChatTemplate;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Conversation to prompt tokens for the interactive chat: the model's chat template (ChatML when it has
 * none), rendered with a generation prompt, tokenized with special tokens parsed, BOS added when the
 * model wants one and the template did not write it - as the server builds chat prompts.
 * The one place here that knows which template renderer is used (the server's, until the sandboxed
 * renderer moves to sluice-core as io.sluice.chat).
 */
final class ChatFormat {
    record Message(String role, String content) {
    }

    private final ChatTemplate template;
    private final Tokenizer tok;
    private final String bos, eos;
    private final boolean fromModel;

    private ChatFormat(ChatTemplate template, Tokenizer tok, boolean fromModel) {
        this.template = template;
        this.tok = tok;
        this.fromModel = fromModel;
        this.bos = tok.bos() >= 0 ? tok.tokenText(tok.bos()) : "";
        this.eos = tok.eos() >= 0 ? tok.tokenText(tok.eos()) : "";
    }

    /** The template given (e.g. from --chat-template-file), else the model's, else ChatML; one that cannot render a greeting falls back to ChatML. */
    static ChatFormat of(Model m, String override) {
        String src = override != null ? override : m.file() == null ? null : m.file().getString("tokenizer.chat_template", null);
        if (src == null || src.isBlank()) return new ChatFormat(new ChatTemplate(null), m.tokenizer(), false);
        ChatFormat f = new ChatFormat(new ChatTemplate(src), m.tokenizer(), true);
        try {
            f.render(List.of(new Message("user", "Hello")));
            return f;
        } catch (ChatTemplate.TemplateException e) {
            if (e.raisedByTemplate()) return f;
            System.err.println("sluice: the chat template cannot be rendered (" + Main.oneLine(e.getMessage()) + "); using ChatML");
            return new ChatFormat(new ChatTemplate(null), m.tokenizer(), false);
        }
    }

    /** Where the template came from, for the chat's greeting line. */
    String describe() {
        return fromModel ? "the model's chat template" : "ChatML (the model has no chat template)";
    }

    String render(List<Message> conversation) {
        List<Map<String, Object>> msgs = new ArrayList<>();
        for (Message m : conversation) msgs.add(Map.of("role", m.role(), "content", m.content()));
        return template.render(msgs, bos, eos, true);
    }

    int[] tokens(List<Message> conversation) {
        int[] ids = tok.encode(render(conversation), false, true);
        if (tok.addBos() && tok.bos() >= 0 && (ids.length == 0 || ids[0] != tok.bos())) {
            int[] withBos = new int[ids.length + 1];
            withBos[0] = tok.bos();
            System.arraycopy(ids, 0, withBos, 1, ids.length);
            ids = withBos;
        }
        return ids;
    }
}
