package io.sluice.cli.hub;

import java.io.IOException;

/** A Hub request or download that failed; the message says what to do about it. */
public class HubException extends IOException {
    public HubException(String message) {
        super(message);
    }

    public HubException(String message, Throwable cause) {
        super(message, cause);
    }

    /** The Hub could not be reached at all (no network, DNS, refused): the cache may still serve. */
    public static final class Unreachable extends HubException {
        public Unreachable(String message, Throwable cause) {
            super(message, cause);
        }
    }
}
