package io.sluice.cli.hub;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GgufPickerTest {
    static HubFile f(String path) {
        return new HubFile(path, 1, "0".repeat(64), true);
    }

    @Test
    void quantTagsAreReadFromRealFileNames() {
        assertEquals("Q4_K_M", GgufPicker.quantOf("qwen2.5-0.5b-instruct-q4_k_m.gguf"));
        assertEquals("Q8_0", GgufPicker.quantOf("Llama-3.2-1B-Instruct-Q8_0.gguf"));
        assertEquals("IQ4_XS", GgufPicker.quantOf("Mistral-7B-v0.3.IQ4_XS.gguf"));
        assertEquals("UD-Q4_K_XL", GgufPicker.quantOf("Qwen3-8B-UD-Q4_K_XL.gguf"));
        assertEquals("F16", GgufPicker.quantOf("stories260K-f16.gguf"));
        assertEquals("Q4_K_M", GgufPicker.quantOf("Big-Q4_K_M-00001-of-00003.gguf"));
        assertNull(GgufPicker.quantOf("stories260K.gguf"));
    }

    @Test
    void tagsMatchWholeTagsOnly() throws Exception {
        List<HubFile> files = List.of(f("m-Q4_K_M_L.gguf"), f("m-IQ4_K_M.gguf"), f("m-Q4_K_M.gguf"));
        assertEquals("m-Q4_K_M.gguf", GgufPicker.pick("a/b", files, "q4_k_m").getFirst().path());
        assertTrue(GgufPicker.matches("Q4_K_M/x-00001-of-00002.gguf", "Q4_K_M"));
        assertFalse(GgufPicker.matches("x-Q4_K_S.gguf", "Q4_K"));
    }

    @Test
    void withoutATagQ4KMThenQ8ThenTheFirstModel() throws Exception {
        assertEquals("m-Q8_0.gguf", GgufPicker.pick("a/b", List.of(f("m-F16.gguf"), f("m-Q8_0.gguf")), null).getFirst().path());
        assertEquals("m-F16.gguf", GgufPicker.pick("a/b", List.of(f("README.md"), f("mmproj-F16.gguf"), f("m-F16.gguf")), null).getFirst().path());
        HubException none = assertThrows(HubException.class, () -> GgufPicker.pick("a/b", List.of(f("README.md"), f("mmproj-F16.gguf")), null));
        assertTrue(none.getMessage().contains("no GGUF model files"), none.getMessage());
        assertEquals(Set.of("F16", "Q8_0"), GgufPicker.quants(List.of(f("m-F16.gguf"), f("m-Q8_0.gguf"), f("mmproj-m-Q4_0.gguf"))));
    }

    @Test
    void refsAreParsedInEveryCommonSpelling() {
        assertEquals(new HubRef("org/name", "Q4_K_M"), HubRef.parse("hf.co/org/name:Q4_K_M"));
        assertEquals(new HubRef("org/name", null), HubRef.parse("https://huggingface.co/org/name"));
        assertEquals(new HubRef("org/name", null), HubRef.parse("org/name:latest"));
        assertEquals("models--org--name", HubRef.parse("org/name").cacheFolder());
        assertThrows(IllegalArgumentException.class, () -> HubRef.parse("org/name:Q4 K"));
        assertThrows(IllegalArgumentException.class, () -> HubRef.parse("org/.name"));
    }
}
