package io.sluice.tensor;

import io.sluice.gguf.GGMLType;

import java.util.EnumMap;
import java.util.Map;

/** The table of formats Sluice computes with: one entry per supported GGML type. */
public final class Formats {
    private static final Map<GGMLType, Format> TABLE = new EnumMap<>(GGMLType.class);

    static {
        register(new F32Format());
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
}
