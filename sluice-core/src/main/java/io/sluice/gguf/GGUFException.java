package io.sluice.gguf;

/** A GGUF file that cannot be read: the message names the file and the problem. */
public class GGUFException extends RuntimeException {
    public GGUFException(String message) {
        super(message);
    }

    public GGUFException(String message, Throwable cause) {
        super(message, cause);
    }
}
