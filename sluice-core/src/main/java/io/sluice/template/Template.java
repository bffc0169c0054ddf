package io.sluice.template;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A compiled Jinja2 template (Python Jinja2's semantics for what chat templates use, with Hugging Face's
 * trim_blocks/lstrip_blocks and tojson), rendered by a purpose-built interpreter over {@link Value}s only.
 * The source is parsed once; renders are independent and thread-safe. Rendered data is never parsed as
 * template code: only the source given here is.
 *
 * <pre>{@code
 * Template t = Template.compile("{% for m in messages %}{{ m.role }}: {{ m.content | trim }}\n{% endfor %}");
 * String out = t.render(Map.of("messages", List.of(Map.of("role", "user", "content", " hi "))));
 * }</pre>
 */
public final class Template {
    private final String source;
    private final List<Node> body;

    private Template(String source, List<Node> body) {
        this.source = source;
        this.body = body;
    }

    /** @throws TemplateSyntaxException when the source does not parse, naming the line */
    public static Template compile(String source) {
        if (source == null) throw new IllegalArgumentException("template source is null");
        try {
            return new Template(source, Parser.parse(source));
        } catch (TemplateException e) {
            throw e;
        } catch (StackOverflowError e) {
            throw new TemplateSyntaxException("template nested too deeply to parse", 0);
        }
    }

    public String source() {
        return source;
    }

    /** Renders with the default limits; values are plain Java data (see {@link Value#of}) or Values. */
    public String render(Map<String, ?> vars) {
        return render(vars, TemplateLimits.defaults());
    }

    /**
     * @throws TemplateRaisedException the template called raise_exception
     * @throws TemplateLimitException  the render went over a limit
     * @throws TemplateException       any other failure (type error, undefined value used, bad argument)
     */
    public String render(Map<String, ?> vars, TemplateLimits limits) {
        return render(vars, Map.of(), limits).text();
    }

    /**
     * Renders with {@code trusted} variables (the caller's own: special tokens, flags, functions) and
     * {@code untrusted} ones (request data: every string in them, keys included, is untrusted); an untrusted
     * variable shadows a trusted one of the same name. The text is what {@link #render(Map, TemplateLimits)}
     * gives for the same variables; {@link Rendered#untrusted()} says which characters came from untrusted data.
     *
     * @throws TemplateRaisedException the template called raise_exception
     * @throws TemplateLimitException  the render went over a limit
     * @throws TemplateException       any other failure (type error, undefined value used, bad argument)
     */
    public Rendered render(Map<String, ?> trusted, Map<String, ?> untrusted, TemplateLimits limits) {
        Map<String, Value> values = new HashMap<>();
        put(values, trusted, false);
        put(values, untrusted, true);
        try {
            return Interpreter.render(body, values, limits);
        } catch (TemplateException e) {
            throw e;
        } catch (RuntimeException e) {
            // A renderer bug must still surface as a template failure, never escape as something else.
            throw new TemplateException("internal template error: " + e, 0);
        }
    }

    private static void put(Map<String, Value> values, Map<String, ?> vars, boolean untrusted) {
        for (var e : vars.entrySet()) {
            try {
                values.put(e.getKey(), untrusted ? Value.untrusted(e.getValue()) : Value.of(e.getValue()));
            } catch (IllegalArgumentException ex) {
                throw new TemplateException("template variable '" + e.getKey() + "': " + ex.getMessage(), 0);
            }
        }
    }
}
