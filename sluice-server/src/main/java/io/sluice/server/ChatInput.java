package io.sluice.server;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sluice.chat.ChatMessage;
import io.sluice.chat.ChatOptions;
import io.sluice.chat.ToolCall;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static io.sluice.server.SluiceServer.JSON;

/**
 * What a chat request gives the chat template, validated: the messages (with tool calls, their JSON
 * arguments parsed into objects as Hugging Face passes them, and tool results), the tool definitions,
 * {@code chat_template_kwargs} and {@code add_generation_prompt}. Every problem is a 400 naming the field.
 * Also used by the CLI's {@code sluice template} command.
 *
 * @param tools null when the request has none (the template then sees {@code tools = None})
 */
public record ChatInput(List<ChatMessage> messages, List<Map<String, Object>> tools, Map<String, Object> kwargs, boolean addGenerationPrompt) {

    /** Request fields this record reads (besides the sampling ones RequestParser handles). */
    static final Set<String> FIELDS = Set.of("messages", "tools", "chat_template_kwargs", "add_generation_prompt");

    private static final Set<String> MESSAGE_KEYS = Set.of("role", "content", "name", "tool_calls", "tool_call_id", "refusal", "audio",
            "function_call", "reasoning_content");
    private static final Set<String> ROLES = Set.of("system", "developer", "user", "assistant", "tool");

    /** The template options for this input; the special tokens are the model's. */
    public ChatOptions options(String bosToken, String eosToken) {
        return ChatOptions.defaults().withTools(tools).withKwargs(kwargs).withAddGenerationPrompt(addGenerationPrompt)
                .withSpecialTokens(bosToken, eosToken);
    }

    public ChatInput withTools(List<Map<String, Object>> t) {
        return new ChatInput(messages, t, kwargs, addGenerationPrompt);
    }

    public ChatInput withMessages(List<ChatMessage> m) {
        return new ChatInput(m, tools, kwargs, addGenerationPrompt);
    }

    /** With one more template variable (e.g. reasoning_effort from its request field). */
    public ChatInput withKwarg(String key, Object value) {
        Map<String, Object> k = kwargs == null ? new LinkedHashMap<>() : new LinkedHashMap<>(kwargs);
        k.put(key, value);
        return new ChatInput(messages, tools, k, addGenerationPrompt);
    }

    /** @throws ApiException (400) naming the offending field */
    public static ChatInput parse(JsonNode body) {
        if (body == null || !body.isObject()) throw ApiException.invalid(null, "The request body must be a JSON object");
        ObjectNode o = (ObjectNode) body;
        List<ChatMessage> messages = messages(o.get("messages"));
        List<Map<String, Object>> tools = tools(present(o, "tools"));
        Map<String, Object> kwargs = kwargs(present(o, "chat_template_kwargs"));
        JsonNode agp = present(o, "add_generation_prompt");
        if (agp != null && !agp.isBoolean()) throw ApiException.invalid("add_generation_prompt", "'add_generation_prompt' must be a boolean");
        return new ChatInput(messages, tools, kwargs, agp == null || agp.asBoolean());
    }

    private static JsonNode present(ObjectNode o, String name) {
        JsonNode v = o.get(name);
        return v == null || v.isNull() ? null : v;
    }

    private static List<Map<String, Object>> tools(JsonNode v) {
        if (v == null) return null;
        if (!v.isArray()) throw ApiException.invalid("tools", "'tools' must be an array of tool definitions");
        if (v.isEmpty()) return null;
        List<Map<String, Object>> out = new ArrayList<>();
        for (int i = 0; i < v.size(); i++) {
            String where = "tools[" + i + "]";
            JsonNode t = v.get(i);
            if (!t.isObject()) throw ApiException.invalid(where, where + " must be an object");
            if (!t.path("type").asText("").equals("function")) throw ApiException.invalid(where + ".type", where + ".type must be \"function\"");
            JsonNode fn = t.get("function");
            if (fn == null || !fn.isObject()) throw ApiException.invalid(where + ".function", where + ".function must be an object");
            if (!fn.path("name").isTextual() || fn.get("name").asText().isEmpty()) {
                throw ApiException.invalid(where + ".function.name", where + ".function.name must be a non-empty string");
            }
            JsonNode params = fn.get("parameters");
            if (params != null && !params.isNull() && !params.isObject()) {
                throw ApiException.invalid(where + ".function.parameters", where + ".function.parameters must be a JSON Schema object");
            }
            out.add(plainMap(t));
        }
        return out;
    }

    private static Map<String, Object> kwargs(JsonNode v) {
        if (v == null) return null;
        if (!v.isObject()) throw ApiException.invalid("chat_template_kwargs", "'chat_template_kwargs' must be an object");
        Map<String, Object> out = plainMap(v);
        for (String k : out.keySet()) {
            if (ChatOptions.RESERVED.contains(k)) {
                throw ApiException.invalid("chat_template_kwargs." + k, "chat_template_kwargs cannot set '" + k + "' (pass it as the request field instead)");
            }
        }
        return out;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> plainMap(JsonNode n) {
        return JSON.convertValue(n, LinkedHashMap.class);
    }

    private static List<ChatMessage> messages(JsonNode v) {
        if (v == null || v.isNull()) throw ApiException.invalid("messages", "'messages' is required");
        if (!v.isArray()) throw ApiException.invalid("messages", "'messages' must be an array");
        if (v.isEmpty()) throw ApiException.invalid("messages", "'messages' must contain at least one message");
        List<ChatMessage> out = new ArrayList<>();
        for (int i = 0; i < v.size(); i++) {
            String where = "messages[" + i + "]";
            JsonNode m = v.get(i);
            if (!m.isObject()) throw ApiException.invalid(where, where + " must be an object");
            for (Iterator<String> it = m.fieldNames(); it.hasNext(); ) {
                String k = it.next();
                if (!MESSAGE_KEYS.contains(k)) throw ApiException.invalid(where + "." + k, "Unrecognized field in " + where + ": " + k);
            }
            JsonNode role = m.get("role");
            if (role == null || !role.isTextual()) throw ApiException.invalid(where + ".role", where + ".role must be a string");
            String r = role.asText();
            if (!ROLES.contains(r)) throw ApiException.invalid(where + ".role", "Invalid role '" + r + "' in " + where + " (expected system, developer, user, assistant or tool)");
            List<ToolCall> calls = toolCalls(m.get("tool_calls"), where, r);
            // "developer" is OpenAI's newer name for the system role; model templates only know "system".
            out.add(new ChatMessage(r.equals("developer") ? "system" : r, content(m.get("content"), where, r, !calls.isEmpty()),
                    optionalString(m, "reasoning_content", where), calls, optionalString(m, "tool_call_id", where), optionalString(m, "name", where), null));
        }
        return out;
    }

    private static String optionalString(JsonNode m, String key, String where) {
        JsonNode v = m.get(key);
        if (v == null || v.isNull()) return null;
        if (!v.isTextual()) throw ApiException.invalid(where + "." + key, where + "." + key + " must be a string");
        return v.asText();
    }

    /** OpenAI's tool_calls; the arguments string is parsed, since templates expect an object (as HF gives them). */
    private static List<ToolCall> toolCalls(JsonNode calls, String where, String role) {
        if (calls == null || calls.isNull()) return List.of();
        String w = where + ".tool_calls";
        if (!calls.isArray()) throw ApiException.invalid(w, w + " must be an array");
        if (!calls.isEmpty() && !role.equals("assistant")) throw ApiException.invalid(w, "only assistant messages can have tool_calls");
        List<ToolCall> out = new ArrayList<>();
        for (int j = 0; j < calls.size(); j++) {
            String cw = w + "[" + j + "]";
            JsonNode c = calls.get(j);
            if (!c.isObject()) throw ApiException.invalid(cw, cw + " must be an object");
            JsonNode type = c.get("type");
            if (type != null && !type.isNull() && !type.asText("").equals("function")) throw ApiException.invalid(cw + ".type", cw + ".type must be \"function\"");
            JsonNode id = c.get("id");
            if (id != null && !id.isNull() && !id.isTextual()) throw ApiException.invalid(cw + ".id", cw + ".id must be a string");
            JsonNode fn = c.get("function");
            if (fn == null || !fn.isObject()) throw ApiException.invalid(cw + ".function", cw + ".function must be an object");
            if (!fn.path("name").isTextual()) throw ApiException.invalid(cw + ".function.name", cw + ".function.name must be a string");
            out.add(new ToolCall(id == null || id.isNull() ? null : id.asText(), fn.get("name").asText(), arguments(fn.get("arguments"), cw + ".function.arguments")));
        }
        return out;
    }

    private static Object arguments(JsonNode a, String where) {
        if (a == null || a.isNull()) return Map.of();
        if (a.isObject()) return plainMap(a);
        if (!a.isTextual()) throw ApiException.invalid(where, where + " must be a string of JSON (or an object)");
        if (a.asText().isBlank()) return Map.of();
        try {
            return JSON.convertValue(JSON.readTree(a.asText()), Object.class);
        } catch (JsonProcessingException e) {
            throw ApiException.invalid(where, where + " is not valid JSON: " + e.getOriginalMessage());
        }
    }

    /**
     * The message text: a string, or text content parts joined by newlines. Absent content is "" (as
     * llama.cpp passes it) for assistant turns, so templates that concatenate it do not fail on None.
     */
    private static String content(JsonNode c, String where, String role, boolean hasToolCalls) {
        if (c == null || c.isNull()) {
            if (role.equals("assistant") || hasToolCalls) return "";
            throw ApiException.invalid(where + ".content", where + ".content is required");
        }
        if (c.isTextual()) return c.asText();
        if (!c.isArray()) throw ApiException.invalid(where + ".content", where + ".content must be a string or an array of content parts");
        StringBuilder sb = new StringBuilder();
        for (int j = 0; j < c.size(); j++) {
            JsonNode part = c.get(j);
            String pw = where + ".content[" + j + "]";
            if (!part.isObject() || !part.path("type").isTextual()) throw ApiException.invalid(pw, pw + " must be an object with a string 'type'");
            String type = part.get("type").asText();
            if (!type.equals("text")) throw ApiException.invalid(pw + ".type", "content part type '" + type + "' is not supported (only 'text')");
            for (Iterator<String> it = part.fieldNames(); it.hasNext(); ) {
                String k = it.next();
                if (!k.equals("type") && !k.equals("text")) throw ApiException.invalid(pw + "." + k, "Unrecognized field in " + pw + ": " + k);
            }
            if (!part.path("text").isTextual()) throw ApiException.invalid(pw + ".text", pw + ".text must be a string");
            if (!sb.isEmpty()) sb.append('\n');
            sb.append(part.get("text").asText());
        }
        return sb.toString();
    }
}
