package io.sluice.cli;

import io.sluice.engine.EngineException;
import io.sluice.gguf.GGUFException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code sluice} command: one subcommand per job; -h/--help and -V/--version work on every one (inherited). */
@Command(name = "sluice", mixinStandardHelpOptions = true, scope = CommandLine.ScopeType.INHERIT, version = "sluice 0.1.0",
        description = "LLM inference server for the JVM.",
        subcommands = {ServeCommand.class, RunCommand.class, PullCommand.class, LsCommand.class, RmCommand.class, InfoCommand.class, TokenizeCommand.class, EmbedCommand.class, TemplateCommand.class, LogitsCommand.class, BenchCommand.class, SynthCommand.class,
                CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    /** Longest error line printed; corrupt files can put megabytes of binary "names" into a message. */
    static final int MAX_MESSAGE_CHARS = 400;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.err);
    }

    public static void main(String[] args) {
        System.exit(execute(args));
    }

    /**
     * Runs the command line. Every failure prints exactly one line starting "sluice: " on stderr:
     * exit code 2 for usage errors (picocli's convention), 1 for everything else. Stack traces
     * only with SLUICE_DEBUG=1, since users cannot act on them.
     */
    public static int execute(String... args) {
        CommandLine cl = new CommandLine(new Main());
        cl.setParameterExceptionHandler((ex, argv) -> {
            CommandLine cmd = ex.getCommandLine();
            String help = cmd.getCommandSpec().qualifiedName();
            cmd.getErr().println("sluice: " + oneLine(ex.getMessage()) + " (see '" + help + " --help')");
            return cmd.getCommandSpec().exitCodeOnInvalidInput();
        });
        cl.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
            report(commandLine.getErr(), ex);
            return 1;
        });
        try {
            return cl.execute(args);
        } catch (OutOfMemoryError | StackOverflowError e) {
            // Errors escape picocli's handler; the limits above should make this rare.
            report(cl.getErr(), e);
            return 1;
        }
    }

    private static void report(java.io.PrintWriter err, Throwable t) {
        boolean expected = t instanceof GGUFException || t instanceof EngineException || t instanceof IllegalArgumentException
                || t instanceof UnsupportedOperationException || t instanceof java.io.IOException
                || t instanceof java.io.UncheckedIOException || t instanceof IllegalStateException;
        String msg = t.getMessage() == null || t.getMessage().isBlank() ? t.getClass().getSimpleName() : t.getMessage();
        if (t instanceof java.nio.file.NoSuchFileException) msg = msg + ": file not found";
        else if (t instanceof java.nio.file.AccessDeniedException) msg = msg + ": permission denied";
        else if (t instanceof OutOfMemoryError) msg = "out of memory (" + msg + "); lower --kv-memory, --max-batched-tokens or --max-seqs, or raise -Xmx";
        else if (t instanceof StackOverflowError) msg = "input nested too deeply (stack overflow)";
        else if (!expected) msg = "internal error: " + t.getClass().getName() + ": " + msg;
        err.println("sluice: " + oneLine(msg));
        if (System.getenv("SLUICE_DEBUG") != null) t.printStackTrace(err);
        err.flush();
    }

    /** Control characters escaped, newlines folded, long messages cut, so an error stays one readable line. */
    static String oneLine(String s) {
        StringBuilder sb = new StringBuilder(Math.min(s.length(), MAX_MESSAGE_CHARS + 16));
        for (int i = 0; i < s.length() && sb.length() < MAX_MESSAGE_CHARS; i++) {
            char c = s.charAt(i);
            if (c == '\n' || c == '\r' || c == '\t') sb.append(' ');
            else if (Character.isISOControl(c) || Character.isSurrogate(c) && !validSurrogateAt(s, i)) sb.append(c < 0x100 ? String.format("\\x%02x", (int) c) : String.format("\\u%04x", (int) c));
            else if (c == '\uFFFD') sb.append('?');
            else sb.append(c);
        }
        if (sb.length() >= MAX_MESSAGE_CHARS && s.length() > MAX_MESSAGE_CHARS) sb.append("... (cut)");
        return sb.toString();
    }

    private static boolean validSurrogateAt(String s, int i) {
        char c = s.charAt(i);
        if (Character.isHighSurrogate(c)) return i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1));
        return i > 0 && Character.isHighSurrogate(s.charAt(i - 1));
    }
}
