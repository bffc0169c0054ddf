package io.sluice.server;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.sluice.engine.EmbeddingEngine;
import io.sluice.engine.Engine;
import io.sluice.engine.EngineMetrics;
import io.sluice.model.RoutingStats;
import io.prometheus.metrics.model.registry.Collector;
import io.prometheus.metrics.model.snapshots.ClassicHistogramBuckets;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.function.ToDoubleFunction;

/** Prometheus metrics: HTTP requests and latencies measured here, engine counters read from EngineMetrics. */
final class ServerMetrics {
    private static final EngineMetrics EMPTY = new EngineMetrics(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    private static final Duration[] LATENCY_BUCKETS = {
            Duration.ofMillis(1), Duration.ofMillis(2), Duration.ofMillis(5), Duration.ofMillis(10), Duration.ofMillis(20),
            Duration.ofMillis(50), Duration.ofMillis(100), Duration.ofMillis(200), Duration.ofMillis(500), Duration.ofSeconds(1),
            Duration.ofSeconds(2), Duration.ofSeconds(5), Duration.ofSeconds(10), Duration.ofSeconds(30), Duration.ofSeconds(60)};

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final Supplier<Engine> engine;
    private final Timer ttft;
    private final Timer interToken;
    private final Timer requestDuration;
    private final Counter cancelled;
    // One engine snapshot per scrape, so all engine series in a scrape agree with each other.
    private volatile EngineMetrics snapshot = EMPTY;
    // Held here: Micrometer keeps only weak references to what its function meters read.
    private volatile Supplier<EmbeddingEngine> embeddingEngine;

    ServerMetrics(Supplier<Engine> engine) {
        this.engine = engine;
        ttft = Timer.builder("sluice.time.to.first.token").description("Time from request submission to its first generated token")
                .serviceLevelObjectives(LATENCY_BUCKETS).register(registry);
        interToken = Timer.builder("sluice.inter.token.latency").description("Time between consecutive generated tokens of a request")
                .serviceLevelObjectives(LATENCY_BUCKETS).register(registry);
        requestDuration = Timer.builder("sluice.request.duration").description("Time from submission to the end of generation")
                .serviceLevelObjectives(LATENCY_BUCKETS).register(registry);
        cancelled = Counter.builder("sluice.requests.cancelled").description("Generations stopped because the client went away").register(registry);
        counter("sluice.prompt.tokens", "Prompt tokens of finished and running requests", EngineMetrics::promptTokens);
        counter("sluice.prompt.tokens.computed", "Prompt tokens actually computed (not served from the prefix cache)", EngineMetrics::computedPromptTokens);
        counter("sluice.generation.tokens", "Generated tokens", EngineMetrics::generatedTokens);
        counter("sluice.prefix.cache.hit.tokens", "Prompt tokens served from the prefix cache", EngineMetrics::prefixCacheHitTokens);
        counter("sluice.preemptions", "Sequences preempted to free KV blocks", EngineMetrics::preemptions);
        counter("sluice.engine.requests.finished", "Requests the engine finished", EngineMetrics::requestsFinished);
        counter("sluice.engine.steps", "Engine steps (forward passes)", EngineMetrics::steps);
        counter("sluice.speculative.drafted.tokens", "Guessed tokens verified by speculative decoding", EngineMetrics::draftedTokens);
        counter("sluice.speculative.accepted.tokens", "Guessed tokens kept by speculative decoding", EngineMetrics::acceptedTokens);
        gauge("sluice.speculative.acceptance.rate", "Kept guesses per guess since start (0 before any)",
                m -> m.draftedTokens() == 0 ? 0 : (double) m.acceptedTokens() / m.draftedTokens());
        bySource("ngram", EngineMetrics::ngramDraftedTokens, EngineMetrics::ngramAcceptedTokens);
        bySource("draft", EngineMetrics::draftModelDraftedTokens, EngineMetrics::draftModelAcceptedTokens);
        gauge("sluice.requests.running", "Sequences running", EngineMetrics::runningSeqs);
        gauge("sluice.requests.waiting", "Requests queued, waiting to start", EngineMetrics::waitingSeqs);
        gauge("sluice.kv.blocks.capacity", "KV cache blocks in the pool", EngineMetrics::kvBlocksTotal);
        gauge("sluice.kv.blocks.used", "KV cache blocks held by running sequences", EngineMetrics::kvBlocksUsed);
        gauge("sluice.kv.blocks.cached", "KV cache blocks kept for prefix reuse", EngineMetrics::kvBlocksCached);
        gauge("sluice.kv.blocks.free", "KV cache blocks not held by running sequences", m -> Math.max(0, m.kvBlocksTotal() - m.kvBlocksUsed()));
        histogram("sluice_moe_experts_touched", "Mixture of experts: distinct experts each MoE layer read in one engine step",
                EngineMetrics::expertsTouched);
        histogram("sluice_moe_tokens_per_expert", "Mixture of experts: tokens each expert read in an engine step served (per layer)",
                EngineMetrics::tokensPerExpert);
    }

    /**
     * A Prometheus histogram of the engine's cumulative routing counts (the model keeps them per
     * step and layer, so the exporter only copies buckets); absent for a dense model.
     */
    private void histogram(String name, String help, Function<EngineMetrics, RoutingStats.Histogram.Snapshot> f) {
        registry.getPrometheusRegistry().register(new Collector() {
            @Override
            public MetricSnapshot collect() {
                RoutingStats.Histogram.Snapshot h = f.apply(snapshot);
                if (h == null) return null;
                double[] bounds = java.util.Arrays.copyOf(h.bounds(), h.bounds().length + 1);
                bounds[bounds.length - 1] = Double.POSITIVE_INFINITY;
                return HistogramSnapshot.builder().name(name).help(help)
                        .dataPoint(HistogramSnapshot.HistogramDataPointSnapshot.builder()
                                .classicHistogramBuckets(ClassicHistogramBuckets.of(bounds, h.counts())).sum(h.sum()).build())
                        .build();
            }

            @Override
            public String getPrometheusName() {
                return name;
            }
        });
    }

    /** One source's guesses (source: ngram, prompt lookup; draft, the draft model), beside the totals above. */
    private void bySource(String source, ToDoubleFunction<EngineMetrics> drafted, ToDoubleFunction<EngineMetrics> accepted) {
        FunctionCounter.builder("sluice.speculative.source.drafted.tokens", this, s -> drafted.applyAsDouble(s.snapshot))
                .description("Guessed tokens verified by speculative decoding, by source").tag("source", source).register(registry);
        FunctionCounter.builder("sluice.speculative.source.accepted.tokens", this, s -> accepted.applyAsDouble(s.snapshot))
                .description("Guessed tokens kept by speculative decoding, by source").tag("source", source).register(registry);
    }

    private void counter(String name, String help, ToDoubleFunction<EngineMetrics> f) {
        FunctionCounter.builder(name, this, s -> f.applyAsDouble(s.snapshot)).description(help).register(registry);
    }

    private void gauge(String name, String help, ToDoubleFunction<EngineMetrics> f) {
        Gauge.builder(name, this, s -> f.applyAsDouble(s.snapshot)).description(help).register(registry);
    }

    /**
     * The embedding engine's counters (inputs, tokens, passes since start; inputs waiting), read at
     * scrape time; zero while no embedding model is served.
     */
    void embeddings(Supplier<EmbeddingEngine> engine) {
        this.embeddingEngine = engine;
        record Meter(String name, String help, ToDoubleFunction<EmbeddingEngine.Stats> f) {
        }
        for (Meter m : List.of(new Meter("sluice.embedding.inputs", "Inputs the embedding engine encoded (texts, or query-document pairs)", s -> s.inputs()),
                new Meter("sluice.embedding.tokens", "Tokens of the encoded inputs", s -> s.tokens()),
                new Meter("sluice.embedding.passes", "Encoder passes run (each packs several inputs)", s -> s.passes()))) {
            FunctionCounter.builder(m.name(), this, s -> s.embeddingStat(m.f())).description(m.help()).register(registry);
        }
        Gauge.builder("sluice.embedding.inputs.waiting", this, s -> s.embeddingStat(EmbeddingEngine.Stats::waiting))
                .description("Inputs queued for the embedding engine").register(registry);
    }

    private double embeddingStat(ToDoubleFunction<EmbeddingEngine.Stats> f) {
        EmbeddingEngine e = embeddingEngine == null ? null : embeddingEngine.get();
        return e == null ? 0 : f.applyAsDouble(e.stats());
    }

    /** A connection refused or cut by HttpGuard: reason per_client, total or header_timeout. */
    void connectionRefused(String reason) {
        Counter.builder("sluice.http.connections.refused").description("Connections refused over a cap or cut for slow headers")
                .tag("reason", reason).register(registry).increment();
    }

    void request(String endpoint, int status) {
        Counter.builder("sluice.http.requests").description("HTTP requests by endpoint and status")
                .tag("endpoint", endpoint).tag("status", Integer.toString(status)).register(registry).increment();
    }

    void firstToken(long nanos) {
        ttft.record(nanos, TimeUnit.NANOSECONDS);
    }

    void interToken(long nanos) {
        interToken.record(nanos, TimeUnit.NANOSECONDS);
    }

    void finished(long nanos) {
        requestDuration.record(nanos, TimeUnit.NANOSECONDS);
    }

    void cancelledByClient() {
        cancelled.increment();
    }

    String scrape() {
        Engine e = engine.get();
        EngineMetrics m = EMPTY;
        if (e != null) {
            try {
                m = e.metrics();
            } catch (RuntimeException ignored) {
                // a closing engine: report zeros rather than fail the scrape
            }
        }
        snapshot = m;
        return registry.scrape();
    }
}
