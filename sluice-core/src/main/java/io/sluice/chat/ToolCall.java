package io.sluice.chat;

import java.util.Map;

/**
 * A tool call in an assistant message, as chat templates receive it (Hugging Face's shape):
 * {@code {"id": id, "type": "function", "function": {"name": name, "arguments": arguments}}}.
 *
 * @param id        the call id (null when the client gave none; then the template sees no "id" key)
 * @param name      the function name
 * @param arguments the arguments: normally a JSON object as a Map (templates expect an object and
 *                  often render it with tojson); a String only when it was not JSON
 */
public record ToolCall(String id, String name, Object arguments) {
    public ToolCall {
        if (name == null) throw new IllegalArgumentException("tool call without a function name");
        if (arguments == null) arguments = Map.of();
    }

    public static ToolCall of(String id, String name, Map<String, ?> arguments) {
        return new ToolCall(id, name, arguments);
    }
}
