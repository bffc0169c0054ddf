package io.sluice.template;

/**
 * The template rejected its input on purpose ({@code raise_exception('...')}, e.g. "Conversation roles
 * must alternate"): a client error, not a broken template. {@link #reason()} is the template's message.
 */
public final class TemplateRaisedException extends TemplateException {
    public TemplateRaisedException(String message, int line) {
        super(message, line);
    }

    @Override
    public TemplateRaisedException withLine(int line) {
        return new TemplateRaisedException(reason(), line);
    }
}
