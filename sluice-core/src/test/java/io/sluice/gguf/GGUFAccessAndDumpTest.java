package io.sluice.gguf;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** Typed metadata access (wrong types are GGUFExceptions naming file and key) and the `sluice info` text. */
class GGUFAccessAndDumpTest {
    @TempDir
    Path dir;
    Path path;
    GGUFFile file;

    @BeforeEach
    void write() throws IOException {
        String[] tokens = new String[20];
        for (int i = 0; i < tokens.length; i++) tokens[i] = "tok" + i;
        path = dir.resolve("m.gguf");
        new GGUFWriter().putString("general.architecture", "llama")
                .putString("tokenizer.chat_template", "{% for m in messages %}\n\t\"" + "x".repeat(300))
                .putU32("big", 0xFFFF_FFFFL).putI32("small", -3).putF32("eps", 1e-6f).putBool("flag", true)
                .putArray("tokens", tokens).putArray("scores", new float[]{0.5f, -1f})
                .put("types.u8", GGUFValue.array(GGUFValueType.UINT8, new byte[]{1, (byte) 200}))
                .put("types.i16", GGUFValue.array(GGUFValueType.INT16, new short[]{-2, 7}))
                .putArray("types.bool", new boolean[]{true, false})
                .put("types.u64", GGUFValue.array(GGUFValueType.UINT64, new long[]{1L << 40}))
                .addTensor("token_embd.weight", GGMLType.Q8_0, new long[]{64, 3}, new byte[34 * 2 * 3])
                .addTensor("output_norm.weight", GGMLType.F32, new long[]{64}, new byte[256])
                .write(path);
        file = GGUFFile.open(path);
    }

    @AfterEach
    void close() {
        file.close();
    }

    private void failsWith(Runnable r, String phrase) {
        GGUFException e = assertThrows(GGUFException.class, r::run);
        assertTrue(e.getMessage().startsWith(path + ": "), e.getMessage());
        assertTrue(e.getMessage().contains(phrase), e.getMessage());
    }

    @Test
    void typedGetters() {
        assertEquals("llama", file.requireString("general.architecture"));
        assertEquals(0xFFFF_FFFFL, file.getLong("big", 0));
        assertEquals(-3, file.requireInt("small"));
        assertEquals(7, file.getInt("absent", 7));
        assertEquals(1e-6f, file.getFloat("eps", 0));
        assertTrue(file.getBoolean("flag", false));
        assertArrayEquals(new float[]{0.5f, -1f}, file.getFloatArray("scores"));
        assertEquals("tok19", file.getStringArray("tokens")[19]);
        assertArrayEquals(new int[]{1, 200}, file.getIntArray("types.u8"), "UINT8 read unsigned");
        assertArrayEquals(new int[]{-2, 7}, file.getIntArray("types.i16"));
        assertArrayEquals(new int[]{1, 0}, file.getIntArray("types.bool"));
        assertNull(file.getStringArray("absent"));
        assertNull(file.getIntArray("absent"));
    }

    @Test
    void wrongTypesAndMissingKeysNameFileAndKey() {
        failsWith(() -> file.getString("big", null), "metadata 'big' is UINT32, expected STRING");
        failsWith(() -> file.getInt("big", 0), "metadata 'big' value 4294967295 is out of range");
        failsWith(() -> file.getInt("tokens", 0), "metadata 'tokens' is ARRAY, expected a number");
        failsWith(() -> file.getStringArray("scores"), "metadata 'scores' is an array of FLOAT32, expected an array of STRING");
        failsWith(() -> file.getFloatArray("eps"), "metadata 'eps' is FLOAT32, expected an array of FLOAT32");
        failsWith(() -> file.getIntArray("tokens"), "metadata 'tokens': cannot read as int array");
        failsWith(() -> file.getIntArray("types.u64"), "metadata 'types.u64': cannot read as int array");
        failsWith(() -> file.require("nope"), "missing metadata key 'nope'");
        failsWith(() -> file.requireTensor("nope.weight"), "missing tensor 'nope.weight'");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> file.get("scores").asStringArray());
        assertEquals("not an array of STRING: array of FLOAT32", e.getMessage());
    }

    @Test
    void dumpShowsHeaderMetadataTensorsAndTotals() {
        String d = GGUFDump.dump(file);
        assertTrue(d.contains("file:       " + path + "\n"), d);
        assertTrue(d.contains("version:    3\n"), d);
        assertTrue(d.contains("alignment:  32\n"), d);
        assertTrue(d.contains("metadata (12 keys):"), d);
        assertTrue(d.matches("(?s).*general\\.architecture +string +\"llama\"\n.*"), d);
        assertTrue(d.matches("(?s).*big +u32 +4294967295\n.*"), "unsigned shown unsigned: " + d);
        assertTrue(d.contains("[\"tok0\", \"tok1\", \"tok2\", \"tok3\", \"tok4\", \"tok5\", \"tok6\", \"tok7\", ... 12 more] (20 elements)"), d);
        assertTrue(d.contains("[1, 200] (2 elements)"), "u8 array unsigned: " + d);
        assertTrue(d.contains("\"{% for m in messages %}\\n\\t\\\"xxx"), "control characters escaped: " + d);
        assertTrue(d.contains("...(326 chars)"), "long string cut: " + d);
        assertEquals(-1, d.indexOf("x".repeat(200)), "long string cut");
        assertTrue(d.matches("(?s).*token_embd\\.weight +Q8_0 +\\[64, 3\\] +204 +0\n.*"), d);
        assertTrue(d.matches("(?s).*output_norm\\.weight +F32 +\\[64\\] +256 +224\n.*"), d);
        // The mix: per type tensors, parameters, bytes, share of the bytes, bits per weight (Q8_0: 34 bytes per 32 values).
        assertTrue(d.matches("(?s).*quantization mix:\n +type +tensors +parameters +bytes +share +bits/weight\n"
                + " +F32 +1 +64 +256 +55\\.7% +32\\.00\n +Q8_0 +1 +192 +204 +44\\.3% +8\\.50\n.*"), d);
        assertTrue(d.contains("total: 2 tensors, 256 parameters, 460 bytes of tensor data, 14.38 bits per weight"), d);
    }
}
