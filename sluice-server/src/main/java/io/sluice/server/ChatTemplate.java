package io.sluice.server;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.filter.Filter;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import com.hubspot.jinjava.lib.tag.Tag;
import com.hubspot.jinjava.tree.Node;
import com.hubspot.jinjava.tree.TagNode;

import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.TextStyle;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A Hugging Face style chat template (Jinja2, as stored in GGUF {@code tokenizer.chat_template}) rendered
 * with Jinjava. Provides what HF's {@code apply_chat_template} provides: {@code messages},
 * {@code bos_token}, {@code eos_token}, {@code add_generation_prompt}, {@code raise_exception()},
 * {@code strftime_now()}, trim_blocks and lstrip_blocks. Thread-safe.
 */
public final class ChatTemplate {

    /** Used when the model file has no template: the ChatML format most instruct models understand. */
    public static final String CHATML = """
            {% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}\
            {% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}""";

    /** Raised by the template itself (raise_exception) or by a broken template; the message says which. */
    public static final class TemplateException extends RuntimeException {
        private final boolean raisedByTemplate;

        TemplateException(String message, boolean raisedByTemplate) {
            super(message);
            this.raisedByTemplate = raisedByTemplate;
        }

        /** True when the template rejected the conversation on purpose (a client error). */
        public boolean raisedByTemplate() {
            return raisedByTemplate;
        }
    }

    // raise_exception() is a static EL function: the message travels back to render() through this.
    private static final ThreadLocal<String> RAISED = new ThreadLocal<>();

    private final String source;
    private final Jinjava jinjava;

    public ChatTemplate(String source) {
        this.source = source == null ? CHATML : source;
        this.jinjava = new Jinjava(JinjavaConfig.newBuilder()
                .withTrimBlocks(true)
                .withLstripBlocks(true)
                .withMaxOutputSize(64L << 20)
                .build());
        var ctx = jinjava.getGlobalContext();
        ctx.registerFunction(new ELFunctionDefinition("", "raise_exception", ChatTemplate.class, "raiseException", String.class));
        ctx.registerFunction(new ELFunctionDefinition("", "strftime_now", ChatTemplate.class, "strftimeNow", String.class));
        ctx.registerTag(new FilterBlockTag());
    }

    public String source() {
        return source;
    }

    /**
     * Renders a conversation. Each message is a map with at least "role" and "content" (strings).
     *
     * @throws TemplateException when the template raises or fails
     */
    public String render(List<Map<String, Object>> messages, String bosToken, String eosToken, boolean addGenerationPrompt) {
        Map<String, Object> vars = new HashMap<>();
        vars.put("messages", messages);
        vars.put("bos_token", bosToken == null ? "" : bosToken);
        vars.put("eos_token", eosToken == null ? "" : eosToken);
        vars.put("add_generation_prompt", addGenerationPrompt);
        RAISED.remove();
        RenderResult result;
        try {
            result = jinjava.renderForResult(pythonMethodsToJava(source), vars);
        } catch (RuntimeException e) {
            throw new TemplateException("chat template failed: " + e.getMessage(), false);
        } finally {
            String raised = RAISED.get();
            RAISED.remove();
            if (raised != null) throw new TemplateException(raised, true);
        }
        for (TemplateError err : result.getErrors()) {
            if (err.getSeverity() == TemplateError.ErrorType.FATAL) {
                throw new TemplateException("chat template failed at line " + err.getLineno() + ": " + err.getMessage(), false);
            }
        }
        return result.getOutput();
    }

    /** The template's raise_exception(message). */
    public static String raiseException(String message) {
        RAISED.set(message == null ? "chat template raised an exception" : message);
        throw new IllegalStateException(message);
    }

    /** Python's datetime.now().strftime(format), for the common directives (Llama 3.x templates use it). */
    public static String strftimeNow(String format) {
        ZonedDateTime now = ZonedDateTime.now();
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < format.length(); i++) {
            char c = format.charAt(i);
            if (c != '%' || i + 1 == format.length()) {
                sb.append(c);
                continue;
            }
            char d = format.charAt(++i);
            switch (d) {
                case 'd' -> sb.append(String.format("%02d", now.getDayOfMonth()));
                case 'm' -> sb.append(String.format("%02d", now.getMonthValue()));
                case 'Y' -> sb.append(now.getYear());
                case 'y' -> sb.append(String.format("%02d", now.getYear() % 100));
                case 'H' -> sb.append(String.format("%02d", now.getHour()));
                case 'M' -> sb.append(String.format("%02d", now.getMinute()));
                case 'S' -> sb.append(String.format("%02d", now.getSecond()));
                case 'b' -> sb.append(now.getMonth().getDisplayName(TextStyle.SHORT, Locale.ENGLISH));
                case 'B' -> sb.append(now.getMonth().getDisplayName(TextStyle.FULL, Locale.ENGLISH));
                case 'a' -> sb.append(now.getDayOfWeek().getDisplayName(TextStyle.SHORT, Locale.ENGLISH));
                case 'A' -> sb.append(now.getDayOfWeek().getDisplayName(TextStyle.FULL, Locale.ENGLISH));
                case 'j' -> sb.append(String.format("%03d", now.getDayOfYear()));
                case 'F' -> sb.append(now.format(DateTimeFormatter.ISO_LOCAL_DATE));
                case '%' -> sb.append('%');
                default -> sb.append('%').append(d);
            }
        }
        return sb.toString();
    }

    /** Jinja's {@code {% filter name %}...{% endfilter %}} block, which Jinjava lacks (some Llama 3 templates use it). */
    private static final class FilterBlockTag implements Tag {
        @Override
        public String getName() {
            return "filter";
        }

        @Override
        public String getEndTagName() {
            return "endfilter";
        }

        @Override
        public String interpret(TagNode tagNode, JinjavaInterpreter interpreter) {
            StringBuilder body = new StringBuilder();
            for (Node child : tagNode.getChildren()) body.append(child.render(interpreter).getValue());
            String name = tagNode.getHelpers().strip();
            Filter filter = interpreter.getContext().getFilter(name);
            if (filter == null) throw new IllegalStateException("unknown filter '" + name + "' in {% filter %}");
            Object out = filter.filter(body.toString(), interpreter);
            return out == null ? "" : out.toString();
        }
    }

    private static final Pattern TAG = Pattern.compile("\\{[{%].*?[%}]}", Pattern.DOTALL);
    private static final Map<String, String> PY_TO_JAVA = Map.of(
            ".startswith(", ".startsWith(",
            ".endswith(", ".endsWith(",
            ".upper()", ".toUpperCase()",
            ".lower()", ".toLowerCase()",
            ".lstrip()", ".stripLeading()",
            ".rstrip()", ".stripTrailing()");

    /**
     * Jinjava calls Java methods on strings, while HF templates call Python's (message.content.startswith(...)).
     * Renames the common ones to their Java equivalents inside {{ }} and {% %} tags only, so literal text is untouched.
     */
    static String pythonMethodsToJava(String template) {
        Matcher m = TAG.matcher(template);
        StringBuilder out = new StringBuilder(template.length());
        while (m.find()) {
            String tag = m.group();
            for (var e : PY_TO_JAVA.entrySet()) tag = tag.replace(e.getKey(), e.getValue());
            m.appendReplacement(out, Matcher.quoteReplacement(tag));
        }
        m.appendTail(out);
        return out.toString();
    }
}
