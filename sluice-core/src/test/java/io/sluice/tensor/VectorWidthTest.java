package io.sluice.tensor;

import io.sluice.gguf.GGMLType;
import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The kernels take different paths by vector width: 16 float lanes (AVX-512), 8 (AVX2) or the
 * scalar fallback. This machine only runs one of them in-process, so the others are checked in a
 * child JVM whose vectors are capped with -XX:MaxVectorSize.
 */
class VectorWidthTest {

    @ParameterizedTest
    @ValueSource(ints = {32, 16})
    void dotsAgreeAtNarrowerVectorWidths(int maxVectorBytes) throws IOException, InterruptedException {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = List.of(java, "-XX:MaxVectorSize=" + maxVectorBytes, "--add-modules", "jdk.incubator.vector",
                "-cp", System.getProperty("java.class.path"), VectorWidthTest.class.getName());
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out;
        try (var in = p.getInputStream()) {
            out = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "child JVM did not finish");
        System.out.println("MaxVectorSize=" + maxVectorBytes + ":\n" + out);
        assertTrue(out.contains("lanes "), "child did not run the check:\n" + out);
        assertEquals(0, p.exitValue(), "dot disagreed with dequantize at MaxVectorSize=" + maxVectorBytes + ":\n" + out);
    }

    /** Child entry point: exit status = number of formats whose dot disagrees with dequantize + dot. */
    public static void main(String[] args) {
        System.out.println("lanes " + FloatVector.SPECIES_PREFERRED.length() + ", vector kernels " + FormatVectors.ENABLED);
        Random rnd = new Random(5);
        int bad = 0;
        for (GGMLType t : List.of(GGMLType.F32, GGMLType.F16, GGMLType.BF16, GGMLType.Q8_0, GGMLType.Q4_0, GGMLType.Q4_1, GGMLType.Q5_0,
                GGMLType.Q5_1, GGMLType.Q2_K, GGMLType.Q3_K, GGMLType.Q4_K, GGMLType.Q5_K, GGMLType.Q6_K)) {
            Format f = Formats.of(t);
            int n = t.blockSize == 1 ? 1003 : 4096;
            float[] w = new float[n];
            for (int i = 0; i < n; i++) w[i] = (float) rnd.nextGaussian();
            float[] x = new float[n + 1];
            for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
            MemorySegment seg = MemorySegment.ofArray(new byte[(int) t.byteSize(n) + 5]);
            f.quantize(w, 0, n, seg, 5);
            float[] d = new float[n];
            f.dequantize(seg, 5, d, 0, n);
            double want = 0, mag = 0;
            for (int i = 0; i < n; i++) {
                want += (double) d[i] * x[i + 1];
                mag += Math.abs((double) d[i] * x[i + 1]);
            }
            float got = f.dot(seg, 5, x, 1, n);
            boolean ok = Math.abs(got - want) <= 1e-5 * mag;
            if (!ok) bad++;
            System.out.printf("%-5s %s dequantize+dot %.6f, dot %.6f%n", t, ok ? "ok " : "BAD", want, got);
        }
        System.exit(bad);
    }
}
