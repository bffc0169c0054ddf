package io.sluice.model.arch;

import io.sluice.gguf.GGUFException;
import io.sluice.gguf.GGUFFile;
import io.sluice.model.Model;
import io.sluice.model.nn.Rope;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * The architectures Sluice runs, by {@code general.architecture}. Adding one is one file (a
 * {@link Decoder} subclass) and one line here.
 */
public final class Architectures {
    /** Builds a model of one architecture from its file, for sequences of up to contextLength tokens (0 = trained). */
    @FunctionalInterface
    public interface Loader {
        Model load(GGUFFile file, int contextLength);
    }

    private static final Map<String, Loader> REGISTRY = new LinkedHashMap<>();

    static {
        REGISTRY.put("llama", (f, ctx) -> new Llama(f, ctx, Rope.Type.NORMAL, Llama.FFN));
        REGISTRY.put("qwen2", (f, ctx) -> new Llama(f, ctx, Rope.Type.NEOX, FeedForwardLoader.DENSE));
        REGISTRY.put("qwen2moe", (f, ctx) -> new Llama(f, ctx, Rope.Type.NEOX, Qwen2Moe.FFN));
        REGISTRY.put("qwen3", (f, ctx) -> new Qwen3(f, ctx, FeedForwardLoader.DENSE));
        REGISTRY.put("qwen3moe", (f, ctx) -> new Qwen3(f, ctx, Qwen3Moe.FFN));
        REGISTRY.put("olmoe", Olmoe::new);
        REGISTRY.put("gpt-oss", GptOss::new);
        REGISTRY.put("gemma2", Gemma2::new);
        REGISTRY.put("gemma3", Gemma3::new);
        REGISTRY.put("phi3", Phi3::new);
        REGISTRY.put("olmo2", Olmo2::new);
        REGISTRY.put("granite", Granite::new);
        REGISTRY.put("smollm3", SmolLM3::new);
        REGISTRY.put("mistral3", Mistral3::new);
    }

    private Architectures() {
    }

    /** The names Sluice loads. */
    public static Set<String> supported() {
        return Collections.unmodifiableSet(REGISTRY.keySet());
    }

    /** The model in the file, by its general.architecture; a clear error naming the supported ones otherwise. */
    public static Model load(GGUFFile file, int contextLength) {
        String arch = file.getString("general.architecture", "");
        Loader l = REGISTRY.get(arch);
        if (l == null) {
            throw new GGUFException(file.path() + ": unsupported architecture '" + arch + "' (supported: " + String.join(", ", supported()) + ")");
        }
        return l.load(file, contextLength);
    }
}
