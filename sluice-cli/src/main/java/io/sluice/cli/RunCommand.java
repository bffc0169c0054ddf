package io.sluice.cli;

import io.sluice.chat.ChatPrompt;
import io.sluice.engine.GenerationEvent;
import io.sluice.engine.GenerationRequest;
import io.sluice.engine.LlmEngine;
import io.sluice.engine.SamplingParams;
import io.sluice.model.Model;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;

@Command(name = "run", description = {"Generate a continuation of a prompt (-p), streamed to stdout; timings go to stderr.",
        "Without -p: chat with the model in the terminal (its chat template, history, /help for commands; Ctrl-C stops an answer)."})
final class RunCommand implements Callable<Integer> {
    @Mixin
    ModelSource source;

    @Option(names = {"-p", "--prompt"}, description = "prompt text (without it: an interactive chat)")
    String prompt;

    @Option(names = {"-n", "--n-predict"}, description = "tokens to generate (-1 = until end of text or context; default 128 with -p, -1 in the chat)")
    Integer nPredictOption;

    @Option(names = {"-sys", "--system"}, paramLabel = "TEXT", description = "chat: the system message to start with")
    String systemMessage;

    @Option(names = "--chat-template-file", paramLabel = "FILE", description = "chat: Jinja chat template to use instead of the model's")
    Path chatTemplate;

    @Option(names = "--temp", defaultValue = "0.8", description = "temperature, 0 = greedy (default ${DEFAULT-VALUE})")
    float temp;

    @Option(names = "--top-k", defaultValue = "40", description = "default ${DEFAULT-VALUE}; 0 = off")
    int topK;

    @Option(names = "--top-p", defaultValue = "0.95", description = "default ${DEFAULT-VALUE}; 1 = off")
    float topP;

    @Option(names = "--min-p", defaultValue = "0.05", description = "default ${DEFAULT-VALUE}; 0 = off")
    float minP;

    @Option(names = "--repeat-penalty", defaultValue = "1.0", description = "default ${DEFAULT-VALUE} (off)")
    float repeatPenalty;

    @Option(names = "--repeat-last-n", defaultValue = "64", description = "default ${DEFAULT-VALUE}")
    int repeatLastN;

    @Option(names = "--frequency-penalty", defaultValue = "0")
    float frequencyPenalty;

    @Option(names = "--presence-penalty", defaultValue = "0")
    float presencePenalty;

    @Option(names = {"-s", "--seed"}, defaultValue = "-1", description = "RNG seed; -1 = random (default)")
    long seed;

    @Option(names = {"-t", "--threads"}, description = "worker threads (default: cores)")
    Integer threads;

    @Option(names = "--ignore-eos", description = "keep generating past end-of-text tokens")
    boolean ignoreEos;

    @Option(names = "--no-parse-special", description = "treat special-token text in the prompt as plain text")
    boolean noParseSpecial;

    @Mixin
    EngineOptions engine;

    @Mixin
    SpeculationOptions speculate;

    @Override
    public Integer call() throws Exception {
        Options.threads(threads);
        source.check();
        speculate.check();
        int nPredict = nPredictOption != null ? nPredictOption : prompt == null ? -1 : 128;
        if (nPredict < -1) throw new IllegalArgumentException("-n must be -1 or >= 0");
        String template = chatTemplate == null ? null : Files.readString(Options.modelFile(chatTemplate));
        long s = seed == -1 ? ThreadLocalRandom.current().nextLong() & Long.MAX_VALUE : seed;
        // Validated now, before the model loads; a window beyond the context is the whole context (clamped below).
        SamplingParams checked = sampling(Math.min(repeatLastN, SamplingParams.MAX_PENALTY_LAST_N), s);
        PrintStream out = new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), false, StandardCharsets.UTF_8);
        long tLoad = System.nanoTime();
        Path model = source.resolve(false);
        try (Model m = Loading.model(model, engine.ctxSize, false); Model draft = speculate.loadDraft(engine.ctxSize);
             LlmEngine eng = new LlmEngine(m, engine.toConfig(), speculate.speculation(draft))) {
            Loading.warmUp(eng, false);
            double loadS = (System.nanoTime() - tLoad) / 1e9;
            SamplingParams sampling = checked.penaltyLastN() > eng.contextLength() ? sampling(eng.contextLength(), s) : checked;
            if (prompt == null) {
                chat(m, eng, sampling, nPredict, template);
                return 0;
            }
            int[] ids = m.tokenizer().encode(prompt, true, !noParseSpecial);
            if (nPredict == 0) {
                System.err.printf("%nprompt: %d tokens; nothing to generate (-n 0)%n", ids.length);
                return 0;
            }
            GenerationRequest req = new GenerationRequest(ids, sampling, nPredict < 0 ? 0 : nPredict, List.of(), ignoreEos, -1);
            CompletableFuture<GenerationEvent.Finished> done = new CompletableFuture<>();
            long[] firstToken = {0};
            long t0 = System.nanoTime();
            io.sluice.engine.GenerationHandle handle = eng.submit(req, ev -> {
                switch (ev) {
                    case GenerationEvent.Token tk -> {
                        if (firstToken[0] == 0) firstToken[0] = System.nanoTime();
                        out.print(tk.text());
                        out.flush();
                    }
                    case GenerationEvent.Finished f -> done.complete(f);
                }
            });
            GenerationEvent.Finished f = done.get();
            long t1 = System.nanoTime();
            out.println();
            out.flush();
            if (f.reason() == io.sluice.engine.FinishReason.ERROR) throw new IllegalStateException("generation failed: " + f.message());
            int gen = f.usage().completionTokens();
            double pp = firstToken[0] == 0 ? (t1 - t0) / 1e9 : (firstToken[0] - t0) / 1e9;
            double tg = firstToken[0] == 0 ? 0 : (t1 - firstToken[0]) / 1e9;
            System.err.printf("%nload: %.2f s | prompt: %d tokens in %.3f s (%.2f tok/s) | generation: %d tokens in %.3f s (%.2f tok/s) | finish: %s | seed %d%n",
                    loadS, ids.length, pp, ids.length / pp, gen, tg, gen > 1 && tg > 0 ? (gen - 1) / tg : 0.0,
                    f.reason().name().toLowerCase(), s);
            io.sluice.engine.RequestTiming timing = handle.timing();
            if (eng.speculation().enabled() && timing != null) {
                System.err.printf("speculation (%s): drafted %d | accepted %d | acceptance rate %s%s%n", eng.speculation().mode().name().toLowerCase(),
                        timing.draftedTokens(), timing.acceptedTokens(), rate(timing.draftedTokens(), timing.acceptedTokens()),
                        eng.speculation().mode() != io.sluice.engine.Speculation.Mode.AUTO ? ""
                                : String.format(" | ngram: drafted %d, accepted %d (%s) | draft model: drafted %d, accepted %d (%s)",
                                timing.ngramDraftedTokens(), timing.ngramAcceptedTokens(), rate(timing.ngramDraftedTokens(), timing.ngramAcceptedTokens()),
                                timing.draftModelDraftedTokens(), timing.draftModelAcceptedTokens(),
                                rate(timing.draftModelDraftedTokens(), timing.draftModelAcceptedTokens())));
            }
        }
        return 0;
    }

    private static String rate(int drafted, int accepted) {
        return drafted == 0 ? "n/a" : String.format("%.1f%%", 100.0 * accepted / drafted);
    }

    /** The interactive chat: a line editor when stdin is a terminal, plain lines from a pipe otherwise. */
    private void chat(Model m, LlmEngine eng, SamplingParams sampling, int nPredict, String template) throws Exception {
        ChatPrompt format = ChatPrompt.of(m, template);
        PrintStream out = new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), true, StandardCharsets.UTF_8);
        ChatLoop[] loop = new ChatLoop[1];
        Runnable interrupt = () -> {
            if (loop[0] != null) loop[0].interrupt();
        };
        if (Terminal.stdinIsTerminal() && Terminal.stdoutIsTerminal()) {
            try (ChatInputs.Editor editor = new ChatInputs.Editor(interrupt)) {
                loop[0] = new ChatLoop(eng, format, sampling, nPredict, eng.contextLength(), ignoreEos, systemMessage, editor, out, System.err, true);
                loop[0].run();
            }
        } else {
            // Piped: Ctrl-C (SIGINT) still stops only the answer being written.
            sun.misc.Signal.handle(new sun.misc.Signal("INT"), sig -> interrupt.run());
            loop[0] = new ChatLoop(eng, format, sampling, nPredict, eng.contextLength(), ignoreEos, systemMessage, new ChatInputs.Piped(), out, System.err, false);
            loop[0].run();
        }
    }

    private SamplingParams sampling(int lastN, long seed) {
        return new SamplingParams(temp, topK, topP, minP, repeatPenalty, frequencyPenalty, presencePenalty, lastN, seed, Map.of());
    }
}
