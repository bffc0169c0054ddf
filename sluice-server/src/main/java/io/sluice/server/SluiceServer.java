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
import io.sluice.engine.EmbeddingEngine;
import io.sluice.engine.Engine;
import io.sluice.model.tokenizer.Tokenizer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The OpenAI-compatible HTTP server. {@link #start} binds the port right away; until an engine is given
 * (here or later with {@link #setEngine}) /health answers 503 and the API 503, so a CLI can listen first
 * and load the model afterwards. Endpoints: POST /v1/chat/completions, POST /v1/completions,
 * GET /v1/models, GET /v1/models/{id}, POST /apply-template (the chat prompt a request would produce),
 * POST /tokenize and /detokenize (llama-server's shapes), GET /health, GET /metrics (Prometheus text),
 * GET /props (status as JSON) and the chat page at / ({@link WebUi}). An embedding model ({@link #setEmbeddingEngine})
 * serves POST /v1/embeddings, /embedding(s) and the rerank endpoints instead ({@link Embeddings}); generation on it
 * is a 400, as embeddings are on a generating model. POST bodies must be application/json
 * (else 415), so a web page cannot send one as a "simple" cross-origin request; CORS headers only with
 * {@link ServerConfig#corsOrigin}.
 *
 * <p>Every error, Jetty's own included, is an OpenAI error object. Connections are capped per client and in
 * total, request headers have a deadline ({@link HttpGuard}); {@link #drain} stops taking new generations,
 * lets running ones finish for a while, then cancels the rest with a final error event on their streams.
 */
public final class SluiceServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(SluiceServer.class);

    /**
     * Longest pause allowed while a request body arrives (slow-body clients), and the slowest average body
     * rate accepted once the body has taken longer than the header timeout.
     */
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
    private final byte[] expectedKey;
    private final HttpGuard guard;
    private volatile ModelState state;
    private volatile Embeddings embeddings;
    private volatile boolean draining;
    private Javalin app;

    private SluiceServer(ServerConfig cfg) {
        this.cfg = Objects.requireNonNull(cfg, "cfg");
        this.metrics = new ServerMetrics(() -> state == null ? null : state.engine());
        metrics.embeddings(() -> embeddings == null ? null : embeddings.engine());
        this.completions = new Completions(metrics, renderer);
        this.expectedKey = cfg.apiKey() == null ? null : cfg.apiKey().getBytes(StandardCharsets.UTF_8);
        this.guard = new HttpGuard(cfg, metrics::connectionRefused);
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

    /**
     * Makes the server ready with an embedding model: /health turns 200, the embedding endpoints (and
     * rerank, for a reranker) serve it, and the generation endpoints answer 400.
     */
    public void setEmbeddingEngine(EmbeddingEngine engine) {
        Objects.requireNonNull(engine, "engine");
        String alias = cfg.alias();
        if (alias == null) alias = engine.model().file() != null ? engine.model().file().path().getFileName().toString() : "model";
        this.embeddings = new Embeddings(engine, alias);
        LOG.info("serving embedding model '{}' (context {} tokens, pooling {})", alias, engine.contextLength(),
                engine.model().pooling().name().toLowerCase(java.util.Locale.ROOT));
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
        Embeddings e = embeddings;
        return s != null ? s.alias() : e != null ? e.alias() : null;
    }

    /** Stops listening and cancels running generations; the engine stays open (its owner closes it). */
    public void stop() {
        draining = true;
        completions.startDraining();
        completions.cancelAll();
        completions.awaitIdle(System.nanoTime() + CANCEL_GRACE.toNanos()); // let cut streams write their final error event
        awaitEmbeddings(System.nanoTime() + CANCEL_GRACE.toNanos());
        try {
            app.stop();
        } finally {
            guard.stop();
            renderer.close();
        }
    }

    /** How long answers already produced get to reach the socket when a drain finds nothing running. */
    private static final java.time.Duration RESPONSE_GRACE = java.time.Duration.ofMillis(250);

    private static void pause(java.time.Duration d) {
        try {
            Thread.sleep(d);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** How long cancelled handlers get to write their last event before the connections close. */
    private static final java.time.Duration CANCEL_GRACE = java.time.Duration.ofSeconds(5);

    /**
     * Graceful shutdown (SIGTERM): /health turns 503 and new generations are refused with 503 at once; running
     * ones get up to {@code timeout} to finish, then are cancelled (a stream then ends with an error event and
     * [DONE], never silently); then the server stops. Returns whether every generation finished by itself.
     */
    public boolean drain(java.time.Duration timeout) {
        draining = true;
        completions.startDraining();
        int n = completions.active();
        LOG.info("draining: {} request(s) in flight, waiting up to {} ms", n, timeout.toMillis());
        Embeddings e = embeddings;
        if (e != null) e.startDraining();
        boolean finished = completions.awaitIdle(System.nanoTime() + timeout.toNanos()) & awaitEmbeddings(System.nanoTime() + timeout.toNanos());
        if (!finished) LOG.warn("drain timeout: cancelling {} request(s) still running", completions.active());
        else pause(RESPONSE_GRACE); // a finished non-streamed answer is written by Javalin after its handler returns
        stop();
        return finished;
    }

    @Override
    public void close() {
        stop();
    }

    /** Waits (until the deadline) for embedding requests in flight; they are short and not cancelled. */
    private boolean awaitEmbeddings(long deadlineNanos) {
        Embeddings e = embeddings;
        if (e == null) return true;
        e.startDraining();
        while (e.active() > 0 && System.nanoTime() < deadlineNanos) {
            try {
                Thread.sleep(10);
            } catch (InterruptedException ie) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return e.active() == 0;
    }

    private void listen() {
        app = Javalin.create(c -> {
            c.showJavalinBanner = false;
            c.useVirtualThreads = true;
            c.http.maxRequestSize = cfg.maxBodyBytes();
            c.http.prefer405over404 = true;
            c.router.ignoreTrailingSlashes = true;
            if (cfg.corsOrigin() != null) {
                c.bundledPlugins.enableCors(cors -> cors.addRule(rule -> {
                    String[] origins = cfg.corsOrigin().split(",");
                    if (cfg.corsOrigin().strip().equals("*")) rule.anyHost();
                    else rule.allowHost(origins[0].strip(), java.util.Arrays.stream(origins).skip(1).map(String::strip).toArray(String[]::new));
                }));
            }
            c.jetty.addConnector(guard::connector);
            // Jetty's error pages (malformed requests never reach Javalin) in OpenAI's shape.
            c.jetty.modifyServer(s -> s.setErrorHandler(new JsonErrorHandler()));
            c.jetty.modifyServletContextHandler(h -> h.setErrorHandler(new JsonErrorHandler()));
        });
        app.before(ctx -> {
            if (draining) ctx.header("Connection", "close"); // clients reconnect elsewhere
            checkUrl(ctx);
        });
        app.before(this::requireJsonBody);
        app.before("/v1/*", this::authorize);
        app.before("/apply-template", this::authorize);
        app.before("/metrics", ctx -> {
            if (cfg.metricsNeedKey()) authorize(ctx);
        });
        app.before("/tokenize", this::authorize);
        app.before("/detokenize", this::authorize);
        app.before("/props", this::authorize);
        for (String p : EMBEDDING_PATHS) if (!p.startsWith("/v1/")) app.before(p, this::authorize);
        app.get("/health", this::health);
        app.get("/props", ctx -> ctx.contentType("application/json").result(
                (embeddings != null ? embeddingProps(embeddings) : WebUi.props(ready())).toString()));
        WebUi.register(app);
        app.get("/metrics", ctx -> ctx.contentType("text/plain; version=0.0.4; charset=utf-8").result(metrics.scrape()));
        app.get("/v1/models", this::models);
        app.get("/v1/models/{model}", this::model);
        app.post("/v1/chat/completions", ctx -> generate(ctx, true));
        app.post("/v1/completions", ctx -> generate(ctx, false));
        app.post("/apply-template", this::applyTemplate);
        app.post("/tokenize", this::tokenize);
        app.post("/detokenize", this::detokenize);
        app.post("/v1/embeddings", ctx -> embeddings().openai(ctx, readJson(ctx)));
        app.post("/embedding", ctx -> embeddings().llama(ctx, readJson(ctx)));
        app.post("/embeddings", ctx -> embeddings().llama(ctx, readJson(ctx)));
        for (String p : RERANK_PATHS) app.post(p, ctx -> embeddings().rerank(ctx, readJson(ctx)));
        app.exception(ApiException.class, (e, ctx) -> writeError(ctx, e));
        app.exception(HttpResponseException.class, (e, ctx) -> writeError(ctx, fromJavalin(e, ctx)));
        app.exception(Exception.class, (e, ctx) -> {
            LOG.error("request {} {} failed", ctx.method(), ctx.path(), e);
            writeError(ctx, new ApiException(500, "server_error", "Internal server error: " + e, null, null));
        });
        // ctx.method() says INVALID for a method Javalin does not know; the request line's is what the client sent.
        app.error(404, ctx -> {
            if (ctx.result() == null || !ctx.result().startsWith("{")) {
                writeError(ctx, new ApiException(404, "invalid_request_error", "Unknown endpoint: " + method(ctx) + " " + ctx.path(), null, "unknown_url"));
            }
        });
        app.error(405, ctx -> writeError(ctx, new ApiException(405, "invalid_request_error", "Method " + method(ctx) + " is not allowed on " + ctx.path(), null, "method_not_allowed")));
        app.after(ctx -> metrics.request(endpointLabel(ctx), ctx.statusCode()));
        try {
            app.start();
        } catch (RuntimeException e) {
            guard.stop();
            throw e;
        }
        LOG.info("listening on {}", baseUrl());
    }

    /** The method as the client sent it, cut and escaped so a hostile one cannot flood a message. */
    private static String method(Context ctx) {
        String m = ctx.req().getMethod();
        if (m == null) return "?";
        return m.length() > 32 ? m.substring(0, 32) + "..." : m;
    }

    /** The path and query, percent-decoded, must be strict UTF-8 too (Jetty would turn %FF into U+FFFD). */
    private static void checkUrl(Context ctx) {
        String raw = ctx.req().getRequestURI();
        String q = ctx.req().getQueryString();
        for (String part : q == null ? new String[]{raw} : new String[]{raw, q}) {
            if (part == null || part.indexOf('%') < 0) continue;
            byte[] b = percentDecode(part);
            int bad = StrictUtf8.firstInvalid(b);
            if (bad >= 0) {
                throw ApiException.invalid(null, "The request URL is not valid UTF-8 after percent-decoding: " + StrictUtf8.describe(b, bad, b.length));
            }
        }
    }

    private static byte[] percentDecode(String s) {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            int hi, lo;
            if (c == '%' && i + 2 < s.length() && (hi = Character.digit(s.charAt(i + 1), 16)) >= 0
                    && (lo = Character.digit(s.charAt(i + 2), 16)) >= 0) {
                out.write(hi << 4 | lo);
                i += 2;
            } else {
                byte[] b = String.valueOf(c).getBytes(StandardCharsets.UTF_8);
                out.write(b, 0, b.length);
            }
        }
        return out.toByteArray();
    }

    private static final List<String> RERANK_PATHS = List.of("/rerank", "/reranking", "/v1/rerank", "/v1/reranking");
    private static final List<String> EMBEDDING_PATHS = List.of("/v1/embeddings", "/embedding", "/embeddings", "/rerank", "/reranking",
            "/v1/rerank", "/v1/reranking");

    private static String endpointLabel(Context ctx) {
        String p = ctx.path();
        if (EMBEDDING_PATHS.contains(p)) return p;
        return switch (p) {
            case "/", "/props", "/health", "/metrics", "/v1/models", "/v1/chat/completions", "/v1/completions", "/apply-template", "/tokenize", "/detokenize" -> p;
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
        if (expectedKey == null) return;
        String got = ctx.header("Authorization");
        // The auth scheme is case-insensitive (RFC 9110 11.1); the key itself is compared exactly.
        String h = got == null ? "" : got.strip();
        boolean bearer = h.regionMatches(true, 0, "Bearer ", 0, 7);
        byte[] key = bearer ? h.substring(7).strip().getBytes(StandardCharsets.UTF_8) : new byte[0];
        if (!bearer || !MessageDigest.isEqual(key, expectedKey)) { // constant-time: no key guessing by timing
            throw new ApiException(401, "invalid_request_error",
                    got == null ? "Missing API key: send 'Authorization: Bearer <key>'"
                            : bearer ? "Incorrect API key provided" : "Unsupported authorization scheme: send 'Authorization: Bearer <key>'",
                    null, "invalid_api_key");
        }
    }

    /** The generating model; a 400 when the served model only embeds, a 503 while loading. */
    private ModelState ready() {
        ModelState s = state;
        Embeddings e = embeddings;
        if (s == null && e != null) {
            throw ApiException.invalid("model", "The model '" + e.alias() + "' is an embedding model: it does not generate text; use POST /v1/embeddings"
                    + (e.reranker() ? " or /v1/rerank" : ""), "model_not_generative");
        }
        if (s == null) throw new ApiException(503, "server_error", "The model is still loading; retry shortly", null, "model_loading");
        return s;
    }

    /** The embedding model; a 400 when the served model generates, a 503 while loading. */
    private Embeddings embeddings() {
        Embeddings e = embeddings;
        ModelState s = state;
        if (e == null && s != null) {
            throw ApiException.invalid("model", "The model '" + s.alias() + "' does not serve embeddings: serve an embedding model (an encoder such as "
                    + "bge or nomic-embed, a decoder whose file names a pooling, or one with --embeddings)", "model_not_embedding");
        }
        if (e == null) throw new ApiException(503, "server_error", "The model is still loading; retry shortly", null, "model_loading");
        return e;
    }

    /** The served model's tokenizer, generating or embedding. */
    private Tokenizer tokenizer() {
        Embeddings e = embeddings;
        return e != null ? e.tokenizer() : ready().tokenizer();
    }

    /** GET /props for an embedding model: the model, its width and pooling, the engine's counters. */
    private static ObjectNode embeddingProps(Embeddings e) {
        ObjectNode o = JSON.createObjectNode();
        var m = e.engine().model();
        o.put("model", e.alias());
        o.put("context_length", e.contextLength());
        o.put("vocab_size", e.tokenizer().vocabSize());
        o.put("embedding_length", m.outputDim());
        o.put("pooling", m.pooling().name().toLowerCase(java.util.Locale.ROOT));
        EmbeddingEngine.Stats st = e.engine().stats();
        o.putObject("embeddings").put("inputs", st.inputs()).put("tokens", st.tokens()).put("passes", st.passes()).put("waiting", st.waiting());
        return o;
    }

    private void health(Context ctx) {
        ModelState st = state;
        if (draining) ctx.status(503).contentType("application/json").result("{\"status\":\"draining\"}");
        else if (embeddings != null) {
            if (embeddings.engine().isAlive()) ctx.status(200).contentType("application/json").result("{\"status\":\"ok\"}");
            else ctx.status(503).contentType("application/json").result("{\"status\":\"engine stopped\"}");
        } else if (st == null) ctx.status(503).contentType("application/json").result("{\"status\":\"loading\"}");
        else if (!st.engine().isAlive()) ctx.status(503).contentType("application/json").result("{\"status\":\"engine stopped\"}");
        else ctx.status(200).contentType("application/json").result("{\"status\":\"ok\"}");
    }

    /** The served model as /v1/models lists it (an embedding model with its width and pooling in meta). */
    private ObjectNode modelObject() {
        Embeddings e = embeddings;
        ModelState s = e == null ? ready() : null;
        ObjectNode m = JSON.createObjectNode();
        m.put("id", e != null ? e.alias() : s.alias());
        m.put("object", "model");
        m.put("created", startedAt);
        m.put("owned_by", "sluice");
        ObjectNode meta = m.putObject("meta");
        meta.put("context_length", e != null ? e.contextLength() : s.contextLength()).put("vocab_size", tokenizer().vocabSize());
        if (e != null) {
            meta.put("embedding_length", e.engine().model().outputDim());
            meta.put("pooling", e.engine().model().pooling().name().toLowerCase(java.util.Locale.ROOT));
        }
        return m;
    }

    private void models(Context ctx) {
        ObjectNode out = JSON.createObjectNode();
        out.put("object", "list");
        out.putArray("data").add(modelObject());
        ctx.contentType("application/json").result(out.toString());
    }

    private void model(Context ctx) {
        ObjectNode m = modelObject();
        String id = ctx.pathParam("model");
        if (!id.equals(m.get("id").asText())) throw new ApiException(404, "invalid_request_error", "The model '" + id + "' does not exist", "model", "model_not_found");
        ctx.contentType("application/json").result(m.toString());
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
        out.put("prompt", completions.renderPrompt(s, p).text());
        ctx.contentType("application/json").result(out.toString());
    }

    /**
     * llama-server's POST /tokenize: {"content": text or [text and token ids...], "add_special" (false),
     * "parse_special" (true), "with_pieces" (false)} gives {"tokens": [ids]}, or with pieces
     * [{"id", "piece"}] where a piece that is not valid UTF-8 is its byte values.
     */
    private void tokenize(Context ctx) {
        Tokenizer s = tokenizer();
        ObjectNode o = object(readJson(ctx), "content", "add_special", "parse_special", "with_pieces", "model");
        boolean addSpecial = flag(o, "add_special", false), parseSpecial = flag(o, "parse_special", true), pieces = flag(o, "with_pieces", false);
        JsonNode content = o.get("content");
        List<Integer> ids = new ArrayList<>();
        if (content == null || content.isNull()) {
            // llama-server answers an empty list
        } else if (content.isTextual()) {
            for (int id : s.encode(content.asText(), addSpecial, parseSpecial)) ids.add(id);
        } else if (content.isArray()) {
            boolean first = true;
            for (int i = 0; i < content.size(); i++) {
                JsonNode part = content.get(i);
                if (part.isTextual()) {
                    for (int id : s.encode(part.asText(), addSpecial && first, parseSpecial)) ids.add(id);
                } else {
                    ids.add(tokenId(s, part, "content[" + i + "]"));
                }
                first = false;
            }
        } else {
            throw ApiException.invalid("content", "'content' must be a string or an array of strings and token ids");
        }
        ObjectNode out = JSON.createObjectNode();
        var arr = out.putArray("tokens");
        for (int id : ids) {
            if (!pieces) {
                arr.add(id);
                continue;
            }
            byte[] b = s.tokenBytes(id, true);
            ObjectNode t = arr.addObject();
            t.put("id", id);
            java.nio.charset.CharsetDecoder dec = StandardCharsets.UTF_8.newDecoder();
            try {
                t.put("piece", dec.decode(java.nio.ByteBuffer.wrap(b)).toString());
            } catch (java.nio.charset.CharacterCodingException e) {
                var bytes = t.putArray("piece");
                for (byte x : b) bytes.add(x & 0xFF);
            }
        }
        ctx.contentType("application/json").result(out.toString());
    }

    /** llama-server's POST /detokenize: {"tokens": [ids]} gives {"content": the pieces, special tokens as their text}. */
    private void detokenize(Context ctx) {
        Tokenizer s = tokenizer();
        ObjectNode o = object(readJson(ctx), "tokens", "model");
        JsonNode tokens = o.get("tokens");
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        if (tokens != null && !tokens.isNull()) {
            if (!tokens.isArray()) throw ApiException.invalid("tokens", "'tokens' must be an array of token ids");
            for (int i = 0; i < tokens.size(); i++) bytes.writeBytes(s.tokenBytes(tokenId(s, tokens.get(i), "tokens[" + i + "]"), true));
        }
        ObjectNode out = JSON.createObjectNode();
        out.put("content", bytes.toString(StandardCharsets.UTF_8));
        ctx.contentType("application/json").result(out.toString());
    }

    private static ObjectNode object(JsonNode body, String... allowed) {
        if (body == null || !body.isObject()) throw ApiException.invalid(null, "The request body must be a JSON object");
        java.util.Set<String> ok = java.util.Set.of(allowed);
        for (java.util.Iterator<String> it = body.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!ok.contains(k)) throw ApiException.invalid(k, "Unrecognized request argument supplied: " + k);
        }
        return (ObjectNode) body;
    }

    private static boolean flag(ObjectNode o, String name, boolean dflt) {
        JsonNode v = o.get(name);
        if (v == null || v.isNull()) return dflt;
        if (!v.isBoolean()) throw ApiException.invalid(name, "'" + name + "' must be a boolean");
        return v.asBoolean();
    }

    private static int tokenId(Tokenizer s, JsonNode v, String where) {
        int n = s.vocabSize();
        if (!v.isIntegralNumber() || !v.canConvertToInt() || v.asInt() < 0 || v.asInt() >= n) {
            throw ApiException.invalid(where, where + " is not a token id in 0.." + (n - 1) + ": " + v);
        }
        return v.asInt();
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
            bytes = readBody(in, (int) Math.min(Integer.MAX_VALUE - 8, max + 1));
        } catch (IOException e) {
            if (isTimeout(e)) throw new ApiException(408, "invalid_request_error", "The request body stopped arriving (no data for "
                    + bodyIdle + " ms)", null, "request_timeout");
            throw ApiException.invalid(null, "Could not read the request body: " + e.getMessage());
        } catch (org.eclipse.jetty.http.BadMessageException e) {
            // Jetty's own verdicts on the body (bad chunking, ...).
            throw new ApiException(e.getCode(), "invalid_request_error", "Bad request body: " + e.getReason(), null,
                    e.getCode() == 408 ? "request_timeout" : null);
        } finally {
            if (channel != null) channel.setIdleTimeout(idle);
        }
        if (bytes.length > max) throw tooLarge(max);
        if (bytes.length == 0) throw ApiException.invalid(null, "The request body is empty; expected a JSON object");
        int bad = StrictUtf8.firstInvalid(bytes);
        if (bad >= 0) {
            String field = null;
            try {
                field = StrictUtf8.fieldAt(JSON.getFactory().createParser(bytes), bad);
            } catch (IOException ignored) {
                // unreadable as JSON as well: the message still gives the offset
            }
            throw ApiException.invalid(field, "The request body is not valid UTF-8" + (field == null ? "" : " in '" + field + "'")
                    + ": " + StrictUtf8.describe(bytes, bad, bytes.length), "invalid_utf8");
        }
        try {
            JsonNode tree = JSON.readTree(bytes);
            String lone = tree == null ? null : StrictUtf8.loneSurrogate(tree, "");
            if (lone != null) {
                throw ApiException.invalid(lone, "'" + lone + "' contains an unpaired UTF-16 surrogate (a \\u escape in D800-DFFF "
                        + "without its partner), which is not valid Unicode text", "invalid_utf8");
            }
            return tree;
        } catch (JsonProcessingException e) {
            throw ApiException.invalid(null, "We could not parse the JSON body of your request: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw ApiException.invalid(null, "Could not read the request body: " + e.getMessage());
        }
    }

    /**
     * Reads up to limit bytes. A body trickled in (a byte now and then, never idle long enough for the idle
     * timeout) is refused with 408 once it has taken longer than the header timeout at an average below
     * MIN_BODY_BYTES_PER_SECOND. (Jetty's own minimum rate counts from the first read, so a 30-byte body read
     * twice 60 ms apart on a busy machine already failed it.)
     */
    private byte[] readBody(InputStream in, int limit) throws IOException {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream(Math.min(limit, 64 << 10));
        byte[] buf = new byte[16 << 10];
        long t0 = System.nanoTime(), grace = cfg.headerTimeout().toNanos();
        for (int n; out.size() < limit && (n = in.read(buf, 0, Math.min(buf.length, limit - out.size()))) >= 0; ) {
            out.write(buf, 0, n);
            long elapsed = System.nanoTime() - t0;
            if (elapsed > grace && out.size() < MIN_BODY_BYTES_PER_SECOND * (elapsed / 1_000_000) / 1000) {
                throw new ApiException(408, "invalid_request_error", "The request body arrives too slowly: " + out.size() + " bytes in "
                        + elapsed / 1_000_000 + " ms, below the minimum of " + MIN_BODY_BYTES_PER_SECOND + " bytes/s", null, "request_timeout");
            }
        }
        return out.toByteArray();
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

    private static ApiException fromJavalin(HttpResponseException e, Context ctx) {
        int st = e.getStatus();
        if (st == 404) return new ApiException(404, "invalid_request_error", "Unknown endpoint: " + method(ctx) + " " + ctx.path(), null, "unknown_url");
        if (st == 405) return new ApiException(405, "invalid_request_error", "Method " + method(ctx) + " is not allowed on " + ctx.path(), null, "method_not_allowed");
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
