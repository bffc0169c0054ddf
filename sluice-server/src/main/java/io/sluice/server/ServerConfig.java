package io.sluice.server;

import java.time.Duration;

/**
 * How the HTTP server listens and what it accepts.
 *
 * @param host          interface to bind (default 127.0.0.1: loopback only)
 * @param port          TCP port; 0 picks a free one ({@link SluiceServer#port()} tells which)
 * @param alias         model id clients send and /v1/models lists; null = the model file's name
 * @param apiKey        when set, every /v1 request needs {@code Authorization: Bearer <apiKey>}
 * @param maxBodyBytes  largest accepted request body
 * @param chatTemplate  Jinja chat template overriding the model's; null = the model's own (ChatML if it has none)
 * @param idleTimeout   how long an idle connection is kept open
 * @param corsOrigin    browser origin allowed to call the API cross-origin ("*" for any; comma-separated for several);
 *                      null = no CORS headers at all, so browsers keep other sites' pages out
 */
public record ServerConfig(
        String host,
        int port,
        String alias,
        String apiKey,
        long maxBodyBytes,
        String chatTemplate,
        Duration idleTimeout,
        String corsOrigin) {

    public static final long DEFAULT_MAX_BODY_BYTES = 8L << 20;

    public ServerConfig {
        if (host == null || host.isBlank()) host = "127.0.0.1";
        if (port < 0 || port > 65535) throw new IllegalArgumentException("--port must be in 0..65535");
        if (maxBodyBytes <= 0) throw new IllegalArgumentException("max body size must be positive");
        if (apiKey != null && apiKey.isBlank()) apiKey = null;
        if (alias != null && alias.isBlank()) alias = null;
        if (idleTimeout == null) idleTimeout = Duration.ofMinutes(10);
        if (idleTimeout.isNegative() || idleTimeout.isZero()) throw new IllegalArgumentException("idle timeout must be positive");
        if (corsOrigin != null && corsOrigin.isBlank()) corsOrigin = null;
    }

    public static ServerConfig defaults() {
        return new ServerConfig("127.0.0.1", 8080, null, null, DEFAULT_MAX_BODY_BYTES, null, null, null);
    }

    public ServerConfig withHost(String h) {
        return new ServerConfig(h, port, alias, apiKey, maxBodyBytes, chatTemplate, idleTimeout, corsOrigin);
    }

    public ServerConfig withPort(int p) {
        return new ServerConfig(host, p, alias, apiKey, maxBodyBytes, chatTemplate, idleTimeout, corsOrigin);
    }

    public ServerConfig withAlias(String a) {
        return new ServerConfig(host, port, a, apiKey, maxBodyBytes, chatTemplate, idleTimeout, corsOrigin);
    }

    public ServerConfig withApiKey(String k) {
        return new ServerConfig(host, port, alias, k, maxBodyBytes, chatTemplate, idleTimeout, corsOrigin);
    }

    public ServerConfig withMaxBodyBytes(long b) {
        return new ServerConfig(host, port, alias, apiKey, b, chatTemplate, idleTimeout, corsOrigin);
    }

    public ServerConfig withChatTemplate(String t) {
        return new ServerConfig(host, port, alias, apiKey, maxBodyBytes, t, idleTimeout, corsOrigin);
    }

    public ServerConfig withIdleTimeout(Duration d) {
        return new ServerConfig(host, port, alias, apiKey, maxBodyBytes, chatTemplate, d, corsOrigin);
    }

    public ServerConfig withCorsOrigin(String o) {
        return new ServerConfig(host, port, alias, apiKey, maxBodyBytes, chatTemplate, idleTimeout, o);
    }
}
