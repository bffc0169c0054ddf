package io.sluice.template;

/**
 * A template that cannot be rendered: a runtime error (type error, undefined value used, bad filter
 * argument), or one of the subclasses for syntax errors, the template's own raise_exception, and limits.
 * The message names the template line when known.
 */
public class TemplateException extends RuntimeException {
    private final int line;

    public TemplateException(String message, int line) {
        super(line > 0 ? message + " (template line " + line + ")" : message);
        this.line = line;
    }

    /** The same error, placed at a template line (the interpreter adds it where a builtin could not). */
    public TemplateException withLine(int line) {
        TemplateException e = new TemplateException(reason(), line);
        e.setStackTrace(getStackTrace());
        return e;
    }

    /** 1-based template line, or 0 when unknown. */
    public int line() {
        return line;
    }

    /** The message without the line suffix. */
    public String reason() {
        String m = getMessage();
        int i = line > 0 ? m.lastIndexOf(" (template line ") : -1;
        return i < 0 ? m : m.substring(0, i);
    }
}
