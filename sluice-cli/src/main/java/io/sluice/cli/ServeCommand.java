package io.sluice.cli;

import io.sluice.engine.LlmEngine;
import io.sluice.model.Model;
import io.sluice.server.ServerConfig;
import io.sluice.server.SluiceServer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

@Command(name = "serve", description = "Serve the model over an OpenAI-compatible HTTP API (chat, completions, models, health, metrics).")
final class ServeCommand implements Callable<Integer> {
    @Mixin
    ModelSource source;

    @Option(names = "--host", defaultValue = "127.0.0.1", description = "interface to bind (default ${DEFAULT-VALUE}: loopback only)")
    String host;

    @Option(names = "--port", defaultValue = "8080", description = "TCP port (default ${DEFAULT-VALUE}; 0 = any free port)")
    int port;

    @Option(names = "--alias", description = "model id clients use (default: the file name)")
    String alias;

    @Option(names = "--api-key", description = "require Authorization: Bearer KEY on /v1 requests")
    String apiKey;

    @Option(names = "--chat-template-file", description = "Jinja chat template to use instead of the model's (refused at start-up if it does not work)")
    Path chatTemplate;

    @Option(names = "--cors-origin", description = "let pages from this origin (e.g. http://localhost:3000, or *) call the API from a browser; "
            + "off by default: no CORS headers")
    String corsOrigin;

    @Option(names = {"-t", "--threads"}, description = "worker threads (default: cores)")
    Integer threads;

    @Mixin
    EngineOptions engine;

    @Override
    public Integer call() throws Exception {
        Options.threads(threads);
        source.check();
        if (chatTemplate != null && Files.isDirectory(chatTemplate)) throw new IllegalArgumentException(chatTemplate + " is a directory, not a template file");
        Path model = source.resolve(false);
        ServerConfig cfg = new ServerConfig(host, port, alias != null ? alias : source.defaultAlias(model), apiKey, ServerConfig.DEFAULT_MAX_BODY_BYTES,
                chatTemplate == null ? null : Files.readString(chatTemplate), null, corsOrigin);
        try {
            java.net.InetAddress.getByName(cfg.host());
        } catch (java.net.UnknownHostException e) {
            throw new IllegalArgumentException("--host " + cfg.host() + ": not an address of this machine or a resolvable name");
        }
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
        try (Model m = Model.load(model, engine.ctxSize); LlmEngine eng = new LlmEngine(m, engine.toConfig())) {
            server.setEngine(eng);
            System.err.printf("sluice: ready: model '%s', context %d tokens, KV pool %d blocks of %d tokens (%s)%n",
                    server.modelId(), eng.contextLength(), eng.metrics().kvBlocksTotal(), eng.config().kvBlockSize(),
                    eng.config().kvType().name().toLowerCase());
            CountDownLatch stop = new CountDownLatch(1);
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                server.stop();
                stop.countDown();
            }));
            stop.await();
        } catch (RuntimeException e) {
            server.stop();
            throw e;
        }
        return 0;
    }
}
