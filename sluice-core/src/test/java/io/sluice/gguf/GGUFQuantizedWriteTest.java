package io.sluice.gguf;

import io.sluice.tensor.Format;
import io.sluice.tensor.Formats;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The writer stays below the tensor layer; quantizing while writing is a TensorSource that calls a
 * Format. This test (which may depend on both layers) checks that pattern end to end.
 */
class GGUFQuantizedWriteTest {
    @TempDir
    Path dir;

    /** Quantizes {@code values} into the tensor's bytes when the file is written. */
    static GGUFWriter.TensorSource quantizing(GGMLType type, float[] values) {
        return out -> {
            Format f = Formats.of(type);
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment seg = arena.allocate(type.byteSize(values.length));
                f.quantize(values, 0, values.length, seg, 0);
                out.write(seg.toArray(ValueLayout.JAVA_BYTE));
            }
        };
    }

    @Test
    void quantizedTensorsReadBackAsTheirFormatsEncodeThem() throws IOException {
        Random r = new Random(5);
        float[] values = new float[256 * 4];
        for (int i = 0; i < values.length; i++) values[i] = (float) r.nextGaussian();
        GGMLType[] types = {GGMLType.F32, GGMLType.F16, GGMLType.Q8_0, GGMLType.Q4_K, GGMLType.Q6_K};
        GGUFWriter w = new GGUFWriter();
        for (GGMLType t : types) w.addTensor("w." + t, t, new long[]{256, 4}, quantizing(t, values));
        Path p = dir.resolve("q.gguf");
        w.write(p);
        try (GGUFFile f = GGUFFile.open(p)) {
            for (GGMLType t : types) {
                TensorInfo info = f.requireTensor("w." + t);
                assertEquals(t, info.type());
                float[] back = new float[values.length];
                Formats.of(t).dequantize(f.data(info), 0, back, 0, values.length);
                double maxErr = 0;
                for (int i = 0; i < values.length; i++) maxErr = Math.max(maxErr, Math.abs(back[i] - values[i]));
                double bound = t == GGMLType.F32 ? 0 : t == GGMLType.F16 ? 2e-3 : t == GGMLType.Q4_K ? 0.6 : 0.2;
                assertTrue(maxErr <= bound, t + " max error " + maxErr + " > " + bound);
            }
        }
    }
}
