package io.sluice.cli.hub;

import java.util.Locale;

/**
 * A model on the Hugging Face Hub as users write it: {@code org/name[:QUANT]}, the convention of
 * {@code llama-server -hf} and Ollama's {@code hf.co/org/name:QUANT}. Those prefixes and a pasted
 * {@code https://huggingface.co/org/name} are accepted too. {@code quant} is a quantization tag or a
 * file name in the repository; null when none was given.
 */
public record HubRef(String repo, String quant) {
    /** The quant pulled when none is named (llama.cpp's choice: small and good). */
    public static final String DEFAULT_QUANT = "Q4_K_M";

    public HubRef {
        if (!validRepo(repo)) throw new IllegalArgumentException("not a Hugging Face repository id: '" + repo + "' (expected org/name, e.g. bartowski/Qwen2.5-0.5B-Instruct-GGUF)");
        if (quant != null && !quant.matches("[A-Za-z0-9_.+-]{1,200}")) throw new IllegalArgumentException("not a quantization tag: '" + quant + "' (expected e.g. Q4_K_M, Q8_0, F16)");
    }

    public static HubRef parse(String s) {
        String t = s.strip();
        for (String prefix : new String[]{"https://", "http://"}) {
            if (t.toLowerCase(Locale.ROOT).startsWith(prefix)) t = t.substring(prefix.length());
        }
        for (String host : new String[]{"huggingface.co/", "hf.co/"}) {
            if (t.toLowerCase(Locale.ROOT).startsWith(host)) t = t.substring(host.length());
        }
        int colon = t.indexOf(':');
        String repo = colon < 0 ? t : t.substring(0, colon);
        String quant = colon < 0 ? null : t.substring(colon + 1);
        if (quant != null && (quant.isEmpty() || quant.equalsIgnoreCase("latest"))) quant = null; // Ollama's default tag
        return new HubRef(repo, quant);
    }

    /** The folder name of this repository in the hub cache: {@code models--org--name}. */
    public String cacheFolder() {
        return "models--" + repo.replace("/", "--");
    }

    /** Repository ids as the Hub allows them: org/name, letters, digits, '_', and '.', '-' only between them. */
    static boolean validRepo(String repo) {
        if (repo == null || repo.isEmpty() || repo.length() > 256) return false;
        int slashes = 0;
        boolean afterSpecial = true;
        for (int i = 0; i < repo.length(); i++) {
            char c = repo.charAt(i);
            if (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
                afterSpecial = false;
            } else if (c == '/' || c == '.' || c == '-') {
                if (afterSpecial) return false;
                if (c == '/') slashes++;
                afterSpecial = true;
            } else {
                return false;
            }
        }
        return !afterSpecial && slashes == 1;
    }

    @Override
    public String toString() {
        return quant == null ? repo : repo + ":" + quant;
    }
}
