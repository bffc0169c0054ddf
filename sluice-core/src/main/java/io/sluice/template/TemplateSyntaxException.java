package io.sluice.template;

/** The template source does not parse (found when it is compiled, before any render). */
public final class TemplateSyntaxException extends TemplateException {
    public TemplateSyntaxException(String message, int line) {
        super(message, line);
    }

    @Override
    public TemplateSyntaxException withLine(int line) {
        return new TemplateSyntaxException(reason(), line);
    }
}
