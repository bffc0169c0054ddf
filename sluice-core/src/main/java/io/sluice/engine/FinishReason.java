package io.sluice.engine;

/** Why a generation ended (OpenAI's finish_reason for the first two). */
public enum FinishReason {
    /** An end-of-generation token or a stop string. */
    STOP,
    /** max tokens reached, or the context is full. */
    LENGTH,
    /** Cancelled by the caller (e.g. the client disconnected). */
    CANCELLED,
    /** The engine failed this request. */
    ERROR
}
