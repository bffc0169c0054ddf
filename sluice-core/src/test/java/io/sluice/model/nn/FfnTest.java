package io.sluice.model.nn;

import io.sluice.tensor.Half;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

class FfnTest {
    private static double exactGelu(double x) {
        return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
    }

    @Test
    void geluIsTheF16TableOfTheTanhFormOnF16RoundedInputs() {
        for (float x = -12f; x <= 12f; x += 0.01337f) {
            float got = Ffn.gelu(x);
            if (x <= -10f) assertEquals(0f, got, 0f);
            else if (x >= 10f) assertEquals(x, got, 0f);
            else {
                double want = exactGelu(Half.roundToF16(x));
                // F16 values within half an F16 step of the exact GELU of the rounded input; in the far negative
                // tail ggml's float 1 + tanh cancels to a few 1e-7, which the table keeps as ggml does.
                assertEquals(want, got, Math.abs(want) * 1e-3 + 5e-7, "x = " + x);
                assertEquals(got, Half.roundToF16(got), 0f, "an F16 value");
            }
        }
    }

    @Test
    void gegluMultipliesTheGateActivationByUp() {
        float[] g = {-11f, -1f, 0.5f, 3f, 11f}, u = {2f, 3f, 4f, 5f, 6f};
        float[] want = new float[g.length];
        for (int i = 0; i < g.length; i++) want[i] = Ffn.gelu(g[i]) * u[i];
        Ffn.geglu(g, u, 0, g.length);
        for (int i = 0; i < g.length; i++) assertEquals(want[i], g[i], 0f);
        assertEquals(0f, g[0], 0f);
        assertEquals(66f, g[4], 0f);
    }
}
