package io.sluice.engine;

/** A request the engine refuses: the message is meant for the client. */
public class EngineException extends RuntimeException {
    public enum Kind { INVALID_REQUEST, CONTEXT_TOO_LONG, QUEUE_FULL, SHUTDOWN }

    private final Kind kind;

    public EngineException(Kind kind, String message) {
        super(message);
        this.kind = kind;
    }

    public Kind kind() {
        return kind;
    }
}
