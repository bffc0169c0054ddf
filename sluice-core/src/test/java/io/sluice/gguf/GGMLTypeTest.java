package io.sluice.gguf;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GGMLTypeTest {
    /** ggml.h (llama.cpp c2b1518fd) defines ids 0..41 (GGML_TYPE_COUNT 42); every one is named or known as removed. */
    @Test
    void everyIdLlamaCppDefinesIsNamed() {
        for (int id = 0; id < 42; id++) {
            GGMLType t = GGMLType.fromId(id);
            assertTrue(t != null ^ GGMLType.isRemovedId(id), "id " + id);
            if (t != null) assertEquals(id, t.id);
        }
        assertNull(GGMLType.fromId(42));
        assertNull(GGMLType.fromId(-1));
    }

    /** Sizes as ggml's type traits give them (blck_size, type_size). */
    @Test
    void blockLayouts() {
        assertNotNull(GGMLType.fromId(40));
        assertEquals(64, GGMLType.NVFP4.blockSize);
        assertEquals(36, GGMLType.NVFP4.typeSize);
        assertEquals(128, GGMLType.Q1_0.blockSize);
        assertEquals(18, GGMLType.Q1_0.typeSize);
        assertEquals(4.25, GGMLType.MXFP4.bitsPerWeight());
        assertEquals(2.0625, GGMLType.TQ2_0.bitsPerWeight());
        assertEquals(4.25, GGMLType.IQ4_XS.bitsPerWeight());
    }
}
