package io.sluice.server;

/**
 * What a chat request lets the model do with its tools ({@code tool_choice}, {@code parallel_tool_calls}).
 * Requests with tool_choice "none" or without tools have none (their tools are not offered).
 *
 * @param function the function a named choice forces, else null
 */
record ToolChoice(Mode mode, String function, boolean parallel) {
    enum Mode {
        /** The model may call tools or answer. */
        AUTO,
        /** The model must call one or more tools. */
        REQUIRED,
        /** The model must call {@code function}. */
        NAMED
    }

    /** The output must be calls (constrained by the tools' grammar). */
    boolean forced() {
        return mode != Mode.AUTO;
    }
}
