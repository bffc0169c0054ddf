package io.sluice.cli;

import io.sluice.gguf.GGMLType;
import io.sluice.tensor.Parallel;

/** Option parsing shared by the commands. */
final class Options {
    private Options() {
    }

    static void threads(Integer t) {
        if (t != null) {
            if (t <= 0 || t > 1024) throw new IllegalArgumentException("-t/--threads must be in 1..1024");
            Parallel.setThreads(t);
        }
    }

    /** A directory or special file passed as a model would otherwise fail with an obscure I/O message. */
    static java.nio.file.Path modelFile(java.nio.file.Path p) {
        if (java.nio.file.Files.isDirectory(p)) throw new IllegalArgumentException(p + " is a directory, not a GGUF file");
        return p;
    }

    /** Checks an output path up front, before minutes of work are lost to a typo. */
    static void outputFile(java.nio.file.Path p) {
        if (java.nio.file.Files.isDirectory(p)) throw new IllegalArgumentException(p + " is a directory; give a file name to write");
        java.nio.file.Path dir = p.toAbsolutePath().getParent();
        if (dir != null && !java.nio.file.Files.isDirectory(dir)) throw new IllegalArgumentException("cannot write " + p + ": directory " + dir + " does not exist");
    }

    static GGMLType kvType(String s) {
        GGMLType t = switch (s.toLowerCase(java.util.Locale.ROOT)) {
            case "f32" -> GGMLType.F32;
            case "f16" -> GGMLType.F16;
            case "q8_0" -> GGMLType.Q8_0;
            case "q4_0" -> GGMLType.Q4_0;
            case "iq4_nl" -> GGMLType.IQ4_NL;
            default -> null;
        };
        if (t == null || !io.sluice.model.KvStore.supports(t)) {
            throw new IllegalArgumentException("--kv-type must be f32, f16, q8_0, q4_0 or iq4_nl, not '" + s + "'");
        }
        return t;
    }

    /** Parses sizes like 512M, 4G, 1024 (bytes). */
    static long bytes(String s) {
        String t = s.trim().toUpperCase(java.util.Locale.ROOT).replace("IB", "").replace("B", "");
        long mul = 1;
        if (t.endsWith("K")) mul = 1L << 10;
        else if (t.endsWith("M")) mul = 1L << 20;
        else if (t.endsWith("G")) mul = 1L << 30;
        else if (t.endsWith("T")) mul = 1L << 40;
        if (mul > 1) t = t.substring(0, t.length() - 1);
        try {
            double v = Double.parseDouble(t);
            if (!(v >= 0) || v * mul > Long.MAX_VALUE / 2) throw new NumberFormatException();
            return (long) (v * mul);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not a size: '" + s + "' (use e.g. 512M, 4G)");
        }
    }
}
