package io.sluice.model;

import io.sluice.Fixtures;
import io.sluice.gguf.GGUFFile;
import io.sluice.gguf.GGUFWriter;
import io.sluice.gguf.TensorInfo;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.function.Consumer;

/** Writes a copy of a fixture model with edited metadata and renamed or reshaped tensors (tests only). */
final class FixtureRewriter {
    /** How one tensor is written: its name, shape and bytes (a prefix of the original's), or null to drop it. */
    record Tensor(String name, long[] dims, MemorySegment data) {
    }

    interface TensorEdit {
        Tensor apply(TensorInfo t, MemorySegment data);
    }

    static final TensorEdit SAME = (t, d) -> new Tensor(t.name(), t.dims(), d);

    private FixtureRewriter() {
    }

    static Path rewrite(String fixture, Path dst, Consumer<GGUFWriter> metadata, TensorEdit tensors) throws Exception {
        try (GGUFFile f = GGUFFile.open(Fixtures.model(fixture))) {
            GGUFWriter w = new GGUFWriter();
            f.metadata().forEach((k, v) -> {
                if (!k.equals("general.alignment")) w.put(k, v);
            });
            metadata.accept(w);
            for (TensorInfo t : f.tensors().values().stream().sorted(Comparator.comparingLong(TensorInfo::offset)).toList()) {
                Tensor e = tensors.apply(t, f.data(t));
                if (e != null) w.addTensor(e.name(), t.type(), e.dims(), e.data());
            }
            w.write(dst);
        }
        return dst;
    }
}
