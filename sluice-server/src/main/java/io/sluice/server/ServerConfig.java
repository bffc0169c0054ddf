package io.sluice.server;

import java.time.Duration;
import java.util.function.Consumer;

/**
 * How the HTTP server listens and what it accepts.
 *
 * @param host                    interface to bind (default 127.0.0.1: loopback only)
 * @param port                    TCP port; 0 picks a free one ({@link SluiceServer#port()} tells which)
 * @param alias                   model id clients send and /v1/models lists; null = the model file's name
 * @param apiKey                  when set, every /v1 request needs {@code Authorization: Bearer <apiKey>}
 * @param maxBodyBytes            largest accepted request body
 * @param chatTemplate            Jinja chat template overriding the model's; null = the model's own (ChatML if it has none)
 * @param idleTimeout             how long a connection may stay silent (keep-alive between requests, a stalled body);
 *                                a generation in progress is never cut by it
 * @param corsOrigin              browser origin allowed to call the API cross-origin ("*" for any; comma-separated for several);
 *                                null = no CORS headers at all, so browsers keep other sites' pages out
 * @param headerTimeout           longest time from a request's first byte until its headers are complete
 * @param maxConnections          open connections at most; more are refused with 503
 * @param maxConnectionsPerClient open connections from one client address at most; more are refused with 429
 * @param metricsPublic           /metrics answers without the API key (it always does when there is no key)
 */
public record ServerConfig(
        String host,
        int port,
        String alias,
        String apiKey,
        long maxBodyBytes,
        String chatTemplate,
        Duration idleTimeout,
        String corsOrigin,
        Duration headerTimeout,
        int maxConnections,
        int maxConnectionsPerClient,
        boolean metricsPublic) {

    public static final long DEFAULT_MAX_BODY_BYTES = 8L << 20;
    public static final Duration DEFAULT_IDLE_TIMEOUT = Duration.ofSeconds(15);
    public static final Duration DEFAULT_HEADER_TIMEOUT = Duration.ofSeconds(10);
    public static final int DEFAULT_MAX_CONNECTIONS = 1024;
    public static final int DEFAULT_MAX_CONNECTIONS_PER_CLIENT = 128;

    public ServerConfig {
        if (host == null || host.isBlank()) host = "127.0.0.1";
        if (port < 0 || port > 65535) throw new IllegalArgumentException("--port must be in 0..65535 (got " + port + ")");
        if (maxBodyBytes <= 0) throw new IllegalArgumentException("max body size must be positive");
        if (apiKey != null && apiKey.isBlank()) apiKey = null;
        if (alias != null && alias.isBlank()) alias = null;
        if (corsOrigin != null && corsOrigin.isBlank()) corsOrigin = null;
        if (idleTimeout == null) idleTimeout = DEFAULT_IDLE_TIMEOUT;
        if (headerTimeout == null) headerTimeout = DEFAULT_HEADER_TIMEOUT;
        positive("--idle-timeout", idleTimeout);
        positive("--header-timeout", headerTimeout);
        if (maxConnections <= 0) throw new IllegalArgumentException("--max-connections must be at least 1 (got " + maxConnections + ")");
        if (maxConnectionsPerClient <= 0) {
            throw new IllegalArgumentException("--max-connections-per-client must be at least 1 (got " + maxConnectionsPerClient + ")");
        }
    }

    private static void positive(String flag, Duration d) {
        if (d.isNegative() || d.isZero()) throw new IllegalArgumentException(flag + " must be positive (got " + d.toMillis() + " ms)");
    }

    public static ServerConfig defaults() {
        return new ServerConfig("127.0.0.1", 8080, null, null, DEFAULT_MAX_BODY_BYTES, null, null, null, null,
                DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS_PER_CLIENT, false);
    }

    /** Whether GET /metrics needs the API key. */
    boolean metricsNeedKey() {
        return apiKey != null && !metricsPublic;
    }

    public ServerConfig withHost(String h) {
        return edit(b -> b.host = h);
    }

    public ServerConfig withPort(int p) {
        return edit(b -> b.port = p);
    }

    public ServerConfig withAlias(String a) {
        return edit(b -> b.alias = a);
    }

    public ServerConfig withApiKey(String k) {
        return edit(b -> b.apiKey = k);
    }

    public ServerConfig withMaxBodyBytes(long n) {
        return edit(b -> b.maxBodyBytes = n);
    }

    public ServerConfig withChatTemplate(String t) {
        return edit(b -> b.chatTemplate = t);
    }

    public ServerConfig withIdleTimeout(Duration d) {
        return edit(b -> b.idleTimeout = d);
    }

    public ServerConfig withCorsOrigin(String o) {
        return edit(b -> b.corsOrigin = o);
    }

    public ServerConfig withHeaderTimeout(Duration d) {
        return edit(b -> b.headerTimeout = d);
    }

    public ServerConfig withMetricsPublic(boolean p) {
        return edit(b -> b.metricsPublic = p);
    }

    public ServerConfig withMaxConnections(int total, int perClient) {
        return edit(b -> {
            b.maxConnections = total;
            b.maxConnectionsPerClient = perClient;
        });
    }

    /** A copy with {@code change} applied: the one place besides the record header that lists every component. */
    private ServerConfig edit(Consumer<Copy> change) {
        Copy c = new Copy(this);
        change.accept(c);
        return new ServerConfig(c.host, c.port, c.alias, c.apiKey, c.maxBodyBytes, c.chatTemplate, c.idleTimeout, c.corsOrigin,
                c.headerTimeout, c.maxConnections, c.maxConnectionsPerClient, c.metricsPublic);
    }

    private static final class Copy {
        String host;
        int port;
        String alias;
        String apiKey;
        long maxBodyBytes;
        String chatTemplate;
        Duration idleTimeout;
        String corsOrigin;
        Duration headerTimeout;
        int maxConnections;
        int maxConnectionsPerClient;
        boolean metricsPublic;

        Copy(ServerConfig c) {
            host = c.host;
            port = c.port;
            alias = c.alias;
            apiKey = c.apiKey;
            maxBodyBytes = c.maxBodyBytes;
            chatTemplate = c.chatTemplate;
            idleTimeout = c.idleTimeout;
            corsOrigin = c.corsOrigin;
            headerTimeout = c.headerTimeout;
            maxConnections = c.maxConnections;
            maxConnectionsPerClient = c.maxConnectionsPerClient;
            metricsPublic = c.metricsPublic;
        }
    }
}
