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

    /** Parses durations like 500ms, 30s, 2m, 1h, or plain seconds; flag names the option in errors. */
    static java.time.Duration duration(String flag, String s) {
        String t = s.trim().toLowerCase(java.util.Locale.ROOT);
        long mul;
        String num;
        if (t.endsWith("ms")) { mul = 1; num = t.substring(0, t.length() - 2); }
        else if (t.endsWith("s")) { mul = 1000; num = t.substring(0, t.length() - 1); }
        else if (t.endsWith("m")) { mul = 60_000; num = t.substring(0, t.length() - 1); }
        else if (t.endsWith("h")) { mul = 3_600_000; num = t.substring(0, t.length() - 1); }
        else { mul = 1000; num = t; }
        try {
            double v = Double.parseDouble(num.trim());
            if (!(v >= 0) || v * mul > 365.0 * 86_400_000) throw new NumberFormatException();
            return java.time.Duration.ofMillis(Math.round(v * mul));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(flag + ": not a duration: '" + s + "' (use e.g. 500ms, 30s, 2m)");
        }
    }

    /** Reads a text file as strict UTF-8: a malformed byte is an error naming the file and its offset, never a silent U+FFFD. */
    static String readUtf8(java.nio.file.Path p) throws java.io.IOException {
        byte[] b = java.nio.file.Files.readAllBytes(p);
        java.nio.charset.CharsetDecoder dec = java.nio.charset.StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(java.nio.charset.CodingErrorAction.REPORT).onUnmappableCharacter(java.nio.charset.CodingErrorAction.REPORT);
        java.nio.ByteBuffer in = java.nio.ByteBuffer.wrap(b);
        java.nio.CharBuffer out = java.nio.CharBuffer.allocate(b.length);
        java.nio.charset.CoderResult r = dec.decode(in, out, true);
        if (r.isError()) {
            int at = in.position();
            StringBuilder hex = new StringBuilder();
            for (int i = at; i < Math.min(b.length, at + Math.max(r.length(), 1)); i++) hex.append(i > at ? " " : "").append(String.format("%02X", b[i] & 0xff));
            throw new IllegalArgumentException(p + ": not valid UTF-8 at byte offset " + at + " (bytes " + hex
                    + ": overlong, surrogate, above U+10FFFF or truncated)");
        }
        dec.flush(out);
        return out.flip().toString();
    }

    /** Parses sizes like 512M, 4G, 1024 (bytes); flag names the option in errors. */
    static long bytes(String flag, String s) {
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
            throw new IllegalArgumentException(flag + ": not a size: '" + s + "' (use e.g. 512M, 4G)");
        }
    }
}
