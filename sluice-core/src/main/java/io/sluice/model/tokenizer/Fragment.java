package io.sluice.model.tokenizer;

/**
 * A piece of the input after special-token partitioning: either raw text still to be tokenized,
 * or a special token already recognised. Exactly one of {@code text} / {@code token >= 0} is set.
 */
record Fragment(String text, int token) {
    static Fragment text(String s) {
        return new Fragment(s, -1);
    }

    static Fragment token(int id) {
        return new Fragment(null, id);
    }

    boolean isText() {
        return text != null;
    }
}
