package io.sluice.template;

/** A render went over one of its {@link TemplateLimits}; {@link #limit()} says which. */
public final class TemplateLimitException extends TemplateException {
    private final TemplateLimits.Limit limit;

    public TemplateLimitException(TemplateLimits.Limit limit, String message, int line) {
        super(message, line);
        this.limit = limit;
    }

    public TemplateLimits.Limit limit() {
        return limit;
    }

    @Override
    public TemplateLimitException withLine(int line) {
        return new TemplateLimitException(limit, reason(), line);
    }
}
