package io.sluice.chat;

import io.sluice.template.Args;
import io.sluice.template.Rendered;
import io.sluice.template.Template;
import io.sluice.template.TemplateException;
import io.sluice.template.TemplateLimits;
import io.sluice.template.TemplateRaisedException;
import io.sluice.template.Value;

import java.time.LocalDateTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A model's chat template ({@code tokenizer.chat_template}) rendered as Hugging Face's
 * {@code apply_chat_template} renders it: variables {@code messages}, {@code tools}, {@code documents},
 * {@code add_generation_prompt}, {@code bos_token}, {@code eos_token} and the caller's kwargs, globals
 * {@code raise_exception} and {@code strftime_now}, Jinja2 with trim_blocks and lstrip_blocks, HF's tojson.
 * Immutable and thread-safe; compile once, render per request.
 */
public final class ChatTemplate {

    /** The fallback for models without a template: ChatML, which most instruct models understand. */
    public static final String CHATML_SOURCE = "{% for message in messages %}"
            + "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
            + "{% endfor %}"
            + "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    private static final ChatTemplate CHATML = compile(CHATML_SOURCE);

    private final Template template;

    private ChatTemplate(Template template) {
        this.template = template;
    }

    /** @throws io.sluice.template.TemplateSyntaxException when the source does not parse */
    public static ChatTemplate compile(String source) {
        return new ChatTemplate(Template.compile(source));
    }

    public static ChatTemplate chatml() {
        return CHATML;
    }

    public String source() {
        return template.source();
    }

    public String render(List<ChatMessage> messages) {
        return render(messages, ChatOptions.defaults());
    }

    /**
     * The prompt text for this conversation.
     *
     * @throws TemplateRaisedException              the template rejected the conversation (raise_exception): a client error
     * @throws io.sluice.template.TemplateLimitException the render went over a limit (which: {@code limit()})
     * @throws TemplateException                    the template failed (a broken template, or data it cannot handle)
     */
    public String render(List<ChatMessage> messages, ChatOptions options) {
        return renderPrompt(messages, options).text();
    }

    /**
     * The prompt text with the provenance of its characters, to tokenize with
     * {@link io.sluice.model.tokenizer.Tokenizer#encodePrompt}: the conversation's data (messages, tools,
     * documents, the kwargs' values) is untrusted, so special-token text in it stays text; only the
     * template's own literals and what it computes from them and from the trusted variables
     * ({@code bos_token}, {@code eos_token}, {@code add_generation_prompt}, the HF globals) can be control tokens.
     * The text is exactly {@link #render(List, ChatOptions)}'s.
     *
     * @throws TemplateRaisedException              the template rejected the conversation (raise_exception): a client error
     * @throws io.sluice.template.TemplateLimitException the render went over a limit (which: {@code limit()})
     * @throws TemplateException                    the template failed (a broken template, or data it cannot handle)
     */
    public Rendered renderPrompt(List<ChatMessage> messages, ChatOptions options) {
        List<Object> msgs = new ArrayList<>(messages.size());
        for (ChatMessage m : messages) {
            Map<String, Object> d = m.toTemplateData();
            // One of the API's fixed role names is the client's legitimate choice, and holds no marker text:
            // trusted, so templates that build markers from it ('<|' + role + '|>', Phi-4) still make tokens.
            if (m.role() != null && TRUSTED_ROLES.contains(m.role())) d.put("role", Value.Str.trusted(m.role()));
            msgs.add(d);
        }
        // HF's globals first: render variables (kwargs included) shadow them, as in Jinja.
        Map<String, Object> trusted = new HashMap<>(globals(options.clock()));
        trusted.put("bos_token", options.bosToken());
        trusted.put("eos_token", options.eosToken());
        trusted.put("add_generation_prompt", options.addGenerationPrompt());
        Map<String, Object> untrusted = new HashMap<>(options.kwargs());
        untrusted.put("messages", msgs);
        untrusted.put("tools", options.tools());
        untrusted.put("documents", options.documents());
        // As before, a kwarg shadows a trusted variable of its name (bos_token included): then it is untrusted.
        return template.render(trusted, untrusted, options.limits());
    }

    /** Role names trusted in {@link #renderPrompt}: the OpenAI API's (the server accepts no others). */
    public static final java.util.Set<String> TRUSTED_ROLES = java.util.Set.of("system", "developer", "user", "assistant", "tool");

    /**
     * The globals Hugging Face adds to every chat template: {@code raise_exception(message)} (throws
     * {@link TemplateRaisedException}) and {@code strftime_now(format)} (reading {@code clock}). For rendering
     * a template with variables of one's own: {@code template.render(Map + these)}.
     */
    public static Map<String, Value> globals(java.time.Clock clock) {
        return Map.of("raise_exception", RAISE, "strftime_now", strftimeNow(clock));
    }

    private static final Value.Func RAISE = Value.Func.builtin("raise_exception", (in, a) -> {
        throw new TemplateRaisedException(a.size() > 0 ? a.positional().getFirst().str() : "the chat template raised an exception", 0);
    });

    private static Value.Func strftimeNow(java.time.Clock clock) {
        return Value.Func.builtin("strftime_now", (in, a) -> {
            Args args = a.require("strftime_now", 1, "format");
            if (!(args.get(0, "format") instanceof Value.Str f)) throw new TemplateException("strftime_now() format must be a string", 0);
            String out = Strftime.format(LocalDateTime.now(clock), f.value());
            return new Value.Str(out);
        });
    }

    /**
     * The load-time check: renders a small conversation (system, user, assistant, user, with the generation
     * prompt) and returns null when the template works, else what is wrong. A template that refuses the
     * conversation on purpose (e.g. no system role) is retried without the system message and then with a
     * single user message; only a template that fails otherwise (or goes over a limit) is reported.
     */
    public String check(ChatOptions options) {
        List<List<ChatMessage>> probes = List.of(
                List.of(ChatMessage.system("You are a helpful assistant."), ChatMessage.user("Hello"), ChatMessage.assistant("Hi there."),
                        ChatMessage.user("How are you?")),
                List.of(ChatMessage.user("Hello"), ChatMessage.assistant("Hi there."), ChatMessage.user("How are you?")),
                List.of(ChatMessage.user("Hello")));
        for (List<ChatMessage> probe : probes) {
            try {
                render(probe, options.withAddGenerationPrompt(true));
                return null;
            } catch (TemplateRaisedException e) {
                // refused on purpose: try a simpler conversation
            } catch (TemplateException e) {
                return e.getMessage();
            }
        }
        return null;
    }

    /** {@link #check(ChatOptions)} with the given special tokens and default limits. */
    public String check(String bosToken, String eosToken) {
        return check(ChatOptions.defaults().withSpecialTokens(bosToken, eosToken).withLimits(TemplateLimits.defaults()));
    }
}
