package io.sluice.cli;

import io.sluice.chat.ChatMessage;
import io.sluice.chat.ChatOptions;
import io.sluice.chat.ChatTemplate;
import io.sluice.model.Model;
import io.sluice.model.tokenizer.Tokenizer;
import io.sluice.template.TemplateException;

import java.util.ArrayList;
import java.util.List;

/**
 * Conversation to prompt tokens for the interactive chat: the model's chat template (ChatML when it has
 * none), rendered with a generation prompt, tokenized with special tokens parsed, BOS added when the
 * model wants one and the template did not write it - as the server builds chat prompts.
 * The one place here that knows which template renderer is used (io.sluice.chat).
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

    /**
     * The template given (e.g. from --chat-template-file), else the model's, else ChatML; one that fails the
     * load-time check (ChatTemplate.check: parse errors, failures or limits on a short conversation) falls back to ChatML.
     */
    static ChatFormat of(Model m, String override) {
        String src = override != null ? override : m.file() == null ? null : m.file().getString("tokenizer.chat_template", null);
        if (src == null || src.isBlank()) return new ChatFormat(ChatTemplate.chatml(), m.tokenizer(), false);
        String problem;
        try {
            ChatFormat f = new ChatFormat(ChatTemplate.compile(src), m.tokenizer(), true);
            problem = f.template.check(f.bos, f.eos);
            if (problem == null) return f;
        } catch (TemplateException e) {
            problem = e.getMessage();
        }
        System.err.println("sluice: the chat template cannot be rendered (" + Main.oneLine(problem) + "); using ChatML");
        return new ChatFormat(ChatTemplate.chatml(), m.tokenizer(), false);
    }

    /** Where the template came from, for the chat's greeting line. */
    String describe() {
        return fromModel ? "the model's chat template" : "ChatML (the model has no chat template)";
    }

    /** @throws TemplateException when the template rejects or fails on the conversation */
    String render(List<Message> conversation) {
        List<ChatMessage> msgs = new ArrayList<>();
        for (Message m : conversation) msgs.add(ChatMessage.of(m.role(), m.content()));
        return template.render(msgs, ChatOptions.defaults().withSpecialTokens(bos, eos));
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
