package io.sluice.gguf;

import java.lang.reflect.Array;
import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;

/**
 * The human-readable description of a GGUF file that {@code sluice info FILE} prints: header,
 * metadata (long strings and arrays abbreviated), a tensor table, the quantization mix and totals.
 */
public final class GGUFDump {
    /** Array elements shown before "... N more". */
    static final int ARRAY_ITEMS = 8;
    /** String characters shown before the rest is cut. */
    static final int STRING_CHARS = 120;

    private GGUFDump() {
    }

    public static String dump(GGUFFile f) {
        StringBuilder sb = new StringBuilder();
        sb.append("file:       ").append(f.path()).append('\n');
        sb.append("size:       ").append(num(f.fileSize())).append(" bytes\n");
        sb.append("version:    ").append(f.version()).append('\n');
        sb.append("alignment:  ").append(f.alignment()).append('\n');
        sb.append("data start: byte ").append(num(f.dataOffset())).append('\n');

        sb.append("\nmetadata (").append(f.metadata().size()).append(" keys):\n");
        int keyWidth = 0;
        for (String k : f.metadata().keySet()) keyWidth = Math.max(keyWidth, Math.min(48, k.length()));
        for (Map.Entry<String, GGUFValue> e : f.metadata().entrySet()) {
            GGUFValue v = e.getValue();
            sb.append("  ").append(pad(escape(e.getKey(), 200), keyWidth)).append("  ")
                    .append(pad(typeName(v), 10)).append("  ").append(value(v)).append('\n');
        }

        sb.append("\ntensors (").append(f.tensors().size()).append("):\n");
        int nameWidth = 4;
        for (String n : f.tensors().keySet()) nameWidth = Math.max(nameWidth, Math.min(64, n.length()));
        sb.append("  ").append(pad("name", nameWidth)).append("  ").append(pad("type", 7)).append("  ")
                .append(pad("shape", 22)).append("  ").append(padLeft("bytes", 14)).append("  ").append(padLeft("offset", 14)).append('\n');
        for (TensorInfo t : f.tensors().values()) {
            sb.append("  ").append(pad(escape(t.name(), 200), nameWidth)).append("  ").append(pad(t.type().name(), 7)).append("  ")
                    .append(pad(t.shape(), 22)).append("  ").append(padLeft(num(t.byteSize()), 14)).append("  ")
                    .append(padLeft(num(t.offset()), 14)).append('\n');
        }
        mix(sb, f);
        return sb.toString();
    }

    /**
     * The quantization mix: per tensor type its tensors, parameters, bytes, share of the tensor
     * data and bits per weight, then the file's totals. A "Q4_K_M" name says little about a file
     * (llama-quantize recipes and "dynamic" mixes differ per tensor); this says what it holds.
     */
    static void mix(StringBuilder sb, GGUFFile f) {
        Map<GGMLType, long[]> byType = new EnumMap<>(GGMLType.class); // tensors, parameters, bytes
        long bytes = 0, params = 0;
        for (TensorInfo t : f.tensors().values()) {
            long[] a = byType.computeIfAbsent(t.type(), k -> new long[3]);
            a[0]++;
            a[1] += t.elementCount();
            a[2] += t.byteSize();
            bytes += t.byteSize();
            params += t.elementCount();
        }
        sb.append("\nquantization mix:\n");
        sb.append("  ").append(pad("type", 8)).append(padLeft("tensors", 8)).append(padLeft("parameters", 18))
                .append(padLeft("bytes", 18)).append(padLeft("share", 8)).append(padLeft("bits/weight", 13)).append('\n');
        for (Map.Entry<GGMLType, long[]> e : byType.entrySet()) {
            long[] a = e.getValue();
            sb.append("  ").append(pad(e.getKey().name(), 8)).append(padLeft(num(a[0]), 8)).append(padLeft(num(a[1]), 18))
                    .append(padLeft(num(a[2]), 18)).append(padLeft(percent(a[2], bytes), 8)).append(padLeft(bpw(a[2], a[1]), 13)).append('\n');
        }
        sb.append("\ntotal: ").append(f.tensors().size()).append(" tensors, ").append(num(params)).append(" parameters, ")
                .append(num(bytes)).append(" bytes of tensor data, ").append(bpw(bytes, params)).append(" bits per weight\n");
    }

    private static String percent(long part, long whole) {
        return whole == 0 ? "-" : String.format(Locale.ROOT, "%.1f%%", 100.0 * part / whole);
    }

    private static String bpw(long bytes, long params) {
        return params == 0 ? "-" : String.format(Locale.ROOT, "%.2f", 8.0 * bytes / params);
    }

    /** "u32", "string", "[string]", "[[i32]]": the type as ggml's tools name it. */
    static String typeName(GGUFValue v) {
        if (!v.isArray()) return shortName(v.type());
        if (v.elementType() != GGUFValueType.ARRAY) return "[" + shortName(v.elementType()) + "]";
        // Nested arrays may mix element types; name the first one's, which is what a reader meets first.
        GGUFValue[] a = (GGUFValue[]) v.value();
        return "[" + (a.length > 0 ? typeName(a[0]) : "[]") + "]";
    }

    private static String shortName(GGUFValueType t) {
        return switch (t) {
            case UINT8 -> "u8";
            case INT8 -> "i8";
            case UINT16 -> "u16";
            case INT16 -> "i16";
            case UINT32 -> "u32";
            case INT32 -> "i32";
            case UINT64 -> "u64";
            case INT64 -> "i64";
            case FLOAT32 -> "f32";
            case FLOAT64 -> "f64";
            case BOOL -> "bool";
            case STRING -> "string";
            case ARRAY -> "array";
        };
    }

    /** A value as text; unsigned types shown unsigned, arrays shortened to their first elements. */
    static String value(GGUFValue v) {
        if (!v.isArray()) return scalar(v.type(), v.value());
        int n = v.length();
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < Math.min(n, ARRAY_ITEMS); i++) {
            if (i > 0) sb.append(", ");
            Object e = Array.get(v.value(), i);
            sb.append(e instanceof GGUFValue g ? value(g) : scalar(v.elementType(), e));
        }
        if (n > ARRAY_ITEMS) sb.append(", ... ").append(n - ARRAY_ITEMS).append(" more");
        return sb.append("] (").append(n).append(n == 1 ? " element)" : " elements)").toString();
    }

    private static String scalar(GGUFValueType t, Object o) {
        return switch (t) {
            case UINT8 -> Integer.toString(Byte.toUnsignedInt((Byte) o));
            case UINT16 -> Integer.toString(Short.toUnsignedInt((Short) o));
            case UINT32 -> Integer.toUnsignedString((Integer) o);
            case UINT64 -> Long.toUnsignedString((Long) o);
            case STRING -> '"' + escape((String) o, STRING_CHARS) + '"';
            default -> String.valueOf(o);
        };
    }

    /** Control characters escaped so one value stays on one line; long text cut with its length noted. */
    static String escape(String s, int max) {
        StringBuilder sb = new StringBuilder();
        int shown = Math.min(s.length(), max);
        for (int i = 0; i < shown; i++) {
            char c = s.charAt(i);
            switch (c) {
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                default -> {
                    if (c < 0x20 || c == 0x7f) sb.append(String.format("\\u%04x", (int) c));
                    else sb.append(c);
                }
            }
        }
        if (s.length() > max) sb.append("...(").append(s.length()).append(" chars)");
        return sb.toString();
    }

    private static String num(long n) {
        return String.format(Locale.ROOT, "%,d", n);
    }

    private static String pad(String s, int w) {
        return s.length() >= w ? s : s + " ".repeat(w - s.length());
    }

    private static String padLeft(String s, int w) {
        return s.length() >= w ? s : " ".repeat(w - s.length()) + s;
    }
}
