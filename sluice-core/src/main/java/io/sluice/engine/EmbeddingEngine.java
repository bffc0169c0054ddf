package io.sluice.engine;

import io.sluice.model.Batch;
import io.sluice.model.EmbeddingModel;
import io.sluice.model.nn.Pooling;

import java.lang.System.Logger.Level;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The embedding engine: {@link LlmEngine}'s loop without a KV cache. One thread takes the queued
 * inputs, packs as many whole sequences as fit a token budget ({@code maxBatchedTokens}, and at
 * most {@code maxSeqs}) into ONE {@link EmbeddingModel#encode} pass, completes their futures and
 * goes on, so concurrent requests share passes and throughput grows with concurrency. A
 * sequence longer than the budget runs alone (an encoder needs a sequence whole).
 *
 * <p>Conventions as the generation engine's: {@link #submit} refuses at once with an
 * {@link EngineException} (input longer than the context, token outside the vocabulary, queue
 * full, shut down); a failing pass fails only its own inputs and the loop keeps serving; close()
 * cancels what is still queued.
 */
public final class EmbeddingEngine implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(EmbeddingEngine.class.getName());

    /** Counters since start: inputs encoded, their tokens, passes run; inputs waiting now. */
    public record Stats(long inputs, long tokens, long passes, int waiting) {
    }

    private record Job(int[] tokens, CompletableFuture<float[]> result) {
    }

    private static final Job STOP = new Job(new int[0], null);

    private final EmbeddingModel model;
    private final EngineConfig config;
    private final int contextLength;
    private final int vocab;
    private final Batch batch;
    private final float[] out;
    private final Thread thread;
    private final LinkedBlockingQueue<Job> inbox = new LinkedBlockingQueue<>();
    private final ArrayDeque<Job> pending = new ArrayDeque<>();
    private final AtomicInteger waiting = new AtomicInteger();
    private volatile boolean closed;
    private volatile long inputs, tokens, passes;

    /**
     * Starts the engine thread. {@code config}'s maxBatchedTokens is the token budget of a pass,
     * maxSeqs its sequences, maxQueue the waiting inputs, contextLength the longest input (0: the
     * model's), memoryBudgetBytes (when set) must hold the weights and a pass's work buffers.
     */
    public EmbeddingEngine(EmbeddingModel model, EngineConfig config) {
        this.model = model;
        this.config = config;
        int modelCtx = model.config().contextLength();
        if (config.contextLength() > modelCtx) {
            throw new EngineException(EngineException.Kind.INVALID_REQUEST, "--ctx-size " + config.contextLength()
                    + " exceeds the model's context of " + modelCtx + " tokens");
        }
        this.contextLength = config.contextLength() > 0 ? config.contextLength() : modelCtx;
        this.vocab = model.config().vocabSize();
        int capacity = Math.max(config.maxBatchedTokens(), contextLength);
        long act = model.activationBytes(capacity);
        if (config.memoryBudgetBytes() > 0 && model.weightBytes() + act > config.memoryBudgetBytes()) {
            throw new EngineException(EngineException.Kind.INVALID_REQUEST, String.format(
                    "the model does not fit the memory budget of %.1f MiB: weights %.1f MiB + work buffers for %d tokens %.1f MiB",
                    config.memoryBudgetBytes() / 1048576.0, model.weightBytes() / 1048576.0, capacity, act / 1048576.0));
        }
        this.batch = new Batch(capacity, config.maxSeqs());
        int rows = model.pooling() == Pooling.NONE ? capacity : config.maxSeqs();
        this.out = new float[rows * model.outputDim()];
        this.thread = Thread.ofPlatform().name("sluice-embedding").daemon().unstarted(this::loop);
        thread.start();
    }

    public EmbeddingModel model() {
        return model;
    }

    public EngineConfig config() {
        return config;
    }

    /** The longest input accepted, in tokens. */
    public int contextLength() {
        return contextLength;
    }

    public boolean isAlive() {
        return !closed && thread.isAlive();
    }

    public Stats stats() {
        return new Stats(inputs, tokens, passes, waiting.get());
    }

    /**
     * Queues one input (token ids, special tokens included); the future completes with its
     * pooled output: {@link EmbeddingModel#outputDim()} floats, not normalised ({@link Pooling#NONE}:
     * one such row per token). Cancelling the future before its pass drops it.
     */
    public CompletableFuture<float[]> submit(int[] tokens) {
        if (tokens == null || tokens.length == 0) throw new EngineException(EngineException.Kind.INVALID_REQUEST, "an input must have at least one token");
        if (tokens.length > contextLength) {
            throw new EngineException(EngineException.Kind.CONTEXT_TOO_LONG, "the input has " + tokens.length
                    + " tokens but the model's context holds " + contextLength + " tokens");
        }
        for (int t : tokens) {
            if (t < 0 || t >= vocab) throw new EngineException(EngineException.Kind.INVALID_REQUEST, "token id " + t + " is outside the vocabulary (0.." + (vocab - 1) + ")");
        }
        Job j = new Job(tokens.clone(), new CompletableFuture<>());
        synchronized (this) {
            if (closed) throw new EngineException(EngineException.Kind.SHUTDOWN, "the engine is shut down");
            if (waiting.get() >= config.maxQueue() + config.maxSeqs()) {
                throw new EngineException(EngineException.Kind.QUEUE_FULL, "the engine's queue is full (" + config.maxQueue() + " waiting inputs)");
            }
            waiting.incrementAndGet();
            inbox.add(j);
        }
        return j.result;
    }

    @Override
    public void close() {
        synchronized (this) {
            if (closed) return;
            closed = true;
            inbox.add(STOP);
        }
        EngineThreads.join(thread);
    }

    // ---- engine thread ----

    private void loop() {
        try {
            while (!closed) {
                if (pending.isEmpty()) take(inbox.take());
                for (Job j; (j = inbox.poll()) != null; ) take(j);
                if (closed) break;
                if (!pending.isEmpty()) pass();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            for (Job j; (j = inbox.poll()) != null; ) pending.add(j);
            for (Job j : pending) {
                if (j != STOP) {
                    waiting.decrementAndGet();
                    j.result.completeExceptionally(new EngineException(EngineException.Kind.SHUTDOWN, "the engine is shut down"));
                }
            }
            pending.clear();
        }
    }

    private void take(Job j) {
        if (j != STOP) pending.addLast(j);
    }

    /** One encode over the queued inputs that fit the budget, in arrival order. */
    private void pass() {
        batch.clear();
        List<Job> in = new ArrayList<>();
        int budget = config.maxBatchedTokens();
        while (!pending.isEmpty() && in.size() < config.maxSeqs()) {
            Job j = pending.peekFirst();
            if (j.result.isDone()) { // cancelled by its caller
                pending.pollFirst();
                waiting.decrementAndGet();
                continue;
            }
            if (!in.isEmpty() && batch.size + j.tokens.length > budget) break;
            pending.pollFirst();
            in.add(j);
            int s = batch.addSequence(null);
            for (int i = 0; i < j.tokens.length; i++) batch.add(j.tokens[i], i, s, false);
        }
        if (in.isEmpty()) return;
        try {
            model.encode(batch, out);
        } catch (RuntimeException | Error e) {
            LOG.log(Level.ERROR, "embedding pass failed", e);
            String msg = "encoding failed: " + (e.getMessage() != null ? e.getMessage() : e.toString());
            for (Job j : in) {
                waiting.decrementAndGet();
                j.result.completeExceptionally(new IllegalStateException(msg, e));
            }
            return;
        }
        passes++;
        int width = model.outputDim(), row = 0;
        for (Job j : in) {
            int rows = model.pooling() == Pooling.NONE ? j.tokens.length : 1;
            float[] v = new float[rows * width];
            System.arraycopy(out, row * width, v, 0, v.length);
            row += rows;
            inputs++;
            tokens += j.tokens.length;
            waiting.decrementAndGet();
            j.result.complete(v);
        }
    }
}
