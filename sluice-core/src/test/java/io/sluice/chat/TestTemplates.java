package io.sluice.chat;

/** Chat templates for tests, shared with the other modules' tests through sluice-core's test jar. */
public final class TestTemplates {
    private TestTemplates() {
    }

    /**
     * A small self-made Hermes-style template for models that know no tools (stories260K): it names
     * the offered tools, renders assistant calls as {@code <tool_call>} JSON and everything else as
     * ChatML content.
     */
    public static final String HERMES = """
            {%- if tools %}<|im_start|>system
            Tools:{% for t in tools %} {{ t.function.name }}{% endfor %}. Call one as <tool_call>{"name": ..., "arguments": ...}</tool_call><|im_end|>
            {% endif %}
            {%- for m in messages %}<|im_start|>{{ m.role }}
            {% if m.tool_calls %}{% for c in m.tool_calls %}<tool_call>
            {"name": "{{ c.function.name }}", "arguments": {{ c.function.arguments | tojson }}}
            </tool_call>{% endfor %}{% else %}{{ m.content }}{% endif %}<|im_end|>
            {% endfor %}
            {%- if add_generation_prompt %}<|im_start|>assistant
            {% endif %}""";
}
