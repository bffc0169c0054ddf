package io.sluice.server;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.javalin.Javalin;
import io.javalin.http.Context;
import io.javalin.http.HttpResponseException;
import io.sluice.engine.Engine;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.ServerConnector;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Objects;

/**
 * The OpenAI-compatible HTTP server. {@link #start} binds the port right away; until an engine is given
 * (here or later with {@link #setEngine}) /health answers 503 and the API 503, so a CLI can listen first
 * and load the model afterwards. Endpoints: POST /v1/chat/completions, POST /v1/completions,
 * GET /v1/models, GET /v1/models/{id}, POST /apply-template (the chat prompt a request would produce),
 * GET /health, GET /metrics (Prometheus text). POST bodies must be application/json (else 415), so a web
 * page cannot send one as a "simple" cross-origin request; CORS headers only with {@link ServerConfig#corsOrigin}.
 */
public final class SluiceServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(SluiceServer.class);

    /** Longest pause allowed while a request body arrives (slow-body clients), and the slowest accepted body rate. */
    static final java.time.Duration BODY_IDLE = java.time.Duration.ofSeconds(30);
    static final long MIN_BODY_BYTES_PER_SECOND = 512;

    static final ObjectMapper JSON = new ObjectMapper()
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    private final ServerConfig cfg;
    private final ServerMetrics metrics;
    private final PromptRenderer renderer = new PromptRenderer();
    private final Completions completions;
    private final long startedAt = System.currentTimeMillis() / 1000;
    private final byte[] expectedAuth;
    private volatile ModelState state;
    private Javalin app;

    private SluiceServer(ServerConfig cfg) {
        this.cfg = Objects.requireNonNull(cfg, "cfg");
        this.metrics = new ServerMetrics(() -> state == null ? null : state.engine());
        this.completions = new Completions(metrics, renderer);
        this.expectedAuth = cfg.apiKey() == null ? null : ("Bearer " + cfg.apiKey()).getBytes(StandardCharsets.UTF_8);
    }

    /** Starts listening; {@code engine} may be null (set it later with {@link #setEngine}). */
    public static SluiceServer start(Engine engine, ServerConfig cfg) {
        SluiceServer s = new SluiceServer(cfg);
        if (engine != null) s.setEngine(engine);
        s.listen();
        return s;
    }

    public static SluiceServer start(ServerConfig cfg) {
        return start(null, cfg);
    }

    /** Makes the server ready: /health turns 200 and the API serves this engine's model. */
    public void setEngine(Engine engine) {
        this.state = ModelState.of(Objects.requireNonNull(engine, "engine"), cfg);
        LOG.info("serving model '{}' (context {} tokens)", state.alias(), state.contextLength());
    }

    /** The bound TCP port (the real one when the config asked for 0). */
    public int port() {
        return app.port();
    }

    public String baseUrl() {
        String h = cfg.host().contains(":") ? "[" + cfg.host() + "]" : cfg.host();
        return "http://" + h + ":" + port();
    }

    /** The model id clients must use, or null before the engine is set. */
    public String modelId() {
        ModelState s = state;
        return s == null ? null : s.alias();
    }

    /** Stops listening and cancels running generations; the engine stays open (its owner closes it). */
    public void stop() {
        completions.cancelAll();
        app.stop();
        renderer.close();
    }

    @Override
    public void close() {
        stop();
    }

    private void listen() {
        app = Javalin.create(c -> {
            c.showJavalinBanner = false;
            c.useVirtualThreads = true;
            c.http.maxRequestSize = cfg.maxBodyBytes();
            c.http.prefer405over404 = true;
            c.router.ignoreTrailingSlashes = true;
            // A body trickled in a byte at a time is refused (408) instead of holding a connection for hours.
            c.jetty.modifyHttpConfiguration(h -> h.setMinRequestDataRate(MIN_BODY_BYTES_PER_SECOND));
            if (cfg.corsOrigin() != null) {
                c.bundledPlugins.enableCors(cors -> cors.addRule(rule -> {
                    String[] origins = cfg.corsOrigin().split(",");
                    if (cfg.corsOrigin().strip().equals("*")) rule.anyHost();
                    else rule.allowHost(origins[0].strip(), java.util.Arrays.stream(origins).skip(1).map(String::strip).toArray(String[]::new));
                }));
            }
        });
        app.before(this::requireJsonBody);
        app.before("/v1/*", this::authorize);
        app.before("/apply-template", this::authorize);
        app.get("/health", this::health);
        app.get("/metrics", ctx -> ctx.contentType("text/plain; version=0.0.4; charset=utf-8").result(metrics.scrape()));
        app.get("/v1/models", this::models);
        app.get("/v1/models/{model}", this::model);
        app.post("/v1/chat/completions", ctx -> generate(ctx, true));
        app.post("/v1/completions", ctx -> generate(ctx, false));
        app.post("/apply-template", this::applyTemplate);
        app.exception(ApiException.class, (e, ctx) -> writeError(ctx, e));
        app.exception(HttpResponseException.class, (e, ctx) -> writeError(ctx, fromJavalin(e)));
        app.exception(Exception.class, (e, ctx) -> {
            LOG.error("request {} {} failed", ctx.method(), ctx.path(), e);
            writeError(ctx, new ApiException(500, "server_error", "Internal server error: " + e, null, null));
        });
        app.error(404, ctx -> {
            if (ctx.result() == null || !ctx.result().startsWith("{")) {
                writeError(ctx, new ApiException(404, "invalid_request_error", "Unknown endpoint: " + ctx.method() + " " + ctx.path(), null, "unknown_url"));
            }
        });
        app.error(405, ctx -> writeError(ctx, new ApiException(405, "invalid_request_error", "Method " + ctx.method() + " is not allowed on " + ctx.path(), null, "method_not_allowed")));
        app.after(ctx -> metrics.request(endpointLabel(ctx), ctx.statusCode()));
        app.start(cfg.host(), cfg.port());
        for (Connector c : app.jettyServer().server().getConnectors()) {
            if (c instanceof ServerConnector sc) sc.setIdleTimeout(cfg.idleTimeout().toMillis());
        }
        LOG.info("listening on {}", baseUrl());
    }

    private static String endpointLabel(Context ctx) {
        String p = ctx.path();
        return switch (p) {
            case "/health", "/metrics", "/v1/models", "/v1/chat/completions", "/v1/completions", "/apply-template" -> p;
            default -> p.startsWith("/v1/models/") ? "/v1/models/{model}" : "other";
        };
    }

    /** POST bodies are JSON; anything else (text/plain, forms: what a page can send cross-origin unasked) gets 415. */
    private void requireJsonBody(Context ctx) {
        if (ctx.method() != io.javalin.http.HandlerType.POST) return;
        String type = ctx.header("Content-Type");
        String mime = type == null ? "" : type.split(";", 2)[0].strip().toLowerCase(java.util.Locale.ROOT);
        if (!mime.equals("application/json")) {
            throw new ApiException(415, "invalid_request_error", "Unsupported Content-Type " + (type == null ? "(none)" : "'" + type + "'")
                    + ": request bodies must be application/json", null, "unsupported_media_type");
        }
    }

    private void authorize(Context ctx) {
        if (expectedAuth == null) return;
        String got = ctx.header("Authorization");
        byte[] g = got == null ? new byte[0] : got.strip().getBytes(StandardCharsets.UTF_8);
        if (!MessageDigest.isEqual(g, expectedAuth)) { // constant-time: no key guessing by timing
            throw new ApiException(401, "invalid_request_error",
                    got == null ? "Missing API key: send 'Authorization: Bearer <key>'" : "Incorrect API key provided", null, "invalid_api_key");
        }
    }

    private ModelState ready() {
        ModelState s = state;
        if (s == null) throw new ApiException(503, "server_error", "The model is still loading; retry shortly", null, "model_loading");
        return s;
    }

    private void health(Context ctx) {
        ModelState st = state;
        if (st == null) ctx.status(503).contentType("application/json").result("{\"status\":\"loading\"}");
        else if (!st.engine().isAlive()) ctx.status(503).contentType("application/json").result("{\"status\":\"engine stopped\"}");
        else ctx.status(200).contentType("application/json").result("{\"status\":\"ok\"}");
    }

    private ObjectNode modelObject(ModelState s) {
        ObjectNode m = JSON.createObjectNode();
        m.put("id", s.alias());
        m.put("object", "model");
        m.put("created", startedAt);
        m.put("owned_by", "sluice");
        m.putObject("meta").put("context_length", s.contextLength()).put("vocab_size", s.tokenizer().vocabSize());
        return m;
    }

    private void models(Context ctx) {
        ModelState s = ready();
        ObjectNode out = JSON.createObjectNode();
        out.put("object", "list");
        out.putArray("data").add(modelObject(s));
        ctx.contentType("application/json").result(out.toString());
    }

    private void model(Context ctx) {
        ModelState s = ready();
        String id = ctx.pathParam("model");
        if (!id.equals(s.alias())) throw new ApiException(404, "invalid_request_error", "The model '" + id + "' does not exist", "model", "model_not_found");
        ctx.contentType("application/json").result(modelObject(s).toString());
    }

    private void generate(Context ctx, boolean chat) throws InterruptedException {
        ModelState s = ready();
        JsonNode body = readJson(ctx);
        ParsedRequest p = chat ? s.parser().parseChat(body) : s.parser().parseCompletion(body);
        completions.handle(ctx, s, p);
    }

    /** llama-server's /apply-template: a chat completion request in, {"prompt": the text the model would be given} out. */
    private void applyTemplate(Context ctx) throws InterruptedException {
        ModelState s = ready();
        JsonNode body = readJson(ctx);
        ParsedRequest p = s.parser().parseChat(body);
        ObjectNode out = JSON.createObjectNode();
        out.put("prompt", completions.renderPrompt(s, p.chat()));
        ctx.contentType("application/json").result(out.toString());
    }

    /** Reads at most maxBodyBytes (also for chunked bodies, which carry no Content-Length) and parses JSON. */
    private JsonNode readJson(Context ctx) {
        long max = cfg.maxBodyBytes();
        long declared = ctx.req().getContentLengthLong();
        if (declared > max) throw tooLarge(max);
        byte[] bytes;
        // A client that stalls mid-body would hold the connection for the whole (long) idle timeout:
        // while the body is read, a pause longer than BODY_IDLE fails the request with 408.
        org.eclipse.jetty.server.Request base = org.eclipse.jetty.server.Request.getBaseRequest(ctx.req());
        org.eclipse.jetty.server.HttpChannel channel = base == null ? null : base.getHttpChannel();
        long idle = channel == null ? -1 : channel.getIdleTimeout();
        long bodyIdle = Math.min(cfg.idleTimeout().toMillis(), BODY_IDLE.toMillis());
        if (channel != null) channel.setIdleTimeout(bodyIdle);
        try (InputStream in = ctx.req().getInputStream()) {
            bytes = in.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, max + 1));
        } catch (IOException e) {
            if (isTimeout(e)) throw new ApiException(408, "invalid_request_error", "The request body stopped arriving (no data for "
                    + bodyIdle + " ms)", null, "request_timeout");
            throw ApiException.invalid(null, "Could not read the request body: " + e.getMessage());
        } catch (org.eclipse.jetty.http.BadMessageException e) {
            // Jetty's own verdicts on the body, e.g. 408 for a body slower than MIN_BODY_BYTES_PER_SECOND.
            throw new ApiException(e.getCode(), "invalid_request_error", "Bad request body: " + e.getReason(), null,
                    e.getCode() == 408 ? "request_timeout" : null);
        } finally {
            if (channel != null) channel.setIdleTimeout(idle);
        }
        if (bytes.length > max) throw tooLarge(max);
        if (bytes.length == 0) throw ApiException.invalid(null, "The request body is empty; expected a JSON object");
        try {
            return JSON.readTree(bytes);
        } catch (JsonProcessingException e) {
            throw ApiException.invalid(null, "We could not parse the JSON body of your request: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw ApiException.invalid(null, "Could not read the request body: " + e.getMessage());
        }
    }

    private static boolean isTimeout(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof java.util.concurrent.TimeoutException || t instanceof java.net.SocketTimeoutException) return true;
        }
        return false;
    }

    private static ApiException tooLarge(long max) {
        return new ApiException(413, "invalid_request_error", "The request body is larger than the limit of " + max + " bytes", null, "request_too_large");
    }

    private static ApiException fromJavalin(HttpResponseException e) {
        int st = e.getStatus();
        String code = switch (st) {
            case 404 -> "unknown_url";
            case 405 -> "method_not_allowed";
            case 413 -> "request_too_large";
            default -> null;
        };
        return new ApiException(st, st >= 500 ? "server_error" : "invalid_request_error", e.getMessage(), null, code);
    }

    static ObjectNode errorJson(ApiException e) {
        ObjectNode root = JSON.createObjectNode();
        ObjectNode err = root.putObject("error");
        err.put("message", e.getMessage());
        err.put("type", e.type());
        if (e.param() == null) err.putNull("param");
        else err.put("param", e.param());
        if (e.code() == null) err.putNull("code");
        else err.put("code", e.code());
        return root;
    }

    private static void writeError(Context ctx, ApiException e) {
        if (ctx.res().isCommitted()) return; // a stream already started: nothing sensible to add
        ctx.status(e.status());
        if (e.status() == 429) ctx.header("Retry-After", "1");
        ctx.contentType("application/json").result(errorJson(e).toString());
    }
}
