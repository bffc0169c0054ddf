package io.sluice.tensor;

import io.sluice.gguf.GGMLType;

import java.util.EnumMap;
import java.util.Map;

/** The table of formats Sluice computes with: one entry per supported GGML type. */
public final class Formats {
    private static final Map<GGMLType, Format> TABLE = new EnumMap<>(GGMLType.class);

    static {
        register(new F32Format());
        register(new F16Format());
        register(new BF16Format());
        register(new Q8_0Format());
        register(new Q4_0Format());
        register(new Q4_1Format());
        register(new Q5_0Format());
        register(new Q5_1Format());
        register(new Q2_KFormat());
        register(new Q3_KFormat());
        register(new Q4_KFormat());
        register(new Q5_KFormat());
        register(new Q6_KFormat());
        register(new IQ4_NLFormat());
        register(new IQ4_XSFormat());
        register(new IQ3_XXSFormat());
        register(new IQ3_SFormat());
        register(new IQ2_XXSFormat());
        register(new IQ2_XSFormat());
        register(new IQ2_SFormat());
        register(new IQ1_SFormat());
        register(new IQ1_MFormat());
        register(new TQ1_0Format());
        register(new TQ2_0Format());
        register(new MXFP4Format());
    }

    private Formats() {
    }

    private static void register(Format f) {
        TABLE.put(f.type(), f);
    }

    public static boolean supports(GGMLType type) {
        return TABLE.containsKey(type);
    }

    /** The format for {@code type}; throws UnsupportedOperationException with a clear message when Sluice cannot compute it. */
    public static Format of(GGMLType type) {
        Format f = TABLE.get(type);
        if (f == null) throw new UnsupportedOperationException("tensor type " + type + " is not supported by Sluice");
        return f;
    }

    /** Bytes taken by one row of {@code cols} values of type {@code t}; cols must be a multiple of its block size. */
    public static long rowBytes(GGMLType t, int cols) {
        if (cols < 0) throw new IllegalArgumentException("negative column count " + cols);
        return t.byteSize(cols);
    }
}
