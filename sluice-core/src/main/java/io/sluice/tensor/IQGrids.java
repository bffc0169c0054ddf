package io.sluice.tensor;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;

/**
 * The lookup tables of the i-quants. The lattice points ("grids") are data, read from
 * {@code iq-grids.txt} (transcribed from llama.cpp's ggml-common.h, where their author defined
 * them from weight statistics); the sign table is generated from its definition. Each grid is
 * expanded to one byte per value: point p, value j at {@code [p * width + j]}.
 */
final class IQGrids {
    private IQGrids() {
    }

    /** 8-value points, magnitudes 8, 25, 43: 256 (IQ2_XXS), 512 (IQ2_XS), 1024 (IQ2_S). */
    static final byte[] IQ2XXS, IQ2XS, IQ2S;
    /** 4-value points: IQ3_XXS (256, magnitudes 4..62), IQ3_S (512, odd magnitudes 1..15). */
    static final byte[] IQ3XXS, IQ3S;
    /** 8-value points of -1, 0, 1 (2048), for IQ1_S and IQ1_M. */
    static final byte[] IQ1S;

    /**
     * ggml's ksigns_iq2xs: 7 stored sign bits and, as bit 7, their parity, so that every 8-value
     * group has an even number of negative values (the encoding spends 7 bits on 8 signs).
     */
    static final int[] KSIGNS = new int[128];

    static {
        Map<String, byte[]> grids = load();
        IQ2XXS = grids.get("iq2xxs_grid");
        IQ2XS = grids.get("iq2xs_grid");
        IQ2S = grids.get("iq2s_grid");
        IQ3XXS = grids.get("iq3xxs_grid");
        IQ3S = grids.get("iq3s_grid");
        IQ1S = grids.get("iq1s_grid");
        for (int i = 0; i < 128; i++) KSIGNS[i] = i | (Integer.bitCount(i) & 1) << 7;
    }

    private static Map<String, byte[]> load() {
        Map<String, byte[]> out = new HashMap<>();
        try (InputStream in = IQGrids.class.getResourceAsStream("iq-grids.txt")) {
            if (in == null) throw new IllegalStateException("iq-grids.txt missing from the classpath");
            BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.US_ASCII));
            String line, name = null;
            byte[] cur = null;
            int width = 0, at = 0;
            while ((line = r.readLine()) != null) {
                if (line.isBlank() || line.startsWith("#")) continue;
                String[] p = line.trim().split("\\s+");
                if (p[0].endsWith("_grid")) { // a section: name, number of points, bytes per point
                    if (cur != null && at != cur.length) throw new IllegalStateException(name + ": " + at / width + " points");
                    name = p[0];
                    width = Integer.parseInt(p[2]);
                    cur = new byte[Integer.parseInt(p[1]) * width];
                    at = 0;
                    out.put(name, cur);
                    continue;
                }
                for (String w : p) {
                    long v = Long.parseUnsignedLong(w, 16);
                    for (int j = 0; j < width; j++) cur[at++] = (byte) (v >>> (8 * j));
                }
            }
            if (cur != null && at != cur.length) throw new IllegalStateException(name + ": " + at / width + " points");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }
}
