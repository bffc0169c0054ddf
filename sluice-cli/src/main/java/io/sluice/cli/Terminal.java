package io.sluice.cli;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/** Whether a standard stream is a terminal (isatty(3) through the FFM API; Java's Console only tells about stdin+stdout together). */
final class Terminal {
    private static final MethodHandle ISATTY = lookup();

    private Terminal() {
    }

    static boolean isTerminal(int fd) {
        String term = System.getenv("TERM");
        if ("dumb".equals(term)) return false;
        if (ISATTY != null) {
            try {
                return (int) ISATTY.invokeExact(fd) == 1;
            } catch (Throwable e) {
                return false;
            }
        }
        java.io.Console c = System.console();
        return c != null && c.isTerminal();
    }

    static boolean stdinIsTerminal() {
        return isTerminal(0);
    }

    static boolean stdoutIsTerminal() {
        return isTerminal(1);
    }

    /** The launcher filters stderr through a pipe; it says so when the real stderr is a terminal. */
    static boolean stderrIsTerminal() {
        return isTerminal(2) || "1".equals(System.getenv("SLUICE_STDERR_TTY")) && !"dumb".equals(System.getenv("TERM"));
    }

    /** Terminal width from COLUMNS, else 80. */
    static int columns() {
        try {
            int c = Integer.parseInt(System.getenv().getOrDefault("COLUMNS", "80").strip());
            return c >= 20 && c <= 1000 ? c : 80;
        } catch (NumberFormatException e) {
            return 80;
        }
    }

    private static MethodHandle lookup() {
        try {
            Linker linker = Linker.nativeLinker();
            return linker.defaultLookup().find("isatty")
                    .map(a -> linker.downcallHandle(a, FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT)))
                    .orElse(null);
        } catch (RuntimeException | LinkageError e) {
            return null; // native access not enabled or no libc: fall back to Console
        }
    }
}
