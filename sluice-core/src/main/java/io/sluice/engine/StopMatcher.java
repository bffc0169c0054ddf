package io.sluice.engine;

import java.util.List;

/**
 * Cuts generated text at the first stop string. Text that could still become the start of a
 * stop string is held back until the next piece decides it; the stop string itself is never
 * released.
 */
final class StopMatcher {
    private final List<String> stops;
    private final int maxLen;
    /** Text received but not released yet (a possible stop-string start). */
    private final StringBuilder held = new StringBuilder();
    private boolean stopped;

    StopMatcher(List<String> stops) {
        this.stops = stops.stream().filter(s -> !s.isEmpty()).toList();
        this.maxLen = this.stops.stream().mapToInt(String::length).max().orElse(0);
    }

    boolean stopped() {
        return stopped;
    }

    /** Adds newly decoded text; returns the text that is safe to release now. */
    String push(String text) {
        if (stopped) return "";
        if (stops.isEmpty()) return text;
        held.append(text);
        int at = -1;
        for (String s : stops) {
            int i = held.indexOf(s);
            if (i >= 0 && (at < 0 || i < at)) at = i;
        }
        if (at >= 0) {
            stopped = true;
            String out = held.substring(0, at);
            held.setLength(0);
            return out;
        }
        int keep = heldSuffix();
        String out = held.substring(0, held.length() - keep);
        held.delete(0, held.length() - keep);
        return out;
    }

    /** Releases whatever is held (the generation ended for another reason). */
    String flush() {
        String out = stopped ? "" : held.toString();
        held.setLength(0);
        return out;
    }

    /** Length of the longest suffix of held that is a proper prefix of some stop string. */
    private int heldSuffix() {
        String h = held.toString();
        int n = h.length();
        for (int len = Math.min(n, maxLen - 1); len > 0; len--) {
            for (String s : stops) {
                if (len < s.length() && s.regionMatches(0, h, n - len, len)) return len;
            }
        }
        return 0;
    }
}
