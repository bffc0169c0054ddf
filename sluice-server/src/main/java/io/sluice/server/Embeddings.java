package io.sluice.server;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.javalin.http.Context;
import io.sluice.engine.EmbeddingEngine;
import io.sluice.engine.EmbeddingVectors;
import io.sluice.engine.EngineException;
import io.sluice.engine.RerankPrompt;
import io.sluice.model.EmbeddingModel;
import io.sluice.model.nn.Pooling;
import io.sluice.model.tokenizer.Tokenizer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The endpoints of a served embedding model, over its {@link EmbeddingEngine}:
 * POST /v1/embeddings (OpenAI's shape: {@code input} a string, strings, token ids or arrays of
 * them; {@code dimensions}; {@code encoding_format} float or base64, and binary, ubinary, int8 as
 * extensions; {@code truncate} as an extension), POST /embedding and /embeddings (llama-server's:
 * {@code content} or {@code input}, {@code embd_normalize}, every input's rows), and POST /rerank,
 * /reranking, /v1/rerank, /v1/reranking (Jina's and Cohere's shape: {@code query},
 * {@code documents}, {@code top_n}, {@code return_documents}; TEI's with {@code texts}).
 *
 * <p>Every input of a request is queued at once, so the engine packs them (and other requests')
 * into shared passes. A request holds at most {@link #MAX_INPUTS} inputs and
 * {@link #MAX_REQUEST_TOKENS} tokens, so one request cannot hold the engine or the heap for long;
 * an input longer than the context is a 400 unless the request asks for truncation.
 */
final class Embeddings {
    /** Inputs (or documents) in one request at most: OpenAI's limit. */
    static final int MAX_INPUTS = 2048;
    /** Tokens in one request at most: OpenAI's limit, about a minute of a small encoder on 2 cores. */
    static final int MAX_REQUEST_TOKENS = 300_000;

    private static final Set<String> OPENAI_FIELDS = Set.of("input", "model", "encoding_format", "dimensions", "user", "truncate");
    private static final Set<String> LLAMA_FIELDS = Set.of("input", "content", "model", "embd_normalize", "encoding_format", "truncate");
    private static final Set<String> RERANK_FIELDS = Set.of("query", "documents", "texts", "top_n", "return_documents",
            "return_text", "model", "truncate", "max_chunks_per_doc", "rank_fields");

    private final EmbeddingEngine engine;
    private final EmbeddingModel model;
    private final String alias;
    private final int maxInputs;
    private final AtomicInteger active = new AtomicInteger();
    private volatile boolean draining;

    Embeddings(EmbeddingEngine engine, String alias) {
        this.engine = engine;
        this.model = engine.model();
        this.alias = alias;
        // A request larger than the whole queue could never be admitted: say so up front.
        this.maxInputs = Math.min(MAX_INPUTS, engine.config().maxQueue() + engine.config().maxSeqs());
    }

    EmbeddingEngine engine() {
        return engine;
    }

    String alias() {
        return alias;
    }

    Tokenizer tokenizer() {
        return model.tokenizer();
    }

    int contextLength() {
        return engine.contextLength();
    }

    boolean reranker() {
        return model.pooling() == Pooling.RANK;
    }

    void startDraining() {
        draining = true;
    }

    int active() {
        return active.get();
    }

    // ---- endpoints ----

    /** POST /v1/embeddings. */
    void openai(Context ctx, JsonNode body) throws InterruptedException {
        ObjectNode o = object(body, OPENAI_FIELDS);
        requirePooled(true);
        String format = format(o, Set.of("float", "base64", "binary", "ubinary", "int8"));
        int dims = dimensions(o);
        List<int[]> in = inputs(o.get("input"), "input", bool(o, "truncate", false));
        List<float[]> raw = run(in, "input");
        long tokens = in.stream().mapToLong(t -> t.length).sum();
        String modelName = string(o, "model");
        write(ctx, g -> {
            g.writeStartObject();
            g.writeStringField("object", "list");
            g.writeArrayFieldStart("data");
            for (int i = 0; i < raw.size(); i++) {
                float[] v = EmbeddingVectors.normalized(raw.get(i), dims);
                g.writeStartObject();
                g.writeStringField("object", "embedding");
                g.writeNumberField("index", i);
                g.writeFieldName("embedding");
                switch (format) {
                    case "base64" -> g.writeString(EmbeddingVectors.base64(v));
                    case "binary" -> ints(g, EmbeddingVectors.binary(v));
                    case "ubinary" -> ints(g, EmbeddingVectors.ubinaryValues(v));
                    case "int8" -> ints(g, EmbeddingVectors.int8(v));
                    default -> floats(g, v, 0, v.length);
                }
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeStringField("model", modelName != null ? modelName : alias);
            g.writeObjectFieldStart("usage");
            g.writeNumberField("prompt_tokens", tokens);
            g.writeNumberField("total_tokens", tokens);
            g.writeEndObject();
            g.writeEndObject();
        });
    }

    /**
     * POST /embedding and /embeddings, llama-server's own shape: {@code [{"index", "embedding": [rows]}]},
     * one row per input (per token for a model without pooling, as computed), normalised as
     * {@code embd_normalize} says (-1 none, 0 max-abs scaled to int16, 2 euclidean (default), p &gt; 2 p-norm).
     */
    void llama(Context ctx, JsonNode body) throws InterruptedException {
        ObjectNode o = object(body, LLAMA_FIELDS);
        requirePooled(false);
        String field = o.hasNonNull("input") ? "input" : "content";
        if (o.hasNonNull("input") && o.hasNonNull("content")) throw ApiException.invalid("content", "Give 'input' or 'content', not both");
        format(o, Set.of("float"));
        int norm = embdNormalize(o);
        List<int[]> in = inputs(o.get(field), field, bool(o, "truncate", false));
        List<float[]> raw = run(in, field);
        int width = model.outputDim();
        boolean perToken = model.pooling() == Pooling.NONE;
        write(ctx, g -> {
            g.writeStartArray();
            for (int i = 0; i < raw.size(); i++) {
                float[] v = raw.get(i);
                g.writeStartObject();
                g.writeNumberField("index", i);
                g.writeArrayFieldStart("embedding");
                for (int r = 0; r < v.length / width; r++) {
                    float[] row = Arrays.copyOfRange(v, r * width, (r + 1) * width);
                    if (!perToken) row = normalize(row, norm);
                    floats(g, row, 0, row.length);
                }
                g.writeEndArray();
                g.writeEndObject();
            }
            g.writeEndArray();
        });
    }

    /** POST /rerank (and /reranking, /v1/rerank, /v1/reranking): documents sorted by relevance to the query. */
    void rerank(Context ctx, JsonNode body) throws InterruptedException {
        ObjectNode o = object(body, RERANK_FIELDS);
        if (!reranker()) {
            throw ApiException.invalid(null, "The model '" + alias + "' is not a reranker (its pooling is "
                    + model.pooling().name().toLowerCase(Locale.ROOT) + ", not rank); serve a reranker (e.g. bge-reranker) for /rerank", "model_not_reranker");
        }
        JsonNode q = o.get("query");
        if (q == null || q.isNull()) throw ApiException.invalid("query", "'query' is required: the text to rank the documents against");
        if (!q.isTextual()) throw ApiException.invalid("query", "'query' must be a string");
        String query = q.asText();
        boolean tei = o.has("texts");
        if (tei && o.has("documents")) throw ApiException.invalid("texts", "Give 'documents' or 'texts', not both");
        String docField = tei ? "texts" : "documents";
        List<String> docs = documents(o.get(docField), docField);
        int topN = docs.size();
        JsonNode tn = o.get("top_n");
        if (tn != null && !tn.isNull()) {
            if (!tn.isIntegralNumber() || !tn.canConvertToInt() || tn.asInt() < 1) {
                throw ApiException.invalid("top_n", "'top_n' must be a positive integer, not " + clip(tn.toString()));
            }
            topN = Math.min(topN, tn.asInt());
        }
        boolean returnDocs = bool(o, tei ? "return_text" : "return_documents", false);
        boolean truncate = bool(o, "truncate", false);
        Tokenizer tok = model.tokenizer();
        String template = RerankPrompt.template(model);
        List<int[]> pairs = new ArrayList<>(docs.size());
        long total = 0;
        for (int i = 0; i < docs.size(); i++) {
            int[] t = RerankPrompt.tokens(tok, template, query, docs.get(i));
            t = fit(t, docField + "[" + i + "]", truncate, true);
            total += t.length;
            if (total > MAX_REQUEST_TOKENS) throw tooManyTokens(docField, total);
            pairs.add(t);
        }
        List<float[]> raw = run(pairs, docField);
        Integer[] order = new Integer[docs.size()];
        for (int i = 0; i < order.length; i++) order[i] = i;
        Arrays.sort(order, (a, b) -> Float.compare(raw.get(b)[0], raw.get(a)[0])); // stable: ties keep document order
        long tokens = total;
        int n = topN;
        String scoreName = tei ? "score" : "relevance_score";
        String modelName = string(o, "model");
        write(ctx, g -> {
            if (!tei) {
                g.writeStartObject();
                g.writeStringField("model", modelName != null ? modelName : alias);
                g.writeStringField("object", "list");
                g.writeObjectFieldStart("usage");
                g.writeNumberField("prompt_tokens", tokens);
                g.writeNumberField("total_tokens", tokens);
                g.writeEndObject();
                g.writeFieldName("results");
            }
            g.writeStartArray();
            for (int k = 0; k < n; k++) {
                int i = order[k];
                g.writeStartObject();
                g.writeNumberField("index", i);
                g.writeNumberField(scoreName, raw.get(i)[0]);
                if (returnDocs && tei) g.writeStringField("text", docs.get(i));
                else if (returnDocs) {
                    g.writeObjectFieldStart("document");
                    g.writeStringField("text", docs.get(i));
                    g.writeEndObject();
                }
                g.writeEndObject();
            }
            g.writeEndArray();
            if (!tei) g.writeEndObject();
        });
    }

    // ---- requests ----

    private void requirePooled(boolean openai) {
        Pooling p = model.pooling();
        if (p == Pooling.RANK) {
            throw ApiException.invalid(null, "The model '" + alias + "' is a reranker: it scores (query, document) pairs; use POST /v1/rerank",
                    "model_is_reranker");
        }
        if (openai && p == Pooling.NONE) {
            throw ApiException.invalid(null, "The model '" + alias + "' has no pooling (one vector per token), which OpenAI's shape cannot carry; "
                    + "use POST /embeddings, or serve it with --pooling mean|cls|last", "pooling_none");
        }
    }

    /** The inputs as token sequences: a string, an array of token ids, or an array of strings and token-id arrays. */
    private List<int[]> inputs(JsonNode v, String field, boolean truncate) {
        if (v == null || v.isNull()) {
            throw ApiException.invalid(field, "'" + field + "' is required: a string, an array of strings, an array of token ids, or an array of those");
        }
        List<int[]> out = new ArrayList<>();
        if (v.isTextual()) {
            out.add(text(v.asText(), field, truncate));
        } else if (v.isArray()) {
            if (v.isEmpty()) throw ApiException.invalid(field, "'" + field + "' must not be an empty array");
            if (v.get(0).isNumber()) {
                out.add(fit(tokenIds(v, field), field, truncate, false));
            } else {
                if (v.size() > maxInputs) {
                    throw ApiException.invalid(field, "'" + field + "' has " + v.size() + " inputs; at most " + maxInputs + " are accepted in one request",
                            "too_many_inputs");
                }
                long total = 0;
                for (int i = 0; i < v.size(); i++) {
                    JsonNode e = v.get(i);
                    String where = field + "[" + i + "]";
                    int[] t;
                    if (e.isTextual()) t = text(e.asText(), where, truncate);
                    else if (e.isArray()) t = fit(tokenIds(e, where), where, truncate, false);
                    else throw ApiException.invalid(where, "'" + where + "' must be a string or an array of token ids");
                    total += t.length;
                    if (total > MAX_REQUEST_TOKENS) throw tooManyTokens(field, total);
                    out.add(t);
                }
            }
        } else {
            throw ApiException.invalid(field, "'" + field + "' must be a string, an array of strings, an array of token ids, or an array of those");
        }
        return out;
    }

    private int[] text(String s, String where, boolean truncate) {
        int[] t = model.tokenizer().encode(s, true, false);
        if (t.length == 0) throw ApiException.invalid(where, "'" + where + "' is empty: it gives no tokens to embed");
        return fit(t, where, truncate, true);
    }

    private int[] tokenIds(JsonNode arr, String where) {
        int vocab = model.tokenizer().vocabSize();
        if (arr.isEmpty()) throw ApiException.invalid(where, "'" + where + "' is an empty array of token ids");
        // Longer than any context and not truncated: refuse before copying megabytes of ids.
        if (arr.size() > MAX_REQUEST_TOKENS) throw tooManyTokens(where, arr.size());
        int[] t = new int[arr.size()];
        for (int i = 0; i < t.length; i++) {
            JsonNode x = arr.get(i);
            if (!x.isIntegralNumber() || !x.canConvertToInt() || x.asInt() < 0 || x.asInt() >= vocab) {
                throw ApiException.invalid(where + "[" + i + "]", "'" + where + "[" + i + "]' is not a token id in 0.." + (vocab - 1) + ": " + clip(x.toString()));
            }
            t[i] = x.asInt();
        }
        return t;
    }

    /**
     * The input within the context: as it is, cut when the request asks for truncation (a text
     * input keeps its closing special token, [SEP] or EOS, as a tokenizer truncating would), or a 400.
     */
    private int[] fit(int[] t, String where, boolean truncate, boolean keepClosing) {
        int ctx = engine.contextLength();
        if (t.length <= ctx) return t;
        if (!truncate) {
            throw ApiException.invalid(where, "'" + where + "' has " + t.length + " tokens but the model's context holds " + ctx
                    + " tokens; shorten it, or send \"truncate\": true to cut it", "context_length_exceeded");
        }
        int[] r = Arrays.copyOf(t, ctx);
        Tokenizer tok = model.tokenizer();
        int last = t[t.length - 1];
        if (keepClosing && (last == tok.sep() || last == tok.eos())) r[ctx - 1] = last;
        return r;
    }

    private static List<String> documents(JsonNode v, String field) {
        if (v == null || v.isNull()) throw ApiException.invalid(field, "'" + field + "' is required: an array of texts to rank");
        if (!v.isArray() || v.isEmpty()) throw ApiException.invalid(field, "'" + field + "' must be a non-empty array of strings");
        if (v.size() > MAX_INPUTS) {
            throw ApiException.invalid(field, "'" + field + "' has " + v.size() + " documents; at most " + MAX_INPUTS + " are accepted in one request",
                    "too_many_inputs");
        }
        List<String> out = new ArrayList<>(v.size());
        for (int i = 0; i < v.size(); i++) {
            JsonNode d = v.get(i);
            String where = field + "[" + i + "]";
            if (d.isTextual()) out.add(d.asText());
            else if (d.isObject() && d.size() == 1 && d.path("text").isTextual()) out.add(d.get("text").asText()); // Cohere's {"text": ...}
            else throw ApiException.invalid(where, "'" + where + "' must be a string (or {\"text\": string})");
        }
        return out;
    }

    /** Queues every input, then waits for all: the engine shares passes between them. */
    private List<float[]> run(List<int[]> inputs, String field) throws InterruptedException {
        if (draining) throw new ApiException(503, "server_error", "The server is shutting down", null, "shutting_down");
        active.incrementAndGet();
        List<CompletableFuture<float[]>> futures = new ArrayList<>(inputs.size());
        try {
            for (int[] t : inputs) futures.add(engine.submit(t));
            List<float[]> out = new ArrayList<>(futures.size());
            for (CompletableFuture<float[]> f : futures) out.add(f.get());
            return out;
        } catch (EngineException e) {
            throw switch (e.kind()) {
                case QUEUE_FULL -> new ApiException(429, "rate_limit_error", e.getMessage(), null, "queue_full");
                case CONTEXT_TOO_LONG -> ApiException.invalid(field, e.getMessage(), "context_length_exceeded");
                case SHUTDOWN -> new ApiException(503, "server_error", e.getMessage(), null, "shutting_down");
                case INVALID_REQUEST -> ApiException.invalid(field, e.getMessage());
            };
        } catch (ExecutionException e) {
            Throwable c = e.getCause() != null ? e.getCause() : e;
            if (c instanceof EngineException ee && ee.kind() == EngineException.Kind.SHUTDOWN) {
                throw new ApiException(503, "server_error", ee.getMessage(), null, "shutting_down");
            }
            throw new ApiException(500, "server_error", "Embedding failed: " + c.getMessage(), null, null);
        } finally {
            for (CompletableFuture<float[]> f : futures) f.cancel(false); // a failed request's other inputs leave the queue
            active.decrementAndGet();
        }
    }

    private int dimensions(ObjectNode o) {
        JsonNode d = o.get("dimensions");
        if (d == null || d.isNull()) return model.outputDim();
        if (!d.isIntegralNumber() || !d.canConvertToInt()) throw ApiException.invalid("dimensions", "'dimensions' must be an integer, not " + clip(d.toString()));
        try {
            EmbeddingVectors.checkDimensions(model, d.asInt());
        } catch (IllegalArgumentException e) {
            throw ApiException.invalid("dimensions", e.getMessage());
        }
        return d.asInt();
    }

    private static String format(ObjectNode o, Set<String> allowed) {
        JsonNode f = o.get("encoding_format");
        if (f == null || f.isNull()) return "float";
        if (!f.isTextual() || !allowed.contains(f.asText())) {
            throw ApiException.invalid("encoding_format", "'encoding_format' must be one of " + String.join(", ", allowed.stream().sorted().toList())
                    + ", not " + clip(f.toString()));
        }
        return f.asText();
    }

    private static int embdNormalize(ObjectNode o) {
        JsonNode n = o.get("embd_normalize");
        if (n == null || n.isNull()) return 2;
        if (!n.isIntegralNumber() || !n.canConvertToInt() || n.asInt() < -1 || n.asInt() == 1 || n.asInt() > 64) {
            throw ApiException.invalid("embd_normalize", "'embd_normalize' must be -1 (none), 0 (max-abs, int16 range), 2 (euclidean) or a p-norm 3..64, not "
                    + clip(n.toString()));
        }
        return n.asInt();
    }

    /** llama.cpp's common_embd_normalize: -1 none, 0 max-abs scaled to 32760, 2 euclidean, p the p-norm. */
    static float[] normalize(float[] v, int p) {
        if (p == 2) return EmbeddingVectors.normalized(v, v.length);
        double sum;
        if (p == -1) sum = 1;
        else if (p == 0) {
            sum = 0;
            for (float x : v) sum = Math.max(sum, Math.abs(x));
            sum /= 32760.0;
        } else {
            sum = 0;
            for (float x : v) sum += Math.pow(Math.abs(x), p);
            sum = Math.pow(sum, 1.0 / p);
        }
        float scale = sum > 0 ? (float) (1 / sum) : 0f;
        float[] r = new float[v.length];
        for (int i = 0; i < v.length; i++) r[i] = v[i] * scale;
        return r;
    }

    private static ApiException tooManyTokens(String field, long total) {
        return ApiException.invalid(field, "The request has more than " + MAX_REQUEST_TOKENS + " tokens (" + total + " so far); split it", "too_many_tokens");
    }

    private static ObjectNode object(JsonNode body, Set<String> allowed) {
        if (body == null || !body.isObject()) throw ApiException.invalid(null, "The request body must be a JSON object");
        for (Iterator<String> it = body.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!allowed.contains(k)) throw ApiException.invalid(k, "Unrecognized request argument supplied: " + clip(k));
        }
        return (ObjectNode) body;
    }

    private static boolean bool(ObjectNode o, String name, boolean dflt) {
        JsonNode v = o.get(name);
        if (v == null || v.isNull()) return dflt;
        if (!v.isBoolean()) throw ApiException.invalid(name, "'" + name + "' must be a boolean");
        return v.asBoolean();
    }

    private static String string(ObjectNode o, String name) {
        JsonNode v = o.get(name);
        if (v == null || v.isNull()) return null;
        if (!v.isTextual()) throw ApiException.invalid(name, "'" + name + "' must be a string");
        return v.asText();
    }

    private static String clip(String s) {
        return s.length() > 64 ? s.substring(0, 64) + "..." : s;
    }

    // ---- responses ----

    private interface Body {
        void write(JsonGenerator g) throws IOException;
    }

    /**
     * Streams the JSON to the client as it is written: a large answer (2048 inputs of 4096 floats is
     * ~100 MB of text) is never held whole. Everything that can fail has run before the first byte.
     */
    private static void write(Context ctx, Body body) {
        ctx.contentType("application/json");
        try (JsonGenerator g = SluiceServer.JSON.getFactory().createGenerator(ctx.outputStream())) {
            body.write(g);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void floats(JsonGenerator g, float[] v, int from, int to) throws IOException {
        g.writeStartArray();
        for (int i = from; i < to; i++) g.writeNumber(v[i]);
        g.writeEndArray();
    }

    private static void ints(JsonGenerator g, int[] v) throws IOException {
        g.writeArray(v, 0, v.length);
    }
}
