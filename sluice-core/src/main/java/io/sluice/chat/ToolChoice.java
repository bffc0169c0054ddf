package io.sluice.chat;

/**
 * What a chat request lets the model do with its tools (OpenAI's {@code tool_choice} and
 * {@code parallel_tool_calls}). A request that offers no tools, or says "none", has no ToolChoice (null).
 *
 * @param function the function a named choice forces, else null
 */
public record ToolChoice(Mode mode, String function, boolean parallel) {
    public enum Mode {
        /** The model may call tools or answer. */
        AUTO,
        /** The model must call one or more tools. */
        REQUIRED,
        /** The model must call {@code function}. */
        NAMED
    }

    public ToolChoice {
        if (mode == null) throw new IllegalArgumentException("tool choice without a mode");
        if ((mode == Mode.NAMED) != (function != null)) throw new IllegalArgumentException("a function is named exactly when the mode is NAMED");
    }

    public static ToolChoice auto(boolean parallel) {
        return new ToolChoice(Mode.AUTO, null, parallel);
    }

    public static ToolChoice required(boolean parallel) {
        return new ToolChoice(Mode.REQUIRED, null, parallel);
    }

    public static ToolChoice named(String function) {
        return new ToolChoice(Mode.NAMED, function, false);
    }

    /** The output must be calls (constrained by the tools' grammar). */
    public boolean forced() {
        return mode != Mode.AUTO;
    }
}
