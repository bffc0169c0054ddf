package io.sluice.chat.output;

/**
 * A piece of a chat model's answer, as an {@link OutputParser} finds it in the generated text: plain
 * content, reasoning (the model's thinking), or a complete tool call. Streamed answers send these as
 * OpenAI's deltas; a whole answer is their concatenation ({@link ChatOutput}).
 */
public sealed interface OutputDelta {
    record Content(String text) implements OutputDelta {
    }

    record Reasoning(String text) implements OutputDelta {
    }

    /**
     * A tool call whose arguments are valid JSON and whose function is one of the request's tools.
     *
     * @param index     0, 1, ... in the order the model made them (OpenAI's streamed tool_calls index)
     * @param arguments the arguments as JSON text, as the model wrote them
     */
    record Call(int index, String id, String name, String arguments) implements OutputDelta {
    }
}
