package io.sluice.cli;

import io.sluice.Fixtures;
import io.sluice.engine.EmbeddingVectors;
import io.sluice.model.EmbeddingSynth;
import io.sluice.model.Synth;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;

import static io.sluice.cli.CliTest.run;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** sluice embed on the fixtures: llama.cpp's vectors from --tokens, --out, Matryoshka, the encodings, rerank, refusals. */
class EmbedCommandTest {
    static float[] parse(String line) {
        String[] p = line.trim().split(" ");
        float[] v = new float[p.length];
        for (int i = 0; i < v.length; i++) v[i] = Float.parseFloat(p[i]);
        return v;
    }

    static float[] littleEndian(byte[] b) {
        ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        float[] v = new float[b.length / 4];
        for (int i = 0; i < v.length; i++) v[i] = bb.getFloat();
        return v;
    }

    @Test
    void tokensGiveLlamaCppsVectorsAndOutWritesThem(@TempDir Path dir) throws Exception {
        String model = Fixtures.model("tiny-nomic-bert-q8_0.gguf").toString();
        List<String> seqs = Files.readAllLines(Fixtures.model("embd-tokens.txt"));
        float[] ref = littleEndian(Files.readAllBytes(Fixtures.model("tiny-nomic-bert-q8_0.embd.f32")));
        CliTest.Result r = run("embed", "-m", model, "-t", "1", "--tokens", seqs.get(0).strip(), "--tokens", seqs.get(1).strip(), "--tokens", seqs.get(2).strip());
        assertEquals(0, r.code(), r.err());
        String[] lines = r.out().split("\n");
        assertEquals(3, lines.length, r.out());
        for (int s = 0; s < 3; s++) {
            float[] got = parse(lines[s]);
            assertEquals(256, got.length);
            double dot = 0;
            for (int i = 0; i < 256; i++) dot += (double) got[i] * ref[s * 256 + i];
            assertTrue(dot >= 0.999, "sequence " + s + ": cosine " + dot);
        }
        assertTrue(r.err().contains("3 inputs") && r.err().contains("inputs/s"), r.err());

        Path out = dir.resolve("v.f32");
        CliTest.Result w = run("embed", "-m", model, "--tokens", seqs.get(0).strip(), "--dimensions", "64", "--out", out.toString());
        assertEquals(0, w.code(), w.err());
        assertEquals("", w.out());
        assertArrayEquals(EmbeddingVectors.normalized(parse(lines[0]), 64), littleEndian(Files.readAllBytes(out)), 1e-6f);
    }

    @Test
    void textInputsAndEncodings(@TempDir Path dir) throws Exception {
        String model = Fixtures.model("tiny-bert-q8_0.gguf").toString();
        Path f = dir.resolve("doc.txt");
        Files.writeString(f, "a sluice gate");
        float[] v = parse(run("embed", "-m", model, "-p", "a sluice gate").out());
        CliTest.Result both = run("embed", "-m", model, "-p", "hello", "-f", f.toString());
        assertEquals(0, both.code(), both.err());
        assertArrayEquals(v, parse(both.out().split("\n")[1]), 1e-6f, "-f reads the file as one input, after the -p inputs");
        String b64 = run("embed", "-m", model, "-p", "a sluice gate", "--format", "base64").out().trim();
        assertArrayEquals(v, littleEndian(Base64.getDecoder().decode(b64)), 1e-6f);
        String ub = run("embed", "-m", model, "-p", "a sluice gate", "--format", "ubinary").out().trim();
        int[] want = EmbeddingVectors.ubinaryValues(v);
        String[] got = ub.split(" ");
        assertEquals(want.length, got.length);
        for (int i = 0; i < want.length; i++) assertEquals(want[i], Integer.parseInt(got[i]));
    }

    @Test
    void aDecoderEmbedsWithAPooling() {
        String model = Fixtures.model("stories260K.gguf").toString();
        CliTest.Result last = run("embed", "-m", model, "--pooling", "last", "-p", "Once upon a time", "-p", "a cat");
        assertEquals(0, last.code(), last.err());
        String[] lines = last.out().split("\n");
        assertEquals(2, lines.length);
        float[] v = parse(lines[0]);
        double norm = 0;
        for (float x : v) norm += x * x;
        assertEquals(1.0, norm, 1e-4, "unit length");
        CliTest.Result mean = run("embed", "-m", model, "--pooling", "mean", "-p", "Once upon a time");
        assertEquals(v.length, parse(mean.out()).length);
        assertTrue(!java.util.Arrays.equals(v, parse(mean.out())), "mean and last pooling differ");
        CliTest.Result none = run("embed", "-m", model, "-p", "Once upon a time");
        assertEquals(1, none.code(), "a decoder whose file names no pooling needs --pooling: " + none.err());
    }

    @Test
    void rerankScoresAndRefusals(@TempDir Path dir) throws Exception {
        Path rr = dir.resolve("rr.gguf");
        EmbeddingSynth.write(EmbeddingSynth.find("tiny-bge-reranker"), Synth.TypeSpec.parse("f32"), 42, rr);
        CliTest.Result r = run("embed", "-m", rr.toString(), "--query", "what is a sluice?", "-p", "a water gate", "-p", "bread");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().startsWith("rerank score 0: ") && r.out().contains("\nrerank score 1: "), r.out());
        assertEquals(1, run("embed", "-m", rr.toString(), "-p", "x").code(), "a reranker needs --query");

        String model = Fixtures.model("tiny-bert-q8_0.gguf").toString();
        String[][] bad = {
                {"embed", "-m", model, "--tokens", "2,x,3"},
                {"embed", "-m", model, "--tokens", "2,99999,3"},
                {"embed", "-m", model, "-p", "a", "--dimensions", "0"},
                {"embed", "-m", model, "-p", "a", "--format", "float16"},
                {"embed", "-m", model, "-p", "a", "--query", "q"},
                {"embed", "-m", model, "-p", "a", "--pooling", "median"},
        };
        for (String[] a : bad) {
            CliTest.Result e = run(a);
            assertEquals(1, e.code(), String.join(" ", a) + ": " + e.err());
            assertTrue(e.err().startsWith("sluice: ") && e.err().strip().split("\n").length == 1, e.err());
        }
        assertEquals(2, run("embed", "-m", model).code(), "an input is required");
    }
}
