package io.sluice.template;

/**
 * A render's output with the provenance of its characters: {@code text} is exactly what
 * {@link Template#render(java.util.Map)} returns; {@code untrusted} lists the char ranges
 * {@code [start, end)} (as {@code s0, e0, s1, e1, ...}, sorted and disjoint; empty when none) whose text came
 * from untrusted variables - directly or through anything the template computed from them - rather than
 * from the template's own literals and trusted variables. A prompt tokenizer must not parse special tokens
 * there: that text is the user's, and {@code <|im_end|>} in it is just characters.
 */
public record Rendered(String text, int[] untrusted) {
    public Rendered {
        untrusted = untrusted == null ? new int[0] : untrusted.clone();
    }

    /** Whether any char in {@code [from, to)} is untrusted. */
    public boolean anyUntrusted(int from, int to) {
        return Taint.any(untrusted.length == 0 ? null : untrusted, from, to);
    }

    /** The ranges (a copy). */
    @Override
    public int[] untrusted() {
        return untrusted.clone();
    }
}
