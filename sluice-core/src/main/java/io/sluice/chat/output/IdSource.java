package io.sluice.chat.output;

import java.security.SecureRandom;

/** Tool-call ids as OpenAI writes them: "call_" and 24 random letters and digits. */
@FunctionalInterface
public interface IdSource {
    String next();

    SecureRandom RANDOM = new SecureRandom();
    String ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    static IdSource random() {
        return () -> {
            StringBuilder sb = new StringBuilder("call_");
            for (int i = 0; i < 24; i++) sb.append(ALPHABET.charAt(RANDOM.nextInt(ALPHABET.length())));
            return sb.toString();
        };
    }

    /** Mistral's: 9 random letters and digits (its templates refuse any other id when the call comes back). */
    static IdSource nineAlphanumeric() {
        return () -> {
            StringBuilder sb = new StringBuilder();
            for (int i = 0; i < 9; i++) sb.append(ALPHABET.charAt(RANDOM.nextInt(ALPHABET.length())));
            return sb.toString();
        };
    }

    /** call_0, call_1, ... (tests). */
    static IdSource counting() {
        int[] n = {0};
        return () -> "call_" + n[0]++;
    }
}
