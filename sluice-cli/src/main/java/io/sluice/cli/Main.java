package io.sluice.cli;

import io.sluice.gguf.GGUFException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code sluice} command: one subcommand per job. */
@Command(name = "sluice", mixinStandardHelpOptions = true, version = "sluice 0.1.0",
        description = "LLM inference server for the JVM.",
        subcommands = {ServeCommand.class, RunCommand.class, InfoCommand.class, TokenizeCommand.class, LogitsCommand.class, BenchCommand.class, SynthCommand.class,
                CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.err);
    }

    public static void main(String[] args) {
        System.exit(execute(args));
    }

    /** Runs the command line; user errors (bad files, bad arguments) print one clear line, no stack trace. */
    public static int execute(String... args) {
        CommandLine cl = new CommandLine(new Main());
        cl.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
            Throwable t = ex;
            if (t instanceof GGUFException || t instanceof IllegalArgumentException || t instanceof UnsupportedOperationException
                    || t instanceof java.io.IOException || t instanceof java.io.UncheckedIOException || t instanceof IllegalStateException) {
                commandLine.getErr().println("sluice: " + t.getMessage());
            } else {
                commandLine.getErr().println("sluice: internal error: " + t);
                t.printStackTrace(commandLine.getErr());
            }
            return 1;
        });
        return cl.execute(args);
    }
}
