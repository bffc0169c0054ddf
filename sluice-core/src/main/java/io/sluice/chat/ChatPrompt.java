package io.sluice.chat;

import io.sluice.model.Model;
import io.sluice.model.tokenizer.Tokenizer;
import io.sluice.template.Rendered;
import io.sluice.template.TemplateException;

import java.util.ArrayList;
import java.util.List;

/**
 * A conversation as prompt tokens, for chats that run in-process (the CLI's interactive chat, the
 * LangChain4j and Spring AI models): the model's chat template (ChatML when it has none) rendered with a
 * generation prompt, tokenized with special tokens parsed in the template's own text only (never in the
 * messages'), BOS added when the model wants one and the
 * template did not write it - as the server builds chat prompts for its HTTP API. Thread-safe.
 */
public final class ChatPrompt {
    private static final System.Logger LOG = System.getLogger(ChatPrompt.class.getName());

    /** One turn: a role ("system", "user", "assistant", "tool") and its text. */
    public record Message(String role, String content) {
    }

    private final ChatTemplate template;
    private final Tokenizer tok;
    private final String bos, eos;
    private final boolean fromModel;

    private ChatPrompt(ChatTemplate template, Tokenizer tok, boolean fromModel) {
        this.template = template;
        this.tok = tok;
        this.fromModel = fromModel;
        this.bos = tok.bos() >= 0 ? tok.tokenText(tok.bos()) : "";
        this.eos = tok.eos() >= 0 ? tok.tokenText(tok.eos()) : "";
    }

    /**
     * The template given (e.g. from --chat-template-file), else the model's, else ChatML. A model's template that
     * fails the load-time check (ChatTemplate.check: parse errors, failures or limits on a short conversation) falls
     * back to ChatML; a given one that fails is refused, as {@code serve} refuses it, since that is a mistake to fix.
     *
     * @throws IllegalArgumentException when {@code override} does not work
     */
    public static ChatPrompt of(Model m, String override) {
        String src = override != null ? override : m.file() == null ? null : m.file().getString("tokenizer.chat_template", null);
        if (src == null || src.isBlank()) {
            if (override != null) throw new IllegalArgumentException("the given chat template is empty");
            return new ChatPrompt(ChatTemplate.chatml(), m.tokenizer(), false);
        }
        String problem;
        try {
            ChatPrompt f = new ChatPrompt(ChatTemplate.compile(src), m.tokenizer(), true);
            problem = f.template.check(f.bos, f.eos);
            if (problem == null) return f;
        } catch (TemplateException e) {
            problem = e.getMessage();
        }
        if (override != null) throw new IllegalArgumentException("the given chat template does not work: " + problem);
        LOG.log(System.Logger.Level.WARNING, "the chat template cannot be rendered ({0}); using ChatML", problem);
        return new ChatPrompt(ChatTemplate.chatml(), m.tokenizer(), false);
    }

    /** The template chosen (the given one, the model's, or ChatML). */
    public ChatTemplate template() {
        return template;
    }

    /** Where the template came from, for the chat's greeting line. */
    public String describe() {
        return fromModel ? "the model's chat template" : "ChatML (the model has no chat template)";
    }

    /** @throws TemplateException when the template rejects or fails on the conversation */
    public String render(List<Message> conversation) {
        return template.render(messages(conversation), ChatOptions.defaults().withSpecialTokens(bos, eos));
    }

    private static List<ChatMessage> messages(List<Message> conversation) {
        List<ChatMessage> msgs = new ArrayList<>();
        for (Message m : conversation) msgs.add(ChatMessage.of(m.role(), m.content()));
        return msgs;
    }

    /**
     * The prompt's ids: the template's own markers as special tokens, the messages' text never (control-token
     * text typed in a message stays text: see {@link ChatTemplate#renderPrompt}).
     *
     * @throws TemplateException when the template rejects or fails on the conversation
     */
    public int[] tokens(List<Message> conversation) {
        Rendered r = template.renderPrompt(messages(conversation), ChatOptions.defaults().withSpecialTokens(bos, eos));
        int[] ids = tok.encodePrompt(r.text(), false, r.untrusted());
        if (tok.addBos() && tok.bos() >= 0 && (ids.length == 0 || ids[0] != tok.bos())) {
            int[] withBos = new int[ids.length + 1];
            withBos[0] = tok.bos();
            System.arraycopy(ids, 0, withBos, 1, ids.length);
            ids = withBos;
        }
        return ids;
    }
}
