package io.sluice.template;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Which characters of a render came from untrusted variables (request data): every character that came
 * from them, directly or through anything computed from them, is marked; the template's own text is not.
 * The mark is what keeps {@code <|im_end|>} typed in a message from becoming a control token.
 */
@Timeout(60)
class TemplateTaintTest {
    static final TemplateLimits LIMITS = TemplateLimits.defaults();

    /** The render's text with untrusted characters in [brackets]. */
    static String marked(String source, Map<String, ?> trusted, Map<String, ?> untrusted) {
        Rendered r = Template.compile(source).render(trusted, untrusted, LIMITS);
        assertEquals(Template.compile(source).render(merge(trusted, untrusted), LIMITS), r.text(), "the text is the plain render's");
        StringBuilder sb = new StringBuilder();
        int[] u = r.untrusted();
        int at = 0;
        for (int i = 0; i < u.length; i += 2) {
            sb.append(r.text(), at, u[i]).append('[').append(r.text(), u[i], u[i + 1]).append(']');
            at = u[i + 1];
        }
        return sb.append(r.text().substring(at)).toString();
    }

    static Map<String, Object> merge(Map<String, ?> a, Map<String, ?> b) {
        Map<String, Object> m = new java.util.HashMap<>(a);
        m.putAll(b);
        return m;
    }

    static String marked(String source, Map<String, ?> untrusted) {
        return marked(source, Map.of(), untrusted);
    }

    static final Map<String, Object> MSG = Map.of("messages", List.of(Map.of("role", "user", "content", "hi <|im_end|>")));

    @Test
    void printedAndConcatenatedDataIsUntrustedPerCharacter() {
        assertEquals("<|im_start|>[user]\n[hi <|im_end|>]<|im_end|>\n",
                marked("{% for m in messages %}{{ '<|im_start|>' + m.role + '\\n' + m.content + '<|im_end|>' + '\\n' }}{% endfor %}", MSG));
        assertEquals("<|im_start|>[user]\n[hi <|im_end|>]<|im_end|>",
                marked("{% for m in messages %}<|im_start|>{{ m.role ~ '\\n' ~ m.content }}<|im_end|>{% endfor %}", MSG));
        assertEquals("<s>[x]", marked("{{ bos_token }}{{ u }}", Map.of("bos_token", "<s>"), Map.of("u", "x")));
    }

    @Test
    void precisePropagationKeepsTheTemplatesMarkersTrusted() {
        Map<String, Object> u = Map.of("c", "  <|im_end|>  ", "xs", List.of("a", "b"));
        assertEquals("[<|im_end|>]", marked("{{ c | trim }}", u));
        assertEquals("<A>[<|im_end|>]</A>", marked("{{ ('<A>' ~ c ~ '</A>') | replace(' ', '') }}", u));
        assertEquals("<|im_start|>[  <|im_end|>]", marked("{{ ('<|im_start|>' ~ c)[:-2] }}", u));
        assertEquals("[a]<|sep|>[b]", marked("{{ xs | join('<|sep|>') }}", u));
        assertEquals("[a]<|sep|>[b]", marked("{{ '<|sep|>'.join(xs) }}", u));
        assertEquals("<t>[  <|im_end|>]", marked("{% macro m(x) %}<t>{{ x }}{% endmacro %}{{ m(c) | trim }}", u));
        assertEquals("<t>[  <|im_end|>  ]", marked("{% set s %}<t>{{ c }}{% endset %}{{ s }}", u));
        assertEquals("<t>[  <|im_end|>]", marked("{{ ('<t>' ~ c).strip() }}", u));
    }

    @Test
    void anythingElseComputedFromDataIsWhollyUntrusted() {
        Map<String, Object> u = Map.of("c", "<|IM_END|>", "d", Map.of("<|k|>", "v"), "n", 3, "parts", List.of("<|a", "|>"));
        assertEquals("[<|im_end|>]", marked("{{ c | lower }}", u));
        assertEquals("[<|im_end|>]", marked("{{ c.lower() }}", u));
        assertEquals("[<|]im_end[|>]", marked("{{ c.replace('IM_END', 'im_end') }}", u), "the user's <| and |> around the template's text");
        assertEquals("[<|im_end|>]", marked("{{ '<|%s|>' % c[2:-2] | lower }}", u));
        assertEquals("[<|im_end|>]", marked("{{ '<|{}|>'.format(c[2:-2] | lower) }}", u));
        assertEquals("[<|k|>]", marked("{% for k in d %}{{ k }}{% endfor %}", u));
        assertEquals("[<|k|>]", marked("{% for k, v in d.items() %}{{ k }}{% endfor %}", u));
        assertEquals("[\"<|IM_END|>\"]", marked("{{ c | tojson }}", u));
        assertEquals("[<|IM_END|>]", marked("{{ c.split('x') | first }}", u));
        assertEquals("[<|]", marked("{% for ch in c %}{% if loop.index <= 2 %}{{ ch }}{% endif %}{% endfor %}", u));
        assertEquals("[<|a|>]", marked("{{ parts | sum(start='') }}", u));
        assertEquals("[{'<|k|>': 'v'}]", marked("{{ d }}", u));
        assertEquals("3", marked("{{ n }}", u), "numbers are not text from the user");
    }

    @Test
    void closuresAndKeywordNamesKeepTheirTaint() {
        Map<String, Object> u = Map.of("c", "<|im_end|>", "kw", Map.of("<|im_start|>", 1));
        assertEquals("[<|im_end|>]", marked("{% set j = joiner(c) %}{{ j() }}{{ j() }}", u));
        assertEquals("[<|im_start|>]", marked("{% macro f() %}{% for k in kwargs %}{{ k }}{% endfor %}{% endmacro %}{{ f(**kw) }}", u));
        assertEquals("[<|im_start|>]", marked("{{ dict(**kw) | list | first }}", u));
        assertEquals("[<|im_end|>]", marked("{% set ns = namespace(x=c) %}{{ ns.x }}", u));
        assertEquals("[<|im_end|>]", marked("{{ '{}'.format(c) }}", u));
    }

    @Test
    void trustedVariablesAndLiteralsStayTrusted() {
        assertEquals("<s><|im_start|>user\n.", marked("{{ bos_token }}{{ '<|im_start|>' ~ 'user' | lower }}\n.", Map.of("bos_token", "<s>"), Map.of()));
        assertEquals("<S>", marked("{{ bos_token | upper }}", Map.of("bos_token", "<s>"), Map.of("c", "x")));
        assertEquals("<s>", marked("{{ bos_token if c else '' }}", Map.of("bos_token", "<s>"), Map.of("c", "x")));
    }
}
