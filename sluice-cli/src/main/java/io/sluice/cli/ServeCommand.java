package io.sluice.cli;

import io.sluice.engine.EmbeddingEngine;
import io.sluice.engine.LlmEngine;
import io.sluice.gguf.GGUFFile;
import io.sluice.model.EmbeddingModel;
import io.sluice.model.Model;
import io.sluice.model.arch.Architectures;
import io.sluice.model.nn.Pooling;
import io.sluice.server.ServerConfig;
import io.sluice.server.SluiceServer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import sun.misc.Signal;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

@Command(name = "serve",
        description = "Serve the model over an OpenAI-compatible HTTP API (chat, completions, models, health, metrics). "
                + "An embedding model (an encoder such as bge or nomic-embed, or a decoder whose file names a pooling) serves "
                + "/v1/embeddings, /embedding and, for a reranker, /v1/rerank instead. "
                + "SIGTERM or Ctrl-C drains: /health turns 503, new requests are refused, running ones get --drain-timeout to finish.")
final class ServeCommand implements Callable<Integer> {
    @Mixin
    ModelSource source;

    @Option(names = "--host", defaultValue = "127.0.0.1", description = "interface to bind (default ${DEFAULT-VALUE}: loopback only)")
    String host;

    @Option(names = "--port", defaultValue = "8080", description = "TCP port (default ${DEFAULT-VALUE}; 0 = any free port)")
    int port;

    @Option(names = "--alias", description = "model id clients use (default: the file name)")
    String alias;

    @Option(names = "--api-key", description = "require Authorization: Bearer KEY on /v1 requests (and /metrics unless --metrics-public)")
    String apiKey;

    @Option(names = "--metrics-public", description = "serve /metrics without the API key (/health is always open)")
    boolean metricsPublic;

    @Option(names = "--idle-timeout", paramLabel = "DURATION", defaultValue = "15s",
            description = "close a connection silent this long, e.g. between keep-alive requests (default ${DEFAULT-VALUE}); running generations are exempt")
    String idleTimeout;

    @Option(names = "--header-timeout", paramLabel = "DURATION", defaultValue = "10s",
            description = "longest time from a request's first byte to the end of its headers (default ${DEFAULT-VALUE})")
    String headerTimeout;

    @Option(names = "--max-connections", defaultValue = "" + ServerConfig.DEFAULT_MAX_CONNECTIONS,
            description = "open connections at most; more get 503 (default ${DEFAULT-VALUE})")
    int maxConnections;

    @Option(names = "--max-connections-per-client", defaultValue = "" + ServerConfig.DEFAULT_MAX_CONNECTIONS_PER_CLIENT,
            description = "open connections from one client address at most; more get 429 (default ${DEFAULT-VALUE})")
    int maxConnectionsPerClient;

    @Option(names = "--drain-timeout", paramLabel = "DURATION", defaultValue = "25s",
            description = "on SIGTERM, how long running requests may take to finish before they are cancelled (default ${DEFAULT-VALUE})")
    String drainTimeout;

    @Option(names = "--chat-template-file", description = "Jinja chat template to use instead of the model's (refused at start-up if it does not work)")
    Path chatTemplate;

    @Option(names = "--cors-origin", description = "let pages from this origin (e.g. http://localhost:3000, or *) call the API from a browser; "
            + "off by default: no CORS headers")
    String corsOrigin;

    @Option(names = {"-t", "--threads"}, description = "worker threads (default: cores)")
    Integer threads;

    @Option(names = "--embeddings", description = "serve a decoder as an embedding model (its hidden states pooled, --pooling or the file's) "
            + "instead of generating; embedding files (encoders, or decoders whose file names a pooling) are served so without it")
    boolean embeddings;

    @Option(names = "--pooling", description = "embedding pooling: none, mean, cls, last, rank (default: the file's pooling_type)")
    String pooling;

    @Mixin
    EngineOptions engine;

    @Mixin
    SpeculationOptions speculate;

    @Override
    public Integer call() throws Exception {
        Options.threads(threads);
        source.check();
        speculate.check();
        if (chatTemplate != null && Files.isDirectory(chatTemplate)) throw new IllegalArgumentException(chatTemplate + " is a directory, not a template file");
        // Flags first: a typo must not wait for a model download.
        Duration drain = Options.duration("--drain-timeout", drainTimeout);
        ServerConfig limits = ServerConfig.defaults().withHost(host).withPort(port).withApiKey(apiKey)
                .withChatTemplate(chatTemplate == null ? null : Options.readUtf8(chatTemplate))
                .withIdleTimeout(Options.duration("--idle-timeout", idleTimeout))
                .withHeaderTimeout(Options.duration("--header-timeout", headerTimeout))
                .withMaxConnections(maxConnections, maxConnectionsPerClient)
                .withMetricsPublic(metricsPublic).withCorsOrigin(corsOrigin);
        Pooling pool = pooling == null ? null : Pooling.parse(pooling);
        Path model = source.resolve(false);
        ServerConfig cfg = limits.withAlias(alias != null ? alias : source.defaultAlias(model));
        try {
            java.net.InetAddress.getByName(cfg.host());
        } catch (java.net.UnknownHostException e) {
            throw new IllegalArgumentException("--host " + cfg.host() + ": not an address of this machine or a resolvable name");
        }
        CountDownLatch stop = new CountDownLatch(1);
        onTermination(stop);
        // Listen first so /health answers 503 while the model loads, then 200.
        SluiceServer server;
        try {
            server = SluiceServer.start(cfg);
        } catch (RuntimeException e) {
            // Javalin reports every bind failure as "port already in use"; say what the OS said.
            for (Throwable t = e; t != null; t = t.getCause()) {
                if (t instanceof java.net.SocketException se) {
                    throw new IllegalStateException("cannot listen on " + cfg.host() + ":" + cfg.port() + ": " + se.getMessage(), e);
                }
            }
            throw e;
        }
        System.err.printf("sluice: listening on %s (loading %s)%n", server.baseUrl(), model);
        boolean embedding = embeddings || pool != null;
        if (!embedding) {
            try (GGUFFile f = GGUFFile.open(model)) {
                embedding = Architectures.isEmbedding(f);
            } catch (RuntimeException e) {
                server.stop();
                throw e;
            }
        }
        if (embedding) return serveEmbeddings(server, model, pool, stop, drain);
        try (Model m = Loading.model(model, engine.ctxSize, false); Model draft = speculate.loadDraft(engine.ctxSize);
             LlmEngine eng = new LlmEngine(m, engine.toConfig(), speculate.speculation(draft))) {
            Loading.warmUp(eng, false); // /health stays 503 until the weights are ready
            server.setEngine(eng);
            System.err.println("sluice: memory plan: " + eng.memoryPlan().describe(eng.config()));
            System.err.printf("sluice: ready: model '%s', context %d tokens, KV pool %d blocks of %d tokens (%s)%n",
                    server.modelId(), eng.contextLength(), eng.metrics().kvBlocksTotal(), eng.config().kvBlockSize(),
                    eng.config().kvType().name().toLowerCase());
            ready = true;
            stop.await();
            System.err.printf("sluice: draining (up to %d ms)%n", drain.toMillis());
            boolean clean = server.drain(drain);
            System.err.println(clean ? "sluice: drained, every request finished; exiting" : "sluice: drain timeout; cancelled the rest; exiting");
        } catch (RuntimeException e) {
            server.stop();
            throw e;
        }
        return 0;
    }

    /** An embedding model: its engine behind the embedding endpoints until the drain. */
    private int serveEmbeddings(SluiceServer server, Path model, Pooling pool, CountDownLatch stop, Duration drain) throws InterruptedException {
        try (EmbeddingModel m = Loading.embeddingModel(model, pool, engine.kvType, false);
             EmbeddingEngine eng = new EmbeddingEngine(m, engine.toEmbeddingConfig())) {
            Loading.warmUp(eng, false);
            server.setEmbeddingEngine(eng);
            System.err.printf("sluice: ready: embedding model '%s', %d dimensions, pooling %s, context %d tokens, passes of %d tokens / %d inputs%n",
                    server.modelId(), m.outputDim(), m.pooling().name().toLowerCase(java.util.Locale.ROOT), eng.contextLength(),
                    eng.config().maxBatchedTokens(), eng.config().maxSeqs());
            ready = true;
            stop.await();
            System.err.printf("sluice: draining (up to %d ms)%n", drain.toMillis());
            boolean clean = server.drain(drain);
            System.err.println(clean ? "sluice: drained, every request finished; exiting" : "sluice: drain timeout; exiting");
        } catch (RuntimeException e) {
            server.stop();
            throw e;
        }
        return 0;
    }

    /** Set once the model serves: a signal before that has nothing to drain. */
    private volatile boolean ready;

    /**
     * SIGTERM (Kubernetes, systemd, docker stop) and SIGINT start the drain; the command then returns and the
     * process exits 0, which a JVM shutdown hook could not do (the JVM exits 143 on SIGTERM). Before the model
     * is ready the process exits 0 at once; a second signal during the drain exits 1 at once.
     */
    private void onTermination(CountDownLatch stop) {
        for (String name : new String[]{"TERM", "INT"}) {
            try {
                Signal.handle(new Signal(name), sig -> {
                    if (stop.getCount() == 0) {
                        System.err.println("sluice: second signal: exiting without waiting for the drain");
                        Runtime.getRuntime().halt(1);
                    }
                    stop.countDown();
                    if (!ready) { // nothing is served yet, so nothing to drain
                        System.err.println("sluice: stopped before the model was ready");
                        System.exit(0);
                    }
                });
            } catch (IllegalArgumentException unsupported) {
                // The platform has no such signal (or the JVM reserves it): the default handling stays.
            }
        }
    }
}
