package io.sluice.cli;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ProgressTest {
    final ByteArrayOutputStream buf = new ByteArrayOutputStream();
    final PrintStream err = new PrintStream(buf, true, StandardCharsets.UTF_8);

    String out() {
        return buf.toString(StandardCharsets.UTF_8);
    }

    @Test
    void onATerminalOneLineIsRedrawnInPlace() throws Exception {
        Progress p = new Progress(err, "model.gguf", 10L << 20, Progress.Unit.BYTES, true, false, 0.1, 0);
        p.update(0);
        Thread.sleep(250);
        p.update(5L << 20);
        p.finish("pulled model.gguf");
        String s = out();
        assertFalse(s.substring(0, s.lastIndexOf("sluice:")).contains("\n"), "bar updates never start a new line: " + s);
        assertTrue(s.contains("\r") && s.contains(" 50% [=====") && s.contains("5.00 MiB / 10.0 MiB") && s.contains("/s  ETA "), s);
        assertTrue(s.endsWith("\r\033[Ksluice: pulled model.gguf\n"), "the bar is wiped for the summary: " + s);
    }

    @Test
    void elsewherePlainLinesAtMostOncePerStep() {
        Progress p = new Progress(err, "model.gguf", 1000, Progress.Unit.BYTES, false, false, 0.25, 0);
        for (int i = 0; i <= 1000; i += 10) p.update(i);
        p.finish("done");
        String[] lines = out().split("\n");
        assertEquals(4, lines.length, out()); // 25%, 50%, 75%, summary
        assertTrue(lines[0].startsWith("sluice: model.gguf: 25% (250 B of 1000 B"), lines[0]);
        assertFalse(out().contains("\r"));
    }

    @Test
    void quietPrintsNothingAndSizesReadWell() {
        Progress p = new Progress(err, "x", 100, Progress.Unit.ITEMS, true, true, 0.1, 0);
        p.update(50);
        p.finish("done");
        assertEquals("", out());
        assertEquals("1023 B", Progress.bytes(1023));
        assertEquals("1.50 GiB", Progress.bytes(3L << 29));
        assertEquals("1:01:01", Progress.duration(3661));
        assertEquals("--:--", Progress.duration(Double.NaN));
    }
}
