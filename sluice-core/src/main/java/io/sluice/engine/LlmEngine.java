package io.sluice.engine;

import io.sluice.grammar.TokenVocabulary;
import io.sluice.model.KvStore;
import io.sluice.model.Model;
import io.sluice.model.RoutingStats;
import io.sluice.model.tokenizer.Tokenizer;

import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * The serving engine: one thread runs the loop "take new requests and cancellations, let the
 * {@link Scheduler} plan a step, run it". The work is split into rooms, as in vLLM v1: the
 * {@link Scheduler} is policy only (which sequences, how many tokens, preemption), the
 * {@link KvCacheManager} owns the KV blocks and the prefix cache, the {@link ModelRunner} builds
 * the batch and runs ONE {@link Model#forward} over every scheduled token of every sequence, and
 * the {@link OutputProcessor} turns each logits row into the next token (sampling under the
 * sequence's grammar), its text and stop decisions. This class keeps the loop, the request
 * lifecycle (events, finishing, metrics) and the KV pool, one {@link KvStore} sized by a
 * {@link MemoryPlan}.
 *
 * <p>Speculative decoding ({@link Speculation}) adds one room and one step: the {@link Scheduler}
 * asks its {@link DraftPolicy} how many guesses each decoding sequence gets and from which source, a
 * {@link Drafter} (prompt lookup, a draft model, or both) writes them, the runner puts them into the same forward pass, the
 * output processor verifies them, and the refused ones' KV is rolled back.
 *
 * <p>Failures stay local: a failing step ends the requests in it with Finished(ERROR), a listener
 * that throws ends its own request, and the loop keeps serving the others.
 */
public final class LlmEngine implements Engine {
    private static final System.Logger LOG = System.getLogger(LlmEngine.class.getName());
    private static final Object WAKE = new Object();

    private final Model model;
    private final EngineConfig config;
    private final MemoryPlan plan;
    private final Tokenizer tokenizer;
    private final int vocab;
    private final int contextLength;
    private final KvStore kv;
    private final KvCacheManager blocks;
    private final Scheduler scheduler;
    private final ModelRunner runner;
    private final OutputProcessor output;
    private final Speculation speculation;
    /** Null without speculation. */
    private final Drafter drafter;
    private final DraftPolicy draftPolicy;
    private final Thread thread;

    /** New sequences, cancelled sequences, and WAKE, from other threads. */
    private final LinkedBlockingQueue<Object> inbox = new LinkedBlockingQueue<>();
    private final AtomicLong ids = new AtomicLong();
    /** Submitted but not yet taken from the inbox by the engine thread. */
    private final AtomicInteger inboxPending = new AtomicInteger();
    private final List<Consumer<RequestTiming>> finishHooks = new CopyOnWriteArrayList<>();
    private volatile boolean closed;

    private volatile int running;
    private volatile int queued;
    private volatile int kvUsed;
    private volatile int kvCached;
    private volatile long promptTokens;
    private volatile long computedPromptTokens;
    private volatile long generatedTokens;
    private volatile long finishedRequests;
    private volatile long steps;
    /** Verified and kept guesses by source (engine thread writes). */
    private volatile long ngramDrafted, ngramAccepted, draftModelDrafted, draftModelAccepted;

    /** Sizes the KV pool (see {@link MemoryPlan#of}), allocates it and starts the engine thread. */
    public LlmEngine(Model model, EngineConfig config) {
        this(model, config, Speculation.OFF);
    }

    /** As {@link #LlmEngine(Model, EngineConfig)}, decoding speculatively; a draft model's vocabulary must be the target's. */
    public LlmEngine(Model model, EngineConfig config, Speculation speculation) {
        this.model = model;
        this.speculation = speculation;
        this.config = config;
        this.tokenizer = model.tokenizer();
        this.vocab = model.config().vocabSize() > 0 ? model.config().vocabSize() : tokenizer.vocabSize();
        this.plan = MemoryPlan.of(config, model, speculation);
        if (plan.weightBytes() < model.weightBytes()) {
            model.limitResidentWeights(plan.weightBytes());
            LOG.log(Level.INFO, String.format("memory budget: %.1f of %.1f MiB of weights stay resident, the rest is read from the page cache",
                    plan.weightBytes() / 1048576.0, model.weightBytes() / 1048576.0));
        }
        this.kv = new KvStore(model.kvLayout(), plan.numBlocks(), config.kvBlockSize(), config.kvType());
        this.blocks = new KvCacheManager(plan.numBlocks(), config.kvBlockSize(), model.kvLayout().windows());
        // A sequence can never hold more positions than the whole pool (sliding-window groups hold only their windows).
        this.contextLength = (int) Math.min(plan.contextLength(), model.kvLayout().maxTokens(plan.numBlocks(), config.kvBlockSize()));
        int logitRows = MemoryPlan.logitRows(config, speculation);
        Drafter d = null;
        try {
            d = speculation.enabled() ? Drafter.of(speculation, model, config, plan.numBlocks()) : null;
        } catch (RuntimeException e) {
            kv.close();
            throw e;
        }
        this.drafter = d;
        this.draftPolicy = d == null ? null : new DraftPolicy(speculation, contextLength, config.maxBatchedTokens(), d);
        this.scheduler = new Scheduler(blocks, config.maxBatchedTokens(), config.maxSeqs(), draftPolicy, logitRows);
        this.runner = new ModelRunner(model, kv, config, vocab, logitRows);
        this.output = new OutputProcessor(tokenizer, vocab, contextLength);
        this.thread = Thread.ofPlatform().name("sluice-engine").daemon().unstarted(this::loop);
        publishGauges();
        thread.start();
    }

    @Override public Model model() { return model; }

    @Override
    public boolean isAlive() {
        return !closed && thread.isAlive();
    }
    @Override public EngineConfig config() { return config; }

    public Speculation speculation() { return speculation; }

    public MemoryPlan memoryPlan() { return plan; }

    /** The context each sequence gets: the configured (or model's) length, capped by the pool. */
    public int contextLength() { return contextLength; }

    @Override
    public void onRequestFinished(Consumer<RequestTiming> hook) {
        finishHooks.add(hook);
    }

    @Override
    public GenerationHandle submit(GenerationRequest request, Consumer<GenerationEvent> listener) {
        if (closed) throw new EngineException(EngineException.Kind.SHUTDOWN, "the engine is shut down");
        int[] prompt = request.promptTokens();
        if (prompt.length > contextLength) {
            throw new EngineException(EngineException.Kind.CONTEXT_TOO_LONG, "the prompt has " + prompt.length
                    + " tokens but the context holds " + contextLength + " tokens");
        }
        for (int t : prompt) {
            if (t < 0 || t >= vocab) throw new EngineException(EngineException.Kind.INVALID_REQUEST, "token id " + t + " is outside the vocabulary (0.." + (vocab - 1) + ")");
        }
        for (Integer t : request.sampling().logitBias().keySet()) {
            if (t < 0 || t >= vocab) throw new EngineException(EngineException.Kind.INVALID_REQUEST, "logit_bias token id " + t + " is outside the vocabulary");
        }
        if (request.grammar() != null && request.grammar().vocabulary() != TokenVocabulary.of(tokenizer)) {
            throw new EngineException(EngineException.Kind.INVALID_REQUEST, "the grammar was compiled for another vocabulary than this model's");
        }
        Sequence s = new Sequence(ids.incrementAndGet(), request, listener, this);
        synchronized (this) {
            if (closed) {
                throw new EngineException(EngineException.Kind.SHUTDOWN, "the engine is shut down");
            }
            // maxQueue counts requests beyond the free sequence slots; checked and counted under the
            // lock so concurrent submitters cannot overshoot it.
            int free = Math.max(0, config.maxSeqs() - running);
            if (inboxPending.get() + queued - free >= config.maxQueue()) {
                throw new EngineException(EngineException.Kind.QUEUE_FULL, "the engine's queue is full (" + config.maxQueue() + " waiting requests)");
            }
            inboxPending.incrementAndGet();
            inbox.add(s);
        }
        return s;
    }

    void wake(Sequence cancelled) {
        inbox.add(cancelled);
    }

    @Override
    public EngineMetrics metrics() {
        RoutingStats r = model.routingStats();
        return new EngineMetrics(running, inboxPending.get() + queued, blocks.numBlocks(), kvUsed, kvCached,
                scheduler.prefixHitTokens, scheduler.preemptions, promptTokens, computedPromptTokens,
                generatedTokens, finishedRequests, steps, ngramDrafted, ngramAccepted, draftModelDrafted, draftModelAccepted,
                r != null ? r.expertsTouched() : null, r != null ? r.tokensPerExpert() : null);
    }

    @Override
    public void close() {
        synchronized (this) {
            if (closed) return;
            closed = true;
            inbox.add(WAKE);
        }
        EngineThreads.join(thread);
    }

    // ---- engine thread ----

    private void loop() {
        try {
            while (!closed) {
                Object first = scheduler.idle() ? inbox.take() : inbox.poll();
                if (first != null) take(first);
                for (Object o; (o = inbox.poll()) != null; ) take(o);
                if (closed) break;
                if (!scheduler.idle()) {
                    try {
                        step();
                    } catch (RuntimeException | Error e) {
                        // A bug outside the guarded parts: end the running requests, keep serving.
                        LOG.log(Level.ERROR, "engine step failed", e);
                        for (Sequence s : new ArrayList<>(scheduler.running)) finish(s, FinishReason.ERROR, "engine step failed: " + e);
                    }
                }
                publishGauges();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            // Requests submitted before close() that the loop never took.
            for (Object o; (o = inbox.poll()) != null; ) {
                if (o instanceof Sequence s && !s.finished) {
                    if (s.out == null) inboxPending.decrementAndGet();
                    finish(s, FinishReason.CANCELLED, null);
                }
            }
            for (Sequence s : new ArrayList<>(scheduler.running)) finish(s, FinishReason.CANCELLED, null);
            for (Sequence s : new ArrayList<>(scheduler.waiting)) finish(s, FinishReason.CANCELLED, null);
            publishGauges();
            kv.close();
            if (drafter != null) drafter.close();
        }
    }

    private void take(Object o) {
        if (!(o instanceof Sequence s) || s.finished) return;
        try {
            if (s.out == null) {
                init(s);
                if (!s.cancelRequested) scheduler.waiting.addLast(s);
            }
            if (s.cancelRequested) finish(s, FinishReason.CANCELLED, null);
        } catch (RuntimeException | Error e) {
            // One request that cannot even be set up (e.g. out of memory) fails alone; the loop goes on.
            LOG.log(Level.ERROR, "request setup failed", e);
            scheduler.waiting.remove(s);
            if (!s.finished) finish(s, FinishReason.ERROR, "request setup failed: " + e);
        }
    }

    private void init(Sequence s) {
        inboxPending.decrementAndGet(); // first: a failure below must not leave the queue count high
        s.out = output.open(s);
        promptTokens += s.promptLength;
    }

    private void step() {
        List<Scheduler.Work> work;
        try {
            work = scheduler.schedule();
        } catch (RuntimeException | Error e) {
            // A scheduling bug: fail everyone rather than spin on it.
            LOG.log(Level.ERROR, "scheduler failed", e);
            for (Sequence s : new ArrayList<>(scheduler.running)) finish(s, FinishReason.ERROR, "engine scheduling failed: " + e);
            return;
        }
        publishGauges();
        if (work.isEmpty()) return;
        int batchTokens = draft(work);

        long t0 = System.nanoTime();
        try {
            runner.execute(work);
        } catch (RuntimeException | Error e) {
            LOG.log(Level.ERROR, "forward pass failed", e);
            String msg = "forward pass failed: " + (e.getMessage() != null ? e.getMessage() : e.toString());
            for (Scheduler.Work w : work) finish(w.seq(), FinishReason.ERROR, msg);
            return;
        }
        if (draftPolicy != null) draftPolicy.stepTimes.observe(batchTokens, System.nanoTime() - t0);
        steps++;
        computedPromptTokens += runner.promptTokensComputed();

        float[] logits = runner.logits();
        for (int k = 0; k < work.size(); k++) {
            Scheduler.Work w = work.get(k);
            Sequence s = w.seq();
            if (s.finished) continue;
            int row = runner.rowOf(k);
            if (s.draftLen > 0 && row >= 0) {
                verify(s, s.computed + w.tokens(), logits, row);
                continue;
            }
            s.computed += w.tokens();
            if (w.draft() > 0) scheduler.rollBack(s, s.computed); // blocks held for guesses that did not come
            blocks.commit(s.table, s.tokens, s.computed);
            if (row < 0) continue; // a prefill chunk short of the prompt's end
            OutputProcessor.Step out;
            try {
                out = output.next(s, logits, row * vocab);
            } catch (RuntimeException e) {
                // Tokenizer, sampler or grammar trouble with this sequence's token ends only this sequence.
                finish(s, FinishReason.ERROR, "generating the next token failed: " + e);
                continue;
            }
            if (out.event() != null) {
                generatedTokens++;
                if (!deliver(s, out.event())) continue;
            }
            if (out.finish() != null) finish(s, out.finish(), out.error());
        }
    }

    /**
     * Fills the guesses the scheduler made room for (a failing drafter costs only this step's
     * guesses) and returns the step's token count.
     */
    private int draft(List<Scheduler.Work> work) {
        List<Sequence> seqs = new ArrayList<>();
        int[] want = new int[work.size()];
        int tokens = 0;
        for (Scheduler.Work w : work) {
            w.seq().draftLen = 0;
            tokens += w.tokens();
            if (w.draft() > 0) {
                want[seqs.size()] = w.draft();
                seqs.add(w.seq());
            }
        }
        if (seqs.isEmpty()) return tokens;
        try {
            drafter.propose(seqs, Arrays.copyOf(want, seqs.size()));
        } catch (RuntimeException | Error e) {
            LOG.log(Level.WARNING, "drafting failed; this step decodes without guesses", e);
            for (Sequence s : seqs) s.draftLen = 0;
            return tokens;
        }
        for (Sequence s : seqs) {
            output.cutToGrammar(s);
            if (s.draftLen < speculation.draftMin()) s.draftLen = 0;
            tokens += s.draftLen;
        }
        return tokens;
    }

    /**
     * A decoding sequence with guesses after its first `base` positions: verify them, keep the KV
     * of the kept ones (positions up to base + kept - 1), give back the rest, then deliver the tokens.
     */
    private void verify(Sequence s, int base, float[] logits, int row) {
        OutputProcessor.Verified v;
        int guessed = s.draftLen;
        try {
            v = output.verify(s, logits, row * vocab);
        } catch (RuntimeException e) {
            finish(s, FinishReason.ERROR, "generating the next token failed: " + e);
            return;
        } finally {
            s.draftLen = 0;
        }
        DraftPolicy.observe(s, s.draftSource, guessed, v.kept());
        if (s.draftSource == Drafter.Source.NGRAM) {
            ngramDrafted += guessed;
            ngramAccepted += v.kept();
        } else {
            draftModelDrafted += guessed;
            draftModelAccepted += v.kept();
        }
        scheduler.rollBack(s, base + v.kept());
        blocks.commit(s.table, s.tokens, s.computed);
        for (OutputProcessor.Step out : v.steps()) {
            if (out.event() != null) {
                generatedTokens++;
                if (!deliver(s, out.event())) return;
            }
            if (out.finish() != null) {
                finish(s, out.finish(), out.error());
                return;
            }
        }
    }

    /** Sends an event; a throwing listener ends its request. False when the request ended. */
    private boolean deliver(Sequence s, GenerationEvent e) {
        try {
            s.listener.accept(e);
            return true;
        } catch (RuntimeException | Error ex) {
            LOG.log(Level.WARNING, "listener of request " + s.id + " threw; ending the request", ex);
            finish(s, FinishReason.ERROR, "listener failed: " + ex);
            return false;
        }
    }

    private void finish(Sequence s, FinishReason reason, String message) {
        if (s.finished) return;
        s.finished = true;
        scheduler.remove(s);
        if (drafter != null) {
            try {
                drafter.release(s);
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "drafter release failed", e);
            }
        }
        publishGauges();
        finishedRequests++;
        RequestTiming timing = new RequestTiming(s.id, reason, s.usage(), s.arrivalNanos, s.firstScheduledNanos,
                s.firstTokenNanos, System.nanoTime(), Arrays.copyOf(s.gaps, s.gapCount),
                s.drafted[Drafter.Source.NGRAM.ordinal()], s.accepted[Drafter.Source.NGRAM.ordinal()],
                s.drafted[Drafter.Source.DRAFT.ordinal()], s.accepted[Drafter.Source.DRAFT.ordinal()]);
        s.timing = timing;
        s.done = true;
        try {
            s.listener.accept(new GenerationEvent.Finished(reason, s.usage(), reason == FinishReason.ERROR ? message : null));
        } catch (RuntimeException | Error ex) {
            LOG.log(Level.WARNING, "listener of request " + s.id + " threw on Finished", ex);
        }
        for (Consumer<RequestTiming> hook : finishHooks) {
            try {
                hook.accept(timing);
            } catch (RuntimeException | Error ex) {
                LOG.log(Level.WARNING, "request-finished hook threw", ex);
            }
        }
    }

    private void publishGauges() {
        kvUsed = blocks.usedBlocks();
        kvCached = blocks.cachedBlocks();
        running = scheduler.running.size();
        queued = scheduler.waiting.size();
    }

    /** Test hook: checks the block accounting (engine must be idle or closed). */
    void checkBlocks() {
        blocks.checkConsistency();
    }

    KvCacheManager blockManager() {
        return blocks;
    }

    /** Test hook: the draft policy (null without speculation). */
    DraftPolicy draftPolicy() {
        return draftPolicy;
    }

    /** Test hook: the drafter (null without speculation). */
    Drafter drafter() {
        return drafter;
    }
}
