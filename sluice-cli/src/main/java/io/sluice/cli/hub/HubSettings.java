package io.sluice.cli.hub;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Function;

/**
 * Where the Hub is and who we are, from the variables huggingface_hub reads: {@code HF_ENDPOINT} (a
 * mirror), {@code HF_TOKEN} (else the token file {@code huggingface-cli login} writes), {@code HF_HUB_OFFLINE},
 * and the cache location (see {@link HubCache#fromEnvironment}). A token given on the command line wins.
 */
public record HubSettings(String endpoint, String token, HubCache cache, boolean offline) {

    public static HubSettings fromEnvironment(Function<String, String> env, String tokenOption) {
        String endpoint = env.apply("HF_ENDPOINT");
        String token = tokenOption;
        if (token == null || token.isBlank()) token = env.apply("HF_TOKEN");
        if (token == null || token.isBlank()) token = env.apply("HUGGING_FACE_HUB_TOKEN");
        if (token == null || token.isBlank()) token = tokenFile(env);
        String off = env.apply("HF_HUB_OFFLINE");
        boolean offline = off != null && (off.equals("1") || off.equalsIgnoreCase("true") || off.equalsIgnoreCase("yes") || off.equalsIgnoreCase("on"));
        return new HubSettings(endpoint, token, HubCache.fromEnvironment(env), offline);
    }

    public static HubSettings fromEnvironment(String tokenOption) {
        return fromEnvironment(System::getenv, tokenOption);
    }

    public HubClient client() {
        return new HubClient(endpoint, token);
    }

    /** The token huggingface-cli login saved: HF_TOKEN_PATH, else HF_HOME/token, else ~/.cache/huggingface/token. */
    private static String tokenFile(Function<String, String> env) {
        Path p;
        String explicit = env.apply("HF_TOKEN_PATH");
        String home = env.apply("HF_HOME");
        String xdg = env.apply("XDG_CACHE_HOME");
        if (explicit != null && !explicit.isBlank()) p = Path.of(explicit);
        else if (home != null && !home.isBlank()) p = Path.of(home, "token");
        else if (xdg != null && !xdg.isBlank()) p = Path.of(xdg, "huggingface", "token");
        else p = Path.of(System.getProperty("user.home"), ".cache", "huggingface", "token");
        try {
            if (!Files.isRegularFile(p) || Files.size(p) > 4096) return null;
            String t = Files.readString(p, StandardCharsets.UTF_8).strip();
            return t.isEmpty() ? null : t;
        } catch (IOException | RuntimeException e) {
            return null; // unreadable: as if absent (public repositories need no token)
        }
    }
}
