package io.sluice.cli;

import java.io.PrintStream;
import java.util.ArrayDeque;
import java.util.Locale;

/**
 * Progress of a long step (download, model load, repack, benchmark) on stderr. On a terminal: one line
 * redrawn in place, at most ten times a second, with a bar, amount, speed and ETA. Otherwise (a log, a
 * pipe, CI): a plain line each time another {@code plainStep} of the total is done (0: none), then the
 * summary, so logs stay short. Quiet: nothing.
 */
final class Progress {
    enum Unit { BYTES, ITEMS, MILLIS }

    private static final long REDRAW_NANOS = 100_000_000L;
    private static final long SPEED_WINDOW_NANOS = 5_000_000_000L;
    /** Plain lines come at most this often: a quick step gets its summary only. */
    static final long PLAIN_MIN_NANOS = 2_000_000_000L;

    private final PrintStream err;
    private final String label;
    private final long total;
    private final Unit unit;
    private final boolean tty;
    private final boolean quiet;
    private final double plainStep;
    private final long plainMinNanos;
    private final long startNanos = System.nanoTime();
    private final ArrayDeque<long[]> samples = new ArrayDeque<>();
    private long lastDraw;
    private long lastPlain = startNanos;
    private double nextPlain;
    private long done;
    private boolean drawn;
    private volatile boolean finished;

    Progress(PrintStream err, String label, long total, Unit unit, boolean tty, boolean quiet, double plainStep, long plainMinNanos) {
        this.err = err;
        this.label = label;
        this.total = total;
        this.unit = unit;
        this.tty = tty;
        this.quiet = quiet;
        this.plainStep = plainStep;
        this.nextPlain = plainStep;
        this.plainMinNanos = plainMinNanos;
    }

    /** A progress on System.err, redrawn when it is a terminal. */
    static Progress onStderr(String label, long total, Unit unit, boolean quiet, double plainStep) {
        return new Progress(System.err, label, total, unit, Terminal.stderrIsTerminal(), quiet, plainStep, PLAIN_MIN_NANOS);
    }

    /**
     * A step whose length is unknown (a model load, a warm-up): on a terminal the elapsed time counts up
     * beside the label until {@link #finish}; elsewhere only the summary is printed.
     */
    static Progress ticking(String label, boolean quiet) {
        Progress p = new Progress(System.err, label, 0, Unit.MILLIS, Terminal.stderrIsTerminal(), quiet, 0, PLAIN_MIN_NANOS);
        if (p.tty && !quiet) {
            Thread.ofPlatform().daemon().name("sluice-progress").start(() -> {
                while (!p.finished) {
                    p.update((System.nanoTime() - p.startNanos) / 1_000_000);
                    try {
                        Thread.sleep(100);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            });
        }
        return p;
    }

    /** Records that {@code doneSoFar} of the total are done (may be called very often). */
    synchronized void update(long doneSoFar) {
        this.done = doneSoFar;
        if (quiet || finished) return;
        long now = System.nanoTime();
        samples.addLast(new long[]{now, doneSoFar});
        while (samples.size() > 2 && now - samples.peekFirst()[0] > SPEED_WINDOW_NANOS) samples.removeFirst();
        if (tty) {
            if (now - lastDraw < REDRAW_NANOS && doneSoFar < total) return;
            lastDraw = now;
            err.print("\r" + line(Terminal.columns() - 1) + "\033[K");
            err.flush();
            drawn = true;
        } else if (plainStep > 0 && total > 0 && (double) doneSoFar / total >= nextPlain && doneSoFar < total
                && now - lastPlain >= plainMinNanos) {
            while (nextPlain <= (double) doneSoFar / total) nextPlain += plainStep;
            lastPlain = now;
            err.println("sluice: " + label + ": " + plain());
            err.flush();
        }
    }

    /** Ends the progress with a summary line ("pulled x (1.2 GiB in 40 s)"); null prints nothing more. */
    synchronized void finish(String summary) {
        finished = true;
        if (quiet) return;
        if (tty && drawn) err.print("\r\033[K");
        if (summary != null) err.println("sluice: " + summary);
        err.flush();
    }

    double elapsedSeconds() {
        return (System.nanoTime() - startNanos) / 1e9;
    }

    /** label, percent, bar, amount, speed, ETA; the bar shrinks (or goes) so the line fits the terminal. */
    private String line(int width) {
        String pct = "", amount = amount(done);
        double f = 0;
        if (total > 0) {
            f = Math.min(1, (double) done / total);
            pct = String.format(Locale.ROOT, "%3d%% ", (int) (f * 100));
            amount = amount(done) + " / " + amount(total);
        }
        StringBuilder tail = new StringBuilder(" ").append(amount);
        double speed = unit == Unit.MILLIS ? 0 : speed();
        if (speed > 0) {
            tail.append("  ").append(rate(speed));
            if (total > 0 && done < total) tail.append("  ETA ").append(duration((total - done) / speed));
        }
        String head = label + "  " + pct;
        int bar = Math.min(24, width - head.length() - tail.length() - 2);
        StringBuilder sb = new StringBuilder(head);
        if (total > 0 && bar >= 8) {
            int full = (int) (f * bar);
            sb.append('[');
            for (int i = 0; i < bar; i++) sb.append(i < full ? '=' : i == full ? '>' : ' ');
            sb.append(']');
        }
        sb.append(tail);
        return sb.length() > width ? sb.substring(0, width) : sb.toString();
    }

    private String plain() {
        StringBuilder sb = new StringBuilder();
        sb.append((int) (100.0 * done / total)).append("% (").append(amount(done)).append(" of ").append(amount(total));
        double speed = speed();
        if (speed > 0) sb.append(", ").append(rate(speed)).append(", ETA ").append(duration((total - done) / speed));
        return sb.append(')').toString();
    }

    private double speed() {
        if (samples.size() < 2) return 0;
        long[] a = samples.peekFirst(), b = samples.peekLast();
        double s = (b[0] - a[0]) / 1e9;
        return s < 0.2 ? 0 : (b[1] - a[1]) / s;
    }

    private String amount(long n) {
        return switch (unit) {
            case BYTES -> bytes(n);
            case ITEMS -> Long.toString(n);
            case MILLIS -> String.format(Locale.ROOT, "%.1f s", n / 1000.0);
        };
    }

    private String rate(double perSecond) {
        return unit == Unit.BYTES ? bytes((long) perSecond) + "/s" : String.format(Locale.ROOT, "%.1f/s", perSecond);
    }

    static String bytes(long n) {
        if (n < 1024) return n + " B";
        String[] u = {"KiB", "MiB", "GiB", "TiB"};
        double v = n;
        int i = -1;
        while (v >= 1024 && i < u.length - 1) {
            v /= 1024;
            i++;
        }
        return String.format(Locale.ROOT, v < 10 ? "%.2f %s" : v < 100 ? "%.1f %s" : "%.0f %s", v, u[i]);
    }

    static String duration(double seconds) {
        if (!(seconds >= 0) || seconds > 359_999) return "--:--";
        long s = Math.round(seconds);
        return s >= 3600 ? String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
                : String.format(Locale.ROOT, "%d:%02d", s / 60, s % 60);
    }
}
