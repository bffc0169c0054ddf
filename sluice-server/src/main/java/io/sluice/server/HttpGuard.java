package io.sluice.server;

import org.eclipse.jetty.http.HttpCompliance;
import org.eclipse.jetty.http.HttpParser;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.io.AbstractConnection;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnection;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.BufferUtil;
import org.eclipse.jetty.util.Callback;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * Connection-level defences against slow and greedy clients, below Javalin:
 * <ul>
 * <li>a cap on open connections per client address and in total: a connection beyond either is answered
 *     at once with a 429 (per client) or 503 (total) error object and closed, before any request is read;</li>
 * <li>a header deadline: from the first byte of a request until its headers are complete at most
 *     {@link ServerConfig#headerTimeout()} may pass (Jetty's idle timeout alone is reset by every byte, so a
 *     header trickled every few seconds would hold the connection forever); late requests get a 408.</li>
 * </ul>
 * Only the header phase is timed: once a request is being handled (a generation streaming tokens
 * included) the guard leaves the connection alone.
 */
final class HttpGuard {
    private final ServerConfig cfg;
    private final Consumer<String> refused;
    private final ConcurrentHashMap<InetAddress, Integer> perClient = new ConcurrentHashMap<>();
    private final AtomicInteger total = new AtomicInteger();
    private final Set<Guarded> open = ConcurrentHashMap.newKeySet();
    private final ScheduledExecutorService sweeper;

    /** refused is told why each refused or timed-out connection was ("per_client", "total", "header_timeout"). */
    HttpGuard(ServerConfig cfg, Consumer<String> refused) {
        this.cfg = cfg;
        this.refused = refused;
        this.sweeper = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().name("sluice-http-guard").daemon().factory());
        long period = Math.clamp(cfg.headerTimeout().toMillis() / 4, 50, 1000);
        sweeper.scheduleWithFixedDelay(this::sweep, period, period, TimeUnit.MILLISECONDS);
    }

    /** The HTTP/1.1 connector Javalin serves on, with these limits. */
    ServerConnector connector(Server server, HttpConfiguration http) {
        ServerConnector sc = new ServerConnector(server, new Factory(http));
        sc.setHost(cfg.host());
        sc.setPort(cfg.port());
        sc.setIdleTimeout(cfg.idleTimeout().toMillis());
        return sc;
    }

    void stop() {
        sweeper.shutdownNow();
    }

    /** Open connections counted against the caps (for tests and metrics). */
    int openConnections() {
        return total.get();
    }

    private void sweep() {
        long now = System.nanoTime(), limit = cfg.headerTimeout().toNanos();
        for (Guarded c : open) {
            long started = c.parser.headerStart;
            if (started != 0 && now - started > limit) c.headersTooSlow();
        }
    }

    /** Counts a new connection from a; null when admitted, else the refusal to send. */
    private ApiException admit(InetAddress a) {
        int n = perClient.merge(a, 1, Integer::sum);
        int t = total.incrementAndGet();
        if (n > cfg.maxConnectionsPerClient()) {
            release(a);
            refused.accept("per_client");
            return new ApiException(429, "rate_limit_error", "Too many connections from " + a.getHostAddress() + " (at most "
                    + cfg.maxConnectionsPerClient() + " at once); close idle ones or reuse them", null, "too_many_connections");
        }
        if (t > cfg.maxConnections()) {
            release(a);
            refused.accept("total");
            return new ApiException(503, "server_error", "The server has reached its limit of " + cfg.maxConnections()
                    + " open connections; retry shortly", null, "too_many_connections");
        }
        return null;
    }

    private void release(InetAddress a) {
        perClient.computeIfPresent(a, (k, v) -> v <= 1 ? null : v - 1);
        total.decrementAndGet();
    }

    private static InetAddress address(EndPoint ep) {
        return ep.getRemoteSocketAddress() instanceof InetSocketAddress isa && isa.getAddress() != null
                ? isa.getAddress() : InetAddress.getLoopbackAddress();
    }

    /** A complete HTTP/1.1 response with an OpenAI error object, for connections refused outside any request. */
    static ByteBuffer response(ApiException e) {
        byte[] body = SluiceServer.errorJson(e).toString().getBytes(StandardCharsets.UTF_8);
        String head = "HTTP/1.1 " + e.status() + " " + HttpStatus.getMessage(e.status()) + "\r\n"
                + "Content-Type: application/json\r\nContent-Length: " + body.length + "\r\nConnection: close\r\n"
                + (e.status() == 429 || e.status() == 503 ? "Retry-After: 1\r\n" : "") + "\r\n";
        ByteBuffer b = ByteBuffer.allocate(head.length() + body.length);
        b.put(head.getBytes(StandardCharsets.ISO_8859_1)).put(body).flip();
        return b;
    }

    private final class Factory extends HttpConnectionFactory {
        Factory(HttpConfiguration http) {
            super(http);
        }

        @Override
        public Connection newConnection(Connector connector, EndPoint endPoint) {
            InetAddress a = address(endPoint);
            ApiException refusal = admit(a);
            if (refusal != null) return configure(new Refused(endPoint, connector, response(refusal)), connector, endPoint);
            Guarded conn = new Guarded(getHttpConfiguration(), connector, endPoint, isRecordHttpComplianceViolations(), a);
            conn.setUseInputDirectByteBuffers(isUseInputDirectByteBuffers());
            conn.setUseOutputDirectByteBuffers(isUseOutputDirectByteBuffers());
            return configure(conn, connector, endPoint);
        }
    }

    /** Jetty's HTTP/1.1 connection, counted per client and with its header phase timed. */
    private final class Guarded extends HttpConnection {
        private final InetAddress client;
        private TimedParser parser; // set by newHttpParser, which HttpConnection's constructor calls

        Guarded(HttpConfiguration config, Connector connector, EndPoint endPoint, boolean recordComplianceViolations, InetAddress client) {
            super(config, connector, endPoint, recordComplianceViolations);
            this.client = client;
        }

        @Override
        protected HttpParser newHttpParser(HttpCompliance compliance) {
            HttpConfiguration http = getHttpConfiguration();
            parser = new TimedParser(newRequestHandler(), http.getRequestHeaderSize(), compliance);
            parser.setHeaderCacheSize(http.getHeaderCacheSize());
            // Jetty caches header values per connection and by default matches them case-insensitively:
            // "Authorization: Bearer KEY" would then also admit "bearer key" on the same connection.
            parser.setHeaderCacheCaseSensitive(true);
            return parser;
        }

        @Override
        public void onOpen() {
            open.add(this);
            super.onOpen();
        }

        @Override
        public void onClose(Throwable cause) {
            if (open.remove(this)) release(client);
            super.onClose(cause);
        }

        /** The headers missed their deadline: answer 408, ignore whatever still trickles in, close. */
        void headersTooSlow() {
            if (parser.expired) return;
            parser.expired = true;
            parser.headerStart = 0;
            refused.accept("header_timeout");
            EndPoint ep = getEndPoint();
            ApiException e = JsonErrorHandler.protocolError(408, "the request headers took longer than "
                    + cfg.headerTimeout().toMillis() + " ms");
            // Half-close after the answer so the client can read it; the short idle timeout then closes the rest.
            ep.setIdleTimeout(Math.min(ep.getIdleTimeout(), 2000));
            try {
                ep.write(Callback.from(ep::shutdownOutput, x -> ep.close()), response(e));
            } catch (RuntimeException writePending) {
                ep.close();
            }
        }
    }

    /** Notes when a request's first byte arrives and when its headers are complete. */
    private static final class TimedParser extends HttpParser {
        /** System.nanoTime() of the current request's first byte while its headers are incomplete, else 0. */
        volatile long headerStart;
        volatile boolean expired;

        TimedParser(RequestHandler handler, int maxHeaderBytes, HttpCompliance compliance) {
            super(handler, maxHeaderBytes, compliance);
        }

        @Override
        public boolean parseNext(ByteBuffer buffer) {
            if (expired) { // already answered 408: drop the rest
                buffer.position(buffer.limit());
                return false;
            }
            if (headerStart == 0 && buffer.hasRemaining() && inHeaders()) headerStart = System.nanoTime() | 1;
            boolean handle = super.parseNext(buffer);
            if (!inHeaders()) headerStart = 0;
            return handle;
        }

        private boolean inHeaders() {
            return getState().ordinal() <= State.HEADER.ordinal();
        }
    }

    /** A connection over a cap: answers the refusal, reads and drops what the client sends, closes. */
    private static final class Refused extends AbstractConnection {
        private final ByteBuffer response;

        Refused(EndPoint endPoint, Connector connector, ByteBuffer response) {
            super(endPoint, connector.getExecutor());
            this.response = response;
        }

        @Override
        public void onOpen() {
            super.onOpen();
            EndPoint ep = getEndPoint();
            ep.setIdleTimeout(2000);
            // Closing with the request unread would reset the connection and could destroy the answer:
            // half-close, drain what arrives, close on EOF or idle.
            ep.write(Callback.from(() -> {
                ep.shutdownOutput();
                fillInterested();
            }, x -> ep.close()), response);
        }

        @Override
        public void onFillable() {
            ByteBuffer buf = BufferUtil.allocate(4096);
            try {
                int n;
                while ((n = getEndPoint().fill(buf)) > 0) BufferUtil.clear(buf);
                if (n < 0) getEndPoint().close();
                else fillInterested();
            } catch (IOException e) {
                getEndPoint().close();
            }
        }
    }
}
