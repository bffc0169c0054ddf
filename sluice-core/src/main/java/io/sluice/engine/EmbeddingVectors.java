package io.sluice.engine;

import io.sluice.model.EmbeddingModel;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Base64;

/**
 * What a pooled vector becomes for its user: truncated to a Matryoshka width and L2-normalised
 * (the first k values re-normalised, so a shorter vector is a prefix of the full one up to
 * scale), and encoded: base64 of little-endian float32 (OpenAI's encoding_format), sign bits
 * packed 8 to a byte most significant first (sentence-transformers' ubinary, and binary = ubinary
 * - 128 as signed bytes), or int8 = round(127·x) of the normalised values.
 */
public final class EmbeddingVectors {
    private EmbeddingVectors() {
    }

    /**
     * Checks a requested width against the model: 1..outputDim, and one of the widths the
     * model was trained for when its file names them. The message is for the client.
     */
    public static void checkDimensions(EmbeddingModel m, int dims) {
        int full = m.outputDim();
        if (dims < 1 || dims > full) throw new IllegalArgumentException("dimensions must be in 1.." + full + " for this model, not " + dims);
        int[] trained = m.matryoshkaDimensions();
        if (trained.length > 0 && dims != full && Arrays.binarySearch(trained, dims) < 0) {
            throw new IllegalArgumentException("dimensions " + dims + " is not a width this model was trained for (Matryoshka widths "
                    + Arrays.toString(trained) + ")");
        }
    }

    /** The first dims values of v, scaled to unit length (a zero vector stays zero). */
    public static float[] normalized(float[] v, int dims) {
        float[] r = Arrays.copyOf(v, dims);
        double ss = 0;
        for (float x : r) ss += (double) x * x;
        if (ss > 0) {
            float inv = (float) (1 / Math.sqrt(ss));
            for (int i = 0; i < r.length; i++) r[i] *= inv;
        }
        return r;
    }

    /** Sign bits (x &gt; 0 is 1), 8 per byte, the first value in the top bit; a last partial byte is padded with zeros. */
    public static byte[] ubinary(float[] v) {
        byte[] b = new byte[(v.length + 7) / 8];
        for (int i = 0; i < v.length; i++) if (v[i] > 0) b[i / 8] |= (byte) (0x80 >>> (i % 8));
        return b;
    }

    /** {@link #ubinary} as signed values: each byte minus 128 (sentence-transformers' binary precision). */
    public static int[] binary(float[] v) {
        byte[] u = ubinary(v);
        int[] r = new int[u.length];
        for (int i = 0; i < u.length; i++) r[i] = (u[i] & 0xFF) - 128;
        return r;
    }

    /** The unsigned byte values of {@link #ubinary}. */
    public static int[] ubinaryValues(float[] v) {
        byte[] u = ubinary(v);
        int[] r = new int[u.length];
        for (int i = 0; i < u.length; i++) r[i] = u[i] & 0xFF;
        return r;
    }

    /** round(127·x), clamped to -127..127: a normalised vector as signed bytes. */
    public static int[] int8(float[] v) {
        int[] r = new int[v.length];
        for (int i = 0; i < v.length; i++) r[i] = (int) Math.max(-127, Math.min(127, Math.round(127f * v[i])));
        return r;
    }

    /** Little-endian float32 bytes. */
    public static byte[] littleEndian(float[] v) {
        ByteBuffer bb = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        bb.asFloatBuffer().put(v);
        return bb.array();
    }

    /** Base64 of the little-endian float32 bytes (OpenAI's encoding_format=base64). */
    public static String base64(float[] v) {
        return Base64.getEncoder().encodeToString(littleEndian(v));
    }
}
