package io.sluice.server;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.javalin.http.Context;
import io.sluice.chat.ChatFormat;
import io.sluice.chat.output.ChatOutput;
import io.sluice.chat.output.OutputDelta;
import io.sluice.chat.output.OutputParser;
import io.sluice.engine.EngineException;
import io.sluice.engine.GenerationEvent;
import io.sluice.engine.GenerationHandle;
import io.sluice.engine.GenerationRequest;
import io.sluice.engine.Usage;
import io.sluice.model.tokenizer.Tokenizer;
import io.sluice.template.Rendered;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static io.sluice.server.SluiceServer.JSON;

/** /v1/chat/completions and /v1/completions: prompt building, generation, JSON and SSE responses. */
final class Completions {
    /** An idle stream gets an SSE comment this often, so a vanished client is noticed while queued. */
    private static final long KEEPALIVE_MS = 10_000;

    private final ServerMetrics metrics;
    private final PromptRenderer renderer;
    private final Set<Run> running = ConcurrentHashMap.newKeySet();
    /** Generation requests inside handle(), counted before the drain check so none slips past a drain. */
    private final AtomicInteger active = new AtomicInteger();
    private volatile boolean draining;
    /** Set by cancelAll: a generation submitted concurrently cancels itself. */
    private volatile boolean cancelling;

    Completions(ServerMetrics metrics, PromptRenderer renderer) {
        this.metrics = metrics;
        this.renderer = renderer;
    }

    /** A submitted generation: engine events, stamped on arrival, in a queue the HTTP thread drains. */
    private final class Run {
        record Stamped(GenerationEvent event, long nanos) {
        }

        final LinkedBlockingQueue<Stamped> events = new LinkedBlockingQueue<>();
        final long submitted = System.nanoTime();
        GenerationHandle handle;
        long lastToken = -1;
        boolean finished;

        /** Next event, or null after timeoutMs; records latency metrics as tokens arrive. */
        GenerationEvent next(long timeoutMs) throws InterruptedException {
            Stamped s = events.poll(timeoutMs, TimeUnit.MILLISECONDS);
            if (s == null) return null;
            if (s.event() instanceof GenerationEvent.Token) {
                if (lastToken < 0) metrics.firstToken(s.nanos() - submitted);
                else metrics.interToken(s.nanos() - lastToken);
                lastToken = s.nanos();
            } else {
                finished = true;
                metrics.finished(s.nanos() - submitted);
            }
            return s.event();
        }
    }

    /** Cancels every running generation (server shutdown). */
    void cancelAll() {
        cancelling = true;
        for (Run r : running) r.handle.cancel();
    }

    /** From now on new generations are refused with 503. */
    void startDraining() {
        draining = true;
    }

    int active() {
        return active.get();
    }

    /** Waits until no generation request is in flight or the deadline (System.nanoTime) passes; true when none is. */
    boolean awaitIdle(long deadline) {
        while (active.get() > 0) {
            if (System.nanoTime() - deadline >= 0) return false;
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return active.get() == 0;
            }
        }
        return true;
    }

    void handle(Context ctx, ModelState s, ParsedRequest p) throws InterruptedException {
        active.incrementAndGet();
        try {
            if (draining) throw new ApiException(503, "server_error", "The server is shutting down; retry on another instance", null, "shutting_down");
            generate(ctx, s, p);
        } finally {
            active.decrementAndGet();
        }
    }

    private void generate(Context ctx, ModelState s, ParsedRequest p) throws InterruptedException {
        if (p.model() != null && !p.model().equals(s.alias())) {
            throw new ApiException(404, "invalid_request_error", "The model '" + p.model() + "' does not exist (this server serves '" + s.alias() + "')", "model", "model_not_found");
        }
        ChatFormat.Answer answer = null;
        int[] prompt;
        if (p.isChat()) {
            Rendered rendered = renderPrompt(s, p);
            String text = rendered.text();
            prompt = chatPrompt(s, rendered);
            answer = ChatAnswer.of(s, p, text);
            if (answer.grammar() != null) p = p.withGrammar(answer.grammar());
        } else {
            prompt = completionPrompt(s, p);
        }
        if (prompt.length == 0) throw ApiException.invalid(p.isChat() ? "messages" : "prompt", "the prompt is empty after tokenization");
        if (prompt.length >= s.contextLength()) {
            throw ApiException.invalid(p.isChat() ? "messages" : "prompt", "This model's maximum context length is " + s.contextLength()
                    + " tokens, however your prompt has " + prompt.length + " tokens (at least one token must be left to generate).", "context_length_exceeded");
        }
        GenerationRequest req;
        try {
            req = new GenerationRequest(prompt, p.sampling(), p.maxTokens(), p.stop(), p.ignoreEos(), p.topLogprobs(), p.grammar());
        } catch (IllegalArgumentException e) {
            throw ApiException.invalid(null, e.getMessage());
        }
        Run run = new Run();
        try {
            run.handle = s.engine().submit(req, ev -> run.events.add(new Run.Stamped(ev, System.nanoTime())));
        } catch (EngineException e) {
            throw engineError(e);
        } catch (IllegalArgumentException e) {
            throw ApiException.invalid(null, e.getMessage());
        }
        running.add(run);
        if (cancelling) run.handle.cancel(); // cancelAll ran between submit and add
        try {
            String id = (p.isChat() ? "chatcmpl-" : "cmpl-") + UUID.randomUUID().toString().replace("-", "");
            long created = System.currentTimeMillis() / 1000;
            if (p.stream()) stream(ctx, s, p, answer, run, id, created);
            else respond(ctx, s, p, answer, run, id, created);
        } finally {
            running.remove(run);
            if (!run.finished) run.handle.cancel(); // client gone or handler failed: free the KV blocks
        }
    }

    static ApiException engineError(EngineException e) {
        return switch (e.kind()) {
            case QUEUE_FULL -> new ApiException(429, "rate_limit_error", e.getMessage(), null, "queue_full");
            case CONTEXT_TOO_LONG -> ApiException.invalid("messages", e.getMessage(), "context_length_exceeded");
            case SHUTDOWN -> new ApiException(503, "server_error", e.getMessage(), null, "shutting_down");
            case INVALID_REQUEST -> ApiException.invalid(null, e.getMessage());
        };
    }

    /**
     * The model's chat template applied to the request (what /apply-template returns); tools go to the
     * template, or into the conversation for templates that know none (the generic format).
     */
    Rendered renderPrompt(ModelState s, ParsedRequest p) throws InterruptedException {
        ChatInput input = p.chat();
        ChatFormat.Conversation c = s.format().conversation(input.messages(), input.tools(), p.tools());
        return renderer.render(s.template(), input.withMessages(c.messages()).withTools(c.tools()), s.bosText(), s.eosText());
    }

    private static int[] chatPrompt(ModelState s, Rendered prompt) {
        // Special tokens parsed only in the template's own text: <|im_end|> typed in a message, a tool or a
        // kwarg stays plain text, so request data cannot close its turn and forge another (prompt injection).
        return s.format().tokens(prompt);
    }

    private static int[] completionPrompt(ModelState s, ParsedRequest p) {
        if (p.promptTokens() != null) return p.promptTokens();
        // A raw completion prompt is the client's whole prompt, template markers and all (it may send token
        // ids as well): special tokens are parsed in it, as llama-server does.
        return s.tokenizer().encode(p.promptText(), true, true);
    }

    // ---- non-streaming ----

    private void respond(Context ctx, ModelState s, ParsedRequest p, ChatFormat.Answer answer, Run run, String id, long created) throws InterruptedException {
        StringBuilder text = new StringBuilder();
        ChatOutput parsed = answer != null && answer.parser() != null ? new ChatOutput() : null;
        Logprobs lp = p.topLogprobs() >= 0 ? new Logprobs(s.tokenizer(), p.isChat()) : null;
        GenerationEvent.Finished fin;
        while (true) {
            GenerationEvent ev = run.next(Long.MAX_VALUE);
            if (ev instanceof GenerationEvent.Token t) {
                if (lp != null) lp.add(t, text.length());
                text.append(t.text());
                if (parsed != null) parsed.addAll(answer.parser().push(answer.piece(t)));
            } else {
                fin = (GenerationEvent.Finished) ev;
                break;
            }
        }
        String finish = finishReason(fin);
        if (parsed != null) {
            parsed.addAll(answer.parser().finish());
            if (!parsed.calls().isEmpty() && finish.equals("stop")) finish = "tool_calls";
        }
        ObjectNode out = base(id, p.isChat() ? "chat.completion" : "text_completion", created, s.alias());
        ObjectNode choice = out.putArray("choices").addObject();
        choice.put("index", 0);
        if (p.isChat()) {
            ObjectNode msg = choice.putObject("message");
            msg.put("role", "assistant");
            if (parsed == null) {
                msg.put("content", text.toString());
            } else {
                msg.put("content", parsed.content());
                if (parsed.reasoning() != null) msg.put("reasoning_content", parsed.reasoning());
                if (!parsed.calls().isEmpty()) {
                    ArrayNode calls = msg.putArray("tool_calls");
                    for (OutputDelta.Call c : parsed.calls()) {
                        ObjectNode call = calls.addObject();
                        call.put("id", c.id());
                        call.put("type", "function");
                        call.putObject("function").put("name", c.name()).put("arguments", c.arguments());
                    }
                }
            }
            msg.putNull("refusal");
        } else {
            choice.put("text", text.toString());
        }
        if (lp != null) choice.set("logprobs", lp.json());
        else choice.putNull("logprobs");
        choice.put("finish_reason", finish);
        out.set("usage", usage(fin.usage()));
        ctx.contentType("application/json").result(out.toString());
    }

    /** OpenAI's finish_reason, or an ApiException when the engine cancelled or failed the request itself. */
    private static String finishReason(GenerationEvent.Finished fin) {
        return switch (fin.reason()) {
            case STOP -> "stop";
            case LENGTH -> "length";
            case CANCELLED -> throw new ApiException(503, "server_error", "The generation was cancelled: the server is shutting down "
                    + "and its drain time ran out", null, "cancelled");
            case ERROR -> throw new ApiException(500, "server_error", "The engine failed this request: " + fin.message(), null, "engine_error");
        };
    }

    private static ObjectNode base(String id, String object, long created, String model) {
        ObjectNode o = JSON.createObjectNode();
        o.put("id", id);
        o.put("object", object);
        o.put("created", created);
        o.put("model", model);
        o.put("system_fingerprint", "sluice");
        return o;
    }

    private static ObjectNode usage(Usage u) {
        ObjectNode o = JSON.createObjectNode();
        int prompt = u == null ? 0 : u.promptTokens();
        int completion = u == null ? 0 : u.completionTokens();
        o.put("prompt_tokens", prompt);
        o.put("completion_tokens", completion);
        o.put("total_tokens", prompt + completion);
        o.putObject("prompt_tokens_details").put("cached_tokens", u == null ? 0 : u.cachedPromptTokens());
        return o;
    }

    // ---- streaming ----

    private void stream(Context ctx, ModelState s, ParsedRequest p, ChatFormat.Answer answer, Run run, String id, long created) throws InterruptedException {
        OutputParser parser = answer == null ? null : answer.parser();
        boolean called = false;
        ctx.status(200);
        var res = ctx.res();
        res.setContentType("text/event-stream");
        res.setCharacterEncoding("UTF-8");
        res.setHeader("Cache-Control", "no-cache");
        res.setHeader("X-Accel-Buffering", "no"); // tell reverse proxies not to buffer the stream
        String object = p.isChat() ? "chat.completion.chunk" : "text_completion";
        try {
            OutputStream out = res.getOutputStream();
            if (p.isChat()) {
                ObjectNode first = chunk(id, object, created, s.alias(), p);
                ObjectNode delta = choice(first).putObject("delta");
                delta.put("role", "assistant");
                delta.put("content", "");
                choice(first).putNull("logprobs");
                choice(first).putNull("finish_reason");
                send(out, first.toString());
            }
            int offset = 0;
            while (true) {
                GenerationEvent ev = run.next(KEEPALIVE_MS);
                if (ev == null) {
                    out.write(": keep-alive\n\n".getBytes(StandardCharsets.UTF_8));
                    out.flush();
                    continue;
                }
                if (ev instanceof GenerationEvent.Token t && parser != null) {
                    // Parsed answers stream what the parser decides (logprobs are only in the whole answer).
                    List<OutputDelta> ds = parser.push(answer.piece(t));
                    called |= sendDeltas(out, ds, id, object, created, s, p);
                    continue;
                }
                if (ev instanceof GenerationEvent.Token t) {
                    if (t.text().isEmpty() && p.topLogprobs() < 0) continue; // mid-character or a possible stop string
                    ObjectNode c = chunk(id, object, created, s.alias(), p);
                    ObjectNode ch = choice(c);
                    if (p.isChat()) ch.putObject("delta").put("content", t.text());
                    else ch.put("text", t.text());
                    if (p.topLogprobs() >= 0) {
                        Logprobs lp = new Logprobs(s.tokenizer(), p.isChat());
                        lp.add(t, offset);
                        ch.set("logprobs", lp.json());
                    } else {
                        ch.putNull("logprobs");
                    }
                    ch.putNull("finish_reason");
                    offset += t.text().length();
                    send(out, c.toString());
                    continue;
                }
                GenerationEvent.Finished fin = (GenerationEvent.Finished) ev;
                String finish;
                try {
                    finish = finishReason(fin);
                } catch (ApiException e) {
                    send(out, SluiceServer.errorJson(e).toString());
                    send(out, "[DONE]");
                    out.close();
                    return;
                }
                if (parser != null) {
                    called |= sendDeltas(out, parser.finish(), id, object, created, s, p);
                    if (called && finish.equals("stop")) finish = "tool_calls";
                }
                ObjectNode last = chunk(id, object, created, s.alias(), p);
                ObjectNode ch = choice(last);
                if (p.isChat()) ch.putObject("delta");
                else ch.put("text", "");
                ch.putNull("logprobs");
                ch.put("finish_reason", finish);
                send(out, last.toString());
                if (p.includeUsage()) {
                    ObjectNode u = base(id, object, created, s.alias());
                    u.putArray("choices");
                    u.set("usage", usage(fin.usage()));
                    send(out, u.toString());
                }
                send(out, "[DONE]");
                // Completes the response (the last chunk) before the handler counts as done, so a drain
                // that sees no request in flight never closes a connection under a stream's last bytes.
                out.close();
                return;
            }
        } catch (IOException e) {
            // The client closed the connection: stop generating for it (run() cancels in its finally).
            metrics.cancelledByClient();
            run.handle.cancel();
        }
    }

    /**
     * OpenAI's chat deltas for parsed output: content, reasoning_content, and per tool call a first delta
     * with its index, id, type and name, then its arguments in pieces. True when a call was sent.
     */
    private static boolean sendDeltas(OutputStream out, List<OutputDelta> ds, String id, String object, long created, ModelState s,
                                      ParsedRequest p) throws IOException {
        boolean called = false;
        for (OutputDelta d : ds) {
            switch (d) {
                case OutputDelta.Content c -> send(out, delta(id, object, created, s, p, x -> x.put("content", c.text())).toString());
                case OutputDelta.Reasoning r -> send(out, delta(id, object, created, s, p, x -> x.put("reasoning_content", r.text())).toString());
                case OutputDelta.Call c -> {
                    called = true;
                    send(out, delta(id, object, created, s, p, x -> {
                        ObjectNode call = x.putArray("tool_calls").addObject();
                        call.put("index", c.index()).put("id", c.id()).put("type", "function");
                        call.putObject("function").put("name", c.name()).put("arguments", "");
                    }).toString());
                    for (String piece : pieces(c.arguments())) {
                        send(out, delta(id, object, created, s, p, x -> x.putArray("tool_calls").addObject().put("index", c.index())
                                .putObject("function").put("arguments", piece)).toString());
                    }
                }
            }
        }
        return called;
    }

    private static ObjectNode delta(String id, String object, long created, ModelState s, ParsedRequest p, java.util.function.Consumer<ObjectNode> fill) {
        ObjectNode c = chunk(id, object, created, s.alias(), p);
        ObjectNode ch = choice(c);
        fill.accept(ch.putObject("delta"));
        ch.putNull("logprobs");
        ch.putNull("finish_reason");
        return c;
    }

    /** A call's arguments as streamed: pieces of up to 24 characters, never splitting a surrogate pair. */
    static List<String> pieces(String s) {
        List<String> out = new java.util.ArrayList<>();
        int i = 0;
        while (i < s.length()) {
            int j = Math.min(s.length(), i + 24);
            if (j < s.length() && Character.isHighSurrogate(s.charAt(j - 1))) j--;
            out.add(s.substring(i, j));
            i = j;
        }
        return out;
    }

    private static ObjectNode chunk(String id, String object, long created, String model, ParsedRequest p) {
        ObjectNode c = base(id, object, created, model);
        c.putArray("choices").addObject().put("index", 0);
        if (p.includeUsage()) c.putNull("usage");
        return c;
    }

    private static ObjectNode choice(ObjectNode chunk) {
        return (ObjectNode) chunk.get("choices").get(0);
    }

    private static void send(OutputStream out, String data) throws IOException {
        out.write(("data: " + data + "\n\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    /** Builds OpenAI logprobs: chat's {content:[{token,logprob,bytes,top_logprobs}]} or completions' parallel arrays. */
    private static final class Logprobs {
        private final Tokenizer tok;
        private final boolean chat;
        private final ArrayNode content = JSON.createArrayNode();
        private final ArrayNode tokens = JSON.createArrayNode();
        private final ArrayNode tokenLogprobs = JSON.createArrayNode();
        private final ArrayNode topLogprobs = JSON.createArrayNode();
        private final ArrayNode textOffset = JSON.createArrayNode();

        Logprobs(Tokenizer tok, boolean chat) {
            this.tok = tok;
            this.chat = chat;
        }

        void add(GenerationEvent.Token t, int offset) {
            if (chat) {
                ObjectNode e = entry(t.id(), t.logprob());
                ArrayNode top = e.putArray("top_logprobs");
                if (t.topLogprobs() != null) for (var alt : t.topLogprobs()) top.add(entry(alt.id(), alt.logprob()));
                content.add(e);
            } else {
                tokens.add(tokenString(t.id()));
                tokenLogprobs.add(t.logprob());
                ObjectNode top = JSON.createObjectNode();
                if (t.topLogprobs() != null) for (var alt : t.topLogprobs()) top.put(tokenString(alt.id()), alt.logprob());
                topLogprobs.add(top);
                textOffset.add(offset);
            }
        }

        private ObjectNode entry(int id, float logprob) {
            ObjectNode e = JSON.createObjectNode();
            byte[] bytes = tokenBytes(id);
            e.put("token", new String(bytes, StandardCharsets.UTF_8));
            e.put("logprob", logprob);
            ArrayNode b = e.putArray("bytes");
            for (byte x : bytes) b.add(x & 0xff);
            return e;
        }

        private String tokenString(int id) {
            return new String(tokenBytes(id), StandardCharsets.UTF_8);
        }

        private byte[] tokenBytes(int id) {
            try {
                byte[] b = tok.tokenBytes(id);
                return b == null ? new byte[0] : b;
            } catch (RuntimeException e) {
                return new byte[0];
            }
        }

        ObjectNode json() {
            ObjectNode o = JSON.createObjectNode();
            if (chat) {
                o.set("content", content);
                o.putNull("refusal");
            } else {
                o.set("tokens", tokens);
                o.set("token_logprobs", tokenLogprobs);
                o.set("top_logprobs", topLogprobs);
                o.set("text_offset", textOffset);
            }
            return o;
        }
    }
}
