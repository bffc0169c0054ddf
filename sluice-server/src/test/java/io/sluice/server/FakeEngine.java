package io.sluice.server;

import io.sluice.engine.Engine;
import io.sluice.engine.EngineConfig;
import io.sluice.engine.EngineException;
import io.sluice.engine.EngineMetrics;
import io.sluice.engine.FinishReason;
import io.sluice.engine.GenerationEvent;
import io.sluice.engine.GenerationHandle;
import io.sluice.engine.GenerationRequest;
import io.sluice.engine.Usage;
import io.sluice.gguf.GGUFFile;
import io.sluice.model.Batch;
import io.sluice.model.KvLayout;
import io.sluice.model.KvStore;
import io.sluice.model.Model;
import io.sluice.model.ModelConfig;
import io.sluice.model.tokenizer.Tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * A test engine: byte-level tokenizer (ids 0..255 = bytes, 256 = BOS, 257 = EOS), and a "model" that
 * writes {@link #script} one character per token, then EOS. Each request runs on its own virtual
 * thread, optionally slowly, so cancellation and queueing can be observed.
 */
final class FakeEngine implements Engine {
    static final int BOS = 256, EOS = 257, VOCAB = 258;

    volatile String script = "Once upon a time there was a cat.";
    volatile long tokenDelayMs;
    /** When set, submit() throws it (e.g. QUEUE_FULL). */
    volatile EngineException refuse;
    final int contextLength;
    final List<GenerationRequest> requests = new CopyOnWriteArrayList<>();
    final AtomicInteger running = new AtomicInteger();
    final AtomicInteger cancelled = new AtomicInteger();
    final AtomicLong ids = new AtomicLong();
    private final FakeModel model;

    FakeEngine(int contextLength) {
        this.contextLength = contextLength;
        this.model = new FakeModel(contextLength);
    }

    @Override
    public GenerationHandle submit(GenerationRequest request, Consumer<GenerationEvent> listener) {
        if (refuse != null) throw refuse;
        if (request.promptTokens().length > contextLength) throw new EngineException(EngineException.Kind.CONTEXT_TOO_LONG, "too long");
        requests.add(request);
        Handle h = new Handle(ids.incrementAndGet());
        running.incrementAndGet();
        Thread.ofVirtual().start(() -> run(request, listener, h));
        return h;
    }

    private void run(GenerationRequest r, Consumer<GenerationEvent> listener, Handle h) {
        int prompt = r.promptTokens().length;
        int limit = r.maxTokens() > 0 ? Math.min(r.maxTokens(), contextLength - prompt) : contextLength - prompt;
        StringBuilder out = new StringBuilder();
        StringBuilder pending = new StringBuilder();
        int n = 0;
        FinishReason reason = FinishReason.LENGTH;
        try {
            String text = script;
            while (n < limit) {
                if (h.cancelled) {
                    reason = FinishReason.CANCELLED;
                    cancelled.incrementAndGet();
                    break;
                }
                if (tokenDelayMs > 0) Thread.sleep(tokenDelayMs);
                if (n >= text.length()) { // the script is done: EOS
                    n++;
                    reason = FinishReason.STOP;
                    break;
                }
                char c = text.charAt(n++);
                out.append(c);
                String stopHit = null;
                for (String s : r.stop()) if (out.toString().endsWith(s)) stopHit = s;
                if (stopHit != null) {
                    reason = FinishReason.STOP;
                    break;
                }
                // Like the real engine: hold text back while it could still become a stop string.
                pending.append(c);
                boolean mayStop = false;
                for (String s : r.stop()) {
                    for (int k = 1; k < s.length() && !mayStop; k++) mayStop = out.toString().endsWith(s.substring(0, k));
                }
                String emit = mayStop ? "" : pending.toString();
                if (!mayStop) pending.setLength(0);
                List<GenerationEvent.TopLogprob> tops = new ArrayList<>();
                for (int k = 0; k < Math.max(0, r.topLogprobs()); k++) tops.add(new GenerationEvent.TopLogprob((c + k) % 256, String.valueOf((char) ((c + k) % 256)), -0.25f * (k + 1)));
                listener.accept(new GenerationEvent.Token(c, emit, -0.25f, r.topLogprobs() >= 0 ? tops : List.of()));
            }
        } catch (InterruptedException e) {
            reason = FinishReason.ERROR;
        }
        running.decrementAndGet();
        h.done = true;
        listener.accept(new GenerationEvent.Finished(reason, new Usage(prompt, n, 0), reason == FinishReason.ERROR ? "interrupted" : null));
    }

    private static final class Handle implements GenerationHandle {
        final long id;
        volatile boolean cancelled, done;

        Handle(long id) {
            this.id = id;
        }

        @Override
        public long id() {
            return id;
        }

        @Override
        public void cancel() {
            cancelled = true;
        }

        @Override
        public boolean isDone() {
            return done;
        }
    }

    @Override
    public Model model() {
        return model;
    }

    @Override
    public EngineConfig config() {
        return new EngineConfig(0, 0, 16, io.sluice.gguf.GGMLType.F16, 512, 16, 256, contextLength);
    }

    @Override
    public EngineMetrics metrics() {
        // Speculation's counters by source: prompt lookup 30 drafted / 20 kept, the draft model 10 / 4.
        return new EngineMetrics(running.get(), 0, 100, running.get() * 2, 3, 7, 0, 0, 0, 0, ids.get(), 0, 30, 20, 10, 4, null, null);
    }

    volatile boolean alive = true;

    @Override
    public boolean isAlive() {
        return alive;
    }

    @Override
    public void close() {
    }

    static final class FakeModel implements Model {
        private final ModelConfig config;
        private final Tokenizer tokenizer = new ByteTokenizer();

        FakeModel(int ctx) {
            config = new ModelConfig("llama", 8, 1, VOCAB, ctx);
        }

        @Override
        public KvLayout kvLayout() {
            return KvLayout.uniform(1, 1, 8);
        }

        @Override
        public long activationBytes(int tokens) {
            return 0;
        }

        @Override
        public int activationWidth() {
            return 8;
        }

        @Override
        public ModelConfig config() {
            return config;
        }

        @Override
        public Tokenizer tokenizer() {
            return tokenizer;
        }

        @Override
        public GGUFFile file() {
            return null;
        }

        @Override
        public void forward(Batch batch, KvStore kv, float[] logits) {
            throw new UnsupportedOperationException();
        }

        @Override
        public long weightBytes() {
            return 0;
        }

        @Override
        public void close() {
        }
    }

    /** UTF-8 bytes as tokens; "<s>" and "</s>" are the special BOS and EOS when parseSpecial. */
    static final class ByteTokenizer implements Tokenizer {
        @Override
        public int[] encode(String text, boolean addSpecial, boolean parseSpecial) {
            List<Integer> ids = new ArrayList<>();
            if (addSpecial) ids.add(BOS);
            int i = 0;
            while (i < text.length()) {
                if (parseSpecial && text.startsWith("<s>", i)) {
                    ids.add(BOS);
                    i += 3;
                } else if (parseSpecial && text.startsWith("</s>", i)) {
                    ids.add(EOS);
                    i += 4;
                } else {
                    int cp = text.codePointAt(i);
                    for (byte b : new String(Character.toChars(cp)).getBytes(StandardCharsets.UTF_8)) ids.add(b & 0xff);
                    i += Character.charCount(cp);
                }
            }
            return ids.stream().mapToInt(Integer::intValue).toArray();
        }

        @Override
        public int vocabSize() {
            return VOCAB;
        }

        @Override
        public String tokenText(int id) {
            return id == BOS ? "<s>" : id == EOS ? "</s>" : String.valueOf((char) id);
        }

        @Override
        public byte[] tokenBytes(int id) {
            return id >= 256 ? tokenText(id).getBytes(StandardCharsets.UTF_8) : new byte[]{(byte) id};
        }

        @Override
        public String decode(int[] ids) {
            StringBuilder sb = new StringBuilder();
            for (int id : ids) sb.append(tokenText(id));
            return sb.toString();
        }

        @Override
        public int bos() {
            return BOS;
        }

        @Override
        public int eos() {
            return EOS;
        }

        @Override
        public boolean addBos() {
            return true;
        }

        @Override
        public boolean addEos() {
            return false;
        }

        @Override
        public boolean isEog(int id) {
            return id == EOS;
        }

        @Override
        public boolean isControl(int id) {
            return id >= 256;
        }
    }
}
