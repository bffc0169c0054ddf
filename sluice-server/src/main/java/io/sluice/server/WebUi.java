package io.sluice.server;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.javalin.Javalin;
import io.javalin.http.Context;
import io.sluice.engine.EngineMetrics;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Map;

import static io.sluice.server.SluiceServer.JSON;

/**
 * The chat page at {@code /}: hand-written HTML, CSS and JavaScript from this jar's resources (no build
 * step), talking to the server's own /v1/chat/completions (streamed) and /props. Only the files listed
 * here are served. The page renders model output by building DOM nodes from text, never by parsing
 * it as HTML (see markdown.js).
 */
final class WebUi {
    private static final String BASE = "/io/sluice/server/web/";
    private static final Map<String, String> FILES = Map.of(
            "index.html", "text/html; charset=utf-8",
            "app.js", "text/javascript; charset=utf-8",
            "markdown.js", "text/javascript; charset=utf-8",
            "style.css", "text/css; charset=utf-8");
    private static final Map<String, byte[]> CONTENT = load();

    private WebUi() {
    }

    static void register(Javalin app) {
        app.get("/", ctx -> send(ctx, "index.html"));
        app.get("/ui/{file}", ctx -> {
            String f = ctx.pathParam("file");
            if (!CONTENT.containsKey(f) || f.equals("index.html")) throw new ApiException(404, "invalid_request_error", "Unknown endpoint: GET " + ctx.path(), null, "unknown_url");
            send(ctx, f);
        });
    }

    private static void send(Context ctx, String file) {
        ctx.header("Cache-Control", "no-cache");
        ctx.header("X-Content-Type-Options", "nosniff");
        // The page loads nothing from elsewhere and runs only its own scripts; model text can never become code.
        ctx.header("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                + "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'");
        ctx.header("Referrer-Policy", "no-referrer");
        ctx.contentType(FILES.get(file)).result(CONTENT.get(file));
    }

    private static Map<String, byte[]> load() {
        Map<String, byte[]> m = new java.util.HashMap<>();
        for (String f : FILES.keySet()) {
            try (InputStream in = WebUi.class.getResourceAsStream(BASE + f)) {
                if (in == null) throw new IllegalStateException("web page resource missing from the jar: " + BASE + f);
                m.put(f, in.readAllBytes());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return Map.copyOf(m);
    }

    /**
     * GET /props, as llama-server names it: what the page's status panel shows (model, context, KV cache
     * use, queue, token counters) in one small JSON object.
     */
    static ObjectNode props(ModelState s) {
        ObjectNode o = JSON.createObjectNode();
        o.put("model", s.alias());
        o.put("context_length", s.contextLength());
        o.put("vocab_size", s.tokenizer().vocabSize());
        EngineMetrics m = s.engine().metrics();
        var cfg = s.engine().config();
        ObjectNode kv = o.putObject("kv_cache");
        kv.put("type", cfg.kvType().name().toLowerCase(java.util.Locale.ROOT));
        kv.put("block_size", cfg.kvBlockSize());
        kv.put("blocks_total", m.kvBlocksTotal());
        kv.put("blocks_used", m.kvBlocksUsed());
        kv.put("blocks_cached", m.kvBlocksCached());
        // A block holds one group of layers: positions with a block in every group (sliding-window groups need fewer past their windows).
        kv.put("tokens_total", (long) m.kvBlocksTotal() / s.engine().model().kvLayout().groups().size() * cfg.kvBlockSize());
        ObjectNode req = o.putObject("requests");
        req.put("running", m.runningSeqs());
        req.put("waiting", m.waitingSeqs());
        req.put("finished", m.requestsFinished());
        ObjectNode tok = o.putObject("tokens");
        tok.put("prompt", m.promptTokens());
        tok.put("prompt_cached", m.prefixCacheHitTokens());
        tok.put("generated", m.generatedTokens());
        o.put("max_seqs", cfg.maxSeqs());
        o.put("chat_template", s.template().source());
        return o;
    }
}
