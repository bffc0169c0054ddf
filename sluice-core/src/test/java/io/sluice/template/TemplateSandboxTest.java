package io.sluice.template;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Hostile templates and hostile data: nothing outside the value model is reachable, data is never
 * evaluated, and every way of burning CPU or memory ends in a {@link TemplateLimitException} naming its limit.
 */
@Timeout(60)
class TemplateSandboxTest {

    /** The defaults with a wall-time limit long enough that the limit under test trips first, even on a loaded machine. */
    static final TemplateLimits LIMITS = TemplateLimits.defaults().withMaxTime(Duration.ofSeconds(60));

    static String render(String source, Map<String, ?> vars) {
        return Template.compile(source).render(vars);
    }

    static TemplateLimits.Limit limitOf(String source, TemplateLimits limits) {
        var e = assertThrows(TemplateLimitException.class, () -> Template.compile(source).render(Map.of(), limits));
        assertTrue(e.getMessage().contains(e.limit() == TemplateLimits.Limit.TIME ? "ms" : ""), e.getMessage());
        return e.limit();
    }

    @Test
    void dataIsNeverEvaluated() {
        String payload = "x {{ 7*7 }} y {% for i in range(3) %}{{ i }}{% endfor %} {# c #} {{ ''.__class__ }} {% raw %} ____int3rpr3t3r____";
        assertEquals(payload, render("{{ m }}", Map.of("m", payload)));
        assertEquals(payload + "|" + payload.length(), render("{{ m | trim }}|{{ m | length }}", Map.of("m", payload)));
        assertEquals("\"" + payload.replace("\"", "\\\"") + "\"", render("{{ m | tojson }}", Map.of("m", payload)));
    }

    @Test
    void noJavaObjectIsReachable() {
        Map<String, Object> vars = Map.of("messages", List.of(Map.of("role", "user", "content", "hi")), "s", "str");
        String[] probes = {
                "{{ ''.__class__.__mro__[1].__subclasses__() }}",
                "{{ s.getClass() }}", "{{ s.getClass().forName('java.lang.Runtime') }}", "{{ messages.getClass().getName() }}",
                "{{ messages[0].getClass() }}", "{{ messages.class }}", "{{ s.class.name }}",
                "{{ self.__init__.__globals__ }}", "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
                "{{ lipsum.__globals__['os'].popen('id').read() }}", "{{ namespace.__init__.__globals__ }}",
                "{{ range.__self__ }}", "{{ joiner.__class__.__base__ }}", "{{ ____int3rpr3t3r____.config }}",
                "{{ request.application.__globals__ }}", "{{ config.items() }}", "{{ open('/etc/passwd').read() }}",
                "{{ import('os') }}", "{{ __import__('os').system('id') }}", "{{ s.__len__() }}", "{{ messages.__getitem__(0) }}",
                "{{ s|attr('__class__') }}", "{{ (s|attr('__class__')).__name__ }}", "{{ s['__class__'] }}",
        };
        List<String> leaks = new ArrayList<>();
        for (String p : probes) {
            String out;
            try {
                out = render(p, vars);
            } catch (TemplateException e) {
                out = e.getMessage();
            }
            if (out.contains("java.") || out.contains("io.sluice") || out.contains("root:") || out.contains("uid=") || out.contains("class ")) {
                leaks.add(p + " -> " + out);
            }
        }
        assertEquals(List.of(), leaks);
    }

    @Test
    void theSourceCannotLoadFilesOrUrls() {
        for (String src : List.of("{% include '/etc/passwd' %}", "{% import '/etc/passwd' as p %}", "{% from 'x' import y %}",
                "{% extends 'http://127.0.0.1:1/x' %}", "{% include 'file:///etc/passwd' %}")) {
            var e = assertThrows(TemplateSyntaxException.class, () -> Template.compile(src), src);
            assertFalse(e.getMessage().contains("root:"), e.getMessage());
        }
    }

    @Test
    void dataFromJavaIsCopiedAndOnlyPlainTypesAreAccepted() {
        List<Object> mine = new ArrayList<>(List.of("a"));
        assertEquals("['a', 'b']|['a']", render("{% set l = data %}{% do l.append('b') %}{{ l }}|{{ orig }}", Map.of("data", mine, "orig", mine)));
        assertEquals(List.of("a"), mine, "the caller's list is not changed");
        var e = assertThrows(TemplateException.class, () -> render("{{ x }}", Map.of("x", new Thread())));
        assertTrue(e.getMessage().contains("Thread"), e.getMessage());
        Object deep = "leaf";
        for (int i = 0; i < 600; i++) deep = List.of(deep);
        Object tooDeep = deep;
        assertThrows(TemplateException.class, () -> render("{{ x }}", Map.of("x", tooDeep)));
    }

    @Test
    void hugeLoopsStopAtTheStepLimit() {
        assertEquals(TemplateLimits.Limit.STEPS, limitOf("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
                LIMITS));
        assertEquals(TemplateLimits.Limit.STEPS, limitOf("{% set l = range(100000)|list %}{% for i in range(100000) %}{{ 99999 in l }}{% endfor %}",
                LIMITS));
        assertEquals(TemplateLimits.Limit.STEPS, limitOf("{% set l = range(100000)|list %}{% for i in range(1000) %}{{ l|sort(reverse=true)|length }}{% endfor %}",
                LIMITS));
    }

    @Test
    void wallTimeIsBoundedEvenWithoutAStepLimit() {
        TemplateLimits l = TemplateLimits.defaults().withMaxSteps(Long.MAX_VALUE).withMaxTime(Duration.ofMillis(200));
        long t0 = System.nanoTime();
        assertEquals(TemplateLimits.Limit.TIME, limitOf("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", l));
        assertTrue(System.nanoTime() - t0 < 10_000_000_000L, "gave up long after its 200 ms limit");
    }

    @Test
    void recursionStopsAtTheDepthLimit() {
        assertEquals(TemplateLimits.Limit.DEPTH, limitOf("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", LIMITS));
        assertEquals(TemplateLimits.Limit.DEPTH, limitOf("{% macro f() %}{{ caller() }}{% endmacro %}{% macro g() %}{% call f() %}{{ g() }}{% endcall %}{% endmacro %}{{ g() }}",
                LIMITS));
        assertEquals(TemplateLimits.Limit.DEPTH, limitOf("{% set l = [] %}{% do l.append(l) %}{{ l|tojson }}", LIMITS));
        assertEquals(TemplateLimits.Limit.DEPTH, limitOf("{% set l = [] %}{% do l.append(l) %}{{ l }}", LIMITS));
        assertEquals("TrueTrue", render("{% set l = [] %}{% do l.append(l) %}{{ l == l }}{{ l == [l] }}", Map.of()), "Python compares by identity first");
    }

    @Test
    void memoryBlowupsStopAtTheAllocationLimit() {
        assertEquals(TemplateLimits.Limit.MEMORY, limitOf("{{ 'x' * 10**9 }}", LIMITS));
        assertEquals(TemplateLimits.Limit.MEMORY, limitOf("{{ ([1] * 10**8)|length }}", LIMITS));
        assertEquals(TemplateLimits.Limit.MEMORY, limitOf("{% set ns = namespace(s='xy') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}", LIMITS));
        assertEquals(TemplateLimits.Limit.MEMORY, limitOf("{% set ns = namespace(s=['a']) %}{% for i in range(64) %}{% set ns.s = ns.s + ns.s %}{% endfor %}", LIMITS));
        assertEquals(TemplateLimits.Limit.MEMORY, limitOf("{{ 'ab'.replace('', 'x' * 10**7) }}", LIMITS));
        assertEquals(TemplateLimits.Limit.MEMORY, limitOf("{{ 'x'.center(10**10) }}", LIMITS));
        assertEquals(TemplateLimits.Limit.MEMORY, limitOf("{{ '%0999999999d' % 1 }}", LIMITS));
        assertEquals(TemplateLimits.Limit.MEMORY, limitOf("{% set ns = namespace(l=[]) %}{% for i in range(100000) %}{% set ns.l = ns.l + ['x' * 1000 ~ i] %}{% endfor %}",
                LIMITS));
    }

    @Test
    void outputIsBounded() {
        assertEquals(TemplateLimits.Limit.OUTPUT, limitOf("{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}", LIMITS));
        assertEquals(TemplateLimits.Limit.OUTPUT, limitOf("{% for i in range(100) %}y{% endfor %}", LIMITS.withMaxOutputChars(50)));
    }

    @Test
    void deeplyNestedSourceIsASyntaxErrorNotAStackOverflow() {
        String parens = "{{ " + "(".repeat(5000) + "1" + ")".repeat(5000) + " }}";
        assertThrows(TemplateSyntaxException.class, () -> Template.compile(parens));
        String ifs = "{% if true %}".repeat(5000) + "x" + "{% endif %}".repeat(5000);
        assertThrows(TemplateSyntaxException.class, () -> Template.compile(ifs));
        String nots = "{{ " + "not ".repeat(5000) + "1 }}";
        assertThrows(TemplateSyntaxException.class, () -> Template.compile(nots));
        String minus = "{{ " + "-".repeat(5000) + "1 }}";
        assertThrows(TemplateSyntaxException.class, () -> Template.compile(minus));
        assertEquals("1", render("{{ " + "(".repeat(50) + "1" + ")".repeat(50) + " }}", Map.of()), "moderate nesting still works");
    }

    @Test
    void anInterruptedRenderStops() throws Exception {
        TemplateLimits l = TemplateLimits.defaults().withMaxSteps(Long.MAX_VALUE).withMaxTime(Duration.ofMinutes(5));
        Throwable[] caught = new Throwable[1];
        Thread t = new Thread(() -> {
            try {
                Template.compile("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}").render(Map.of(), l);
            } catch (Throwable e) {
                caught[0] = e;
            }
        });
        t.start();
        Thread.sleep(100);
        t.interrupt();
        t.join(10_000);
        assertFalse(t.isAlive(), "the render ignored the interrupt");
        assertTrue(caught[0] instanceof TemplateLimitException e && e.limit() == TemplateLimits.Limit.TIME, String.valueOf(caught[0]));
    }

    @Test
    void errorsNameTheLine() {
        var e = assertThrows(TemplateException.class, () -> render("line one\n{{ 1 }}\n{{ 'a' + 1 }}", Map.of()));
        assertEquals(3, e.line(), e.getMessage());
        var s = assertThrows(TemplateSyntaxException.class, () -> Template.compile("a\nb\n{% for %}"));
        assertEquals(3, s.line(), s.getMessage());
    }
}
