package io.sluice.cli;

import io.sluice.chat.ChatPrompt;
import io.sluice.engine.Engine;
import io.sluice.engine.EngineException;
import io.sluice.engine.FinishReason;
import io.sluice.engine.GenerationEvent;
import io.sluice.engine.GenerationHandle;
import io.sluice.engine.GenerationRequest;
import io.sluice.engine.SamplingParams;

import java.io.IOException;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * {@code sluice run} without a prompt: a chat in the terminal. Each turn renders the whole history with the
 * chat template (the engine's prefix cache makes the repeated part cheap), streams the answer, and reports
 * tokens/s on stderr. Interrupt (Ctrl-C) stops the answer being written, not the program; the part
 * already shown stays in the history. Input lines ending in '\' continue; a line {@code """} opens and
 * closes a block of several lines.
 */
final class ChatLoop {
    /** Where lines come from: a line editor on a terminal, plain stdin otherwise. */
    interface Input {
        /** The next line without its newline, or null at end of input. */
        String readLine(String prompt) throws IOException;
    }

    static final String HELP = """
            Commands:
              /system TEXT   set the system message (empty: none); the conversation is kept
              /reset         forget the conversation (the system message stays)
              /bye           leave (also /exit, /quit, or Ctrl-D)
              /help          this list
            Ctrl-C stops the answer being written. End a line with \\ to continue it on the next,
            or put \"\"\" on a line of its own before and after a block of several lines.""";

    private final Engine engine;
    private final ChatPrompt format;
    private final SamplingParams sampling;
    private final int maxTokens;
    private final int context;
    private final boolean ignoreEos;
    private final Input in;
    private final PrintStream out, err;
    private final boolean interactive;
    private final List<ChatPrompt.Message> history = new ArrayList<>();
    private String system;
    private volatile GenerationHandle current;
    private volatile boolean interrupted;

    ChatLoop(Engine engine, ChatPrompt format, SamplingParams sampling, int maxTokens, int context, boolean ignoreEos, String system,
             Input in, PrintStream out, PrintStream err, boolean interactive) {
        this.engine = engine;
        this.format = format;
        this.sampling = sampling;
        this.maxTokens = maxTokens;
        this.context = context;
        this.ignoreEos = ignoreEos;
        this.system = system == null || system.isBlank() ? null : system;
        this.in = in;
        this.out = out;
        this.err = err;
        this.interactive = interactive;
    }

    /** The conversation so far (without the system message). */
    List<ChatPrompt.Message> history() {
        return List.copyOf(history);
    }

    String system() {
        return system;
    }

    /** Ctrl-C: stops the answer being generated (at the prompt it only clears the line). */
    void interrupt() {
        interrupted = true;
        GenerationHandle h = current;
        if (h != null) h.cancel();
    }

    void run() throws IOException, InterruptedException {
        if (interactive) err.println("sluice: chatting with " + format.describe() + "; /help for commands, Ctrl-D to leave");
        while (true) {
            String text = readMessage();
            if (text == null) break;
            String t = text.strip();
            if (t.isEmpty()) continue;
            if (t.startsWith("/") && !text.startsWith(" ")) {
                if (!command(t)) break;
                continue;
            }
            answer(text);
        }
        if (interactive) err.println();
    }

    /** A command line; false to leave. */
    private boolean command(String t) {
        String[] parts = t.split("\\s+", 2);
        String arg = parts.length > 1 ? parts[1].strip() : "";
        switch (parts[0].toLowerCase(Locale.ROOT)) {
            case "/bye", "/exit", "/quit" -> {
                return false;
            }
            case "/reset", "/clear" -> {
                history.clear();
                err.println("sluice: conversation cleared" + (system != null ? " (system message kept)" : ""));
            }
            case "/system" -> {
                system = arg.isEmpty() ? null : arg;
                err.println("sluice: " + (system == null ? "no system message" : "system message set"));
            }
            case "/help", "/?" -> err.println(HELP);
            default -> err.println("sluice: unknown command " + parts[0] + " (/help lists them; start with a space to send text that begins with '/')");
        }
        return true;
    }

    /** One user message: a line, lines joined by a trailing '\', or a """ block. */
    private String readMessage() throws IOException {
        interrupted = false;
        String line = in.readLine(">>> ");
        if (line == null) return null;
        if (line.strip().equals("\"\"\"")) {
            StringBuilder sb = new StringBuilder();
            while (true) {
                String l = in.readLine("... ");
                if (l == null || l.strip().equals("\"\"\"")) break;
                if (!sb.isEmpty()) sb.append('\n');
                sb.append(l);
            }
            return sb.toString();
        }
        StringBuilder sb = new StringBuilder();
        while (line != null && line.endsWith("\\")) {
            sb.append(line, 0, line.length() - 1).append('\n');
            line = in.readLine("... ");
        }
        if (line != null) sb.append(line);
        return sb.toString();
    }

    private void answer(String userText) throws InterruptedException {
        history.add(new ChatPrompt.Message("user", userText));
        int[] prompt;
        try {
            prompt = promptThatFits();
        } catch (io.sluice.template.TemplateException e) {
            history.removeLast();
            err.println("sluice: the chat template rejected the conversation: " + Main.oneLine(e.getMessage()));
            return;
        }
        if (prompt == null) {
            history.removeLast();
            err.println("sluice: that message alone does not fit the context of " + context + " tokens; it was not sent");
            return;
        }
        int room = context - prompt.length;
        GenerationRequest req = new GenerationRequest(prompt, sampling, maxTokens > 0 ? Math.min(maxTokens, room) : room, List.of(), ignoreEos, -1);
        LinkedBlockingQueue<GenerationEvent> events = new LinkedBlockingQueue<>();
        long t0 = System.nanoTime();
        try {
            current = engine.submit(req, events::add);
        } catch (EngineException e) {
            history.removeLast();
            err.println("sluice: " + Main.oneLine(e.getMessage()));
            return;
        }
        if (interrupted) current.cancel(); // Ctrl-C between reading the line and submitting
        StringBuilder answer = new StringBuilder();
        long first = 0;
        GenerationEvent.Finished fin;
        while (true) {
            GenerationEvent ev = events.take();
            if (ev instanceof GenerationEvent.Token tk) {
                if (first == 0) first = System.nanoTime();
                answer.append(tk.text());
                out.print(tk.text());
                out.flush();
            } else {
                fin = (GenerationEvent.Finished) ev;
                break;
            }
        }
        current = null;
        long t1 = System.nanoTime();
        if (!answer.isEmpty() && answer.charAt(answer.length() - 1) != '\n') out.println();
        out.flush();
        if (fin.reason() == FinishReason.ERROR) {
            history.removeLast();
            err.println("sluice: generation failed: " + Main.oneLine(String.valueOf(fin.message())));
            return;
        }
        history.add(new ChatPrompt.Message("assistant", answer.toString()));
        int n = fin.usage() == null ? 0 : fin.usage().completionTokens();
        double gen = first == 0 ? 0 : (t1 - first) / 1e9, pp = ((first == 0 ? t1 : first) - t0) / 1e9;
        String why = switch (fin.reason()) {
            case CANCELLED -> "; stopped";
            case LENGTH -> maxTokens > 0 && n >= maxTokens ? "; -n limit reached" : "; context full";
            default -> "";
        };
        err.printf(Locale.ROOT, "[%d tokens, %.1f tok/s; prompt %d tokens (%d cached) in %.2f s%s]%n", n, n > 1 && gen > 0 ? (n - 1) / gen : 0.0,
                prompt.length, fin.usage() == null ? 0 : fin.usage().cachedPromptTokens(), pp, why);
        err.flush();
    }

    /**
     * The prompt for the history, dropping the oldest exchanges when it would leave less than a quarter of
     * the context to answer in; null when even the newest message alone does not fit.
     */
    private int[] promptThatFits() {
        int dropped = 0;
        while (true) {
            List<ChatPrompt.Message> conv = new ArrayList<>();
            if (system != null) conv.add(new ChatPrompt.Message("system", system));
            conv.addAll(history);
            int[] p = format.tokens(conv);
            int need = Math.min(context / 4, 256);
            if (p.length + need <= context) {
                if (dropped > 0) err.println("sluice: context full: the oldest " + dropped + " messages were left out");
                return p;
            }
            if (history.size() <= 1) return p.length < context ? p : null;
            // Drop whole exchanges, so the history still starts with a user turn (templates check the alternation).
            do {
                history.removeFirst();
                dropped++;
            } while (history.size() > 1 && !history.getFirst().role().equals("user"));
        }
    }
}
