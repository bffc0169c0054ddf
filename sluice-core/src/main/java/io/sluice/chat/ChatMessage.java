package io.sluice.chat;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One message of a conversation, as Hugging Face's apply_chat_template passes it to the template:
 * {@code role}, {@code content}, and when present {@code reasoning_content}, {@code tool_calls},
 * {@code tool_call_id}, {@code name}, plus any {@code extra} keys (e.g. gpt-oss's "thinking").
 * Absent (null or empty) optional fields are absent keys, so {@code 'tool_calls' in message} and
 * {@code message.name is defined} behave as with HF.
 *
 * @param content a String, null (the template sees None), or a list of content parts (maps) as OpenAI
 *                clients send them; templates differ in which they accept
 */
public record ChatMessage(String role, Object content, String reasoningContent, List<ToolCall> toolCalls, String toolCallId,
                          String name, Map<String, Object> extra) {

    static final Set<String> STANDARD_KEYS = Set.of("role", "content", "reasoning_content", "tool_calls", "tool_call_id", "name");

    public ChatMessage {
        if (role == null) throw new IllegalArgumentException("message without a role");
        toolCalls = toolCalls == null ? List.of() : List.copyOf(toolCalls);
        if (extra == null) {
            extra = Map.of();
        } else {
            for (String k : extra.keySet()) {
                if (STANDARD_KEYS.contains(k)) throw new IllegalArgumentException("extra message field '" + k + "' duplicates a standard field");
            }
            extra = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(extra));
        }
    }

    public static ChatMessage of(String role, Object content) {
        return new ChatMessage(role, content, null, null, null, null, null);
    }

    public static ChatMessage system(String content) {
        return of("system", content);
    }

    public static ChatMessage user(String content) {
        return of("user", content);
    }

    public static ChatMessage assistant(String content) {
        return of("assistant", content);
    }

    /** An assistant turn that called tools (content may be null). */
    public static ChatMessage assistant(String content, List<ToolCall> toolCalls) {
        return new ChatMessage("assistant", content, null, toolCalls, null, null, null);
    }

    /** A tool result answering the call {@code toolCallId}; {@code name} is the function (some templates print it). */
    public static ChatMessage tool(String toolCallId, String name, String content) {
        return new ChatMessage("tool", content, null, null, toolCallId, name, null);
    }

    public ChatMessage withReasoningContent(String r) {
        return new ChatMessage(role, content, r, toolCalls, toolCallId, name, extra);
    }

    public ChatMessage withName(String n) {
        return new ChatMessage(role, content, reasoningContent, toolCalls, toolCallId, n, extra);
    }

    public ChatMessage withExtra(Map<String, Object> e) {
        return new ChatMessage(role, content, reasoningContent, toolCalls, toolCallId, name, e);
    }

    /** The message as the template sees it (a dict in HF's shape). */
    Map<String, Object> toTemplateData() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("role", role);
        m.put("content", content);
        if (reasoningContent != null) m.put("reasoning_content", reasoningContent);
        if (!toolCalls.isEmpty()) {
            List<Map<String, Object>> calls = new java.util.ArrayList<>();
            for (ToolCall c : toolCalls) {
                Map<String, Object> call = new LinkedHashMap<>();
                if (c.id() != null) call.put("id", c.id());
                call.put("type", "function");
                Map<String, Object> fn = new LinkedHashMap<>();
                fn.put("name", c.name());
                fn.put("arguments", c.arguments());
                call.put("function", fn);
                calls.add(call);
            }
            m.put("tool_calls", calls);
        }
        if (toolCallId != null) m.put("tool_call_id", toolCallId);
        if (name != null) m.put("name", name);
        m.putAll(extra);
        return m;
    }
}
