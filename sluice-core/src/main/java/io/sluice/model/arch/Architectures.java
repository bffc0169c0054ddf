package io.sluice.model.arch;

import io.sluice.gguf.GGMLType;
import io.sluice.gguf.GGUFException;
import io.sluice.gguf.GGUFFile;
import io.sluice.model.EmbeddingModel;
import io.sluice.model.Model;
import io.sluice.model.nn.Pooling;
import io.sluice.model.nn.Rope;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * The architectures Sluice runs, by {@code general.architecture}. Adding one is one file (a
 * {@link Decoder} or {@link Encoder} subclass) and one line here. Decoders generate and, with a
 * pooling, embed ({@link DecoderEmbedder}); encoders only embed.
 */
public final class Architectures {
    /** Builds a model of one architecture from its file, for sequences of up to contextLength tokens (0 = trained). */
    @FunctionalInterface
    public interface Loader {
        Model load(GGUFFile file, int contextLength);
    }

    /** Builds an encoder from its file; pooling null: the file's. */
    @FunctionalInterface
    public interface EncoderLoader {
        EmbeddingModel load(GGUFFile file, Pooling pooling);
    }

    private static final Map<String, Loader> REGISTRY = new LinkedHashMap<>();
    private static final Map<String, EncoderLoader> ENCODERS = new LinkedHashMap<>();

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
        REGISTRY.put("bitnet", Bitnet::new);

        ENCODERS.put("bert", (f, p) -> new Bert(f, p, Bert.Positions.LEARNED, Bert.GELU));
        ENCODERS.put("nomic-bert", (f, p) -> new Bert(f, p, Bert.Positions.ROPE, Bert.SWIGLU));
        ENCODERS.put("jina-bert-v2", (f, p) -> new Bert(f, p, Bert.Positions.ALIBI, Bert.JINA));
        ENCODERS.put("gemma-embedding", GemmaEmbedding::new);
    }

    private Architectures() {
    }

    /** The names Sluice loads to generate. */
    public static Set<String> supported() {
        return Collections.unmodifiableSet(REGISTRY.keySet());
    }

    /** The encoder architectures (embedding only). */
    public static Set<String> encoders() {
        return Collections.unmodifiableSet(ENCODERS.keySet());
    }

    /**
     * Whether the file is an embedding model: an encoder, or a decoder whose file names a pooling
     * (Qwen3-Embedding, Qwen3-Reranker). Those serve embeddings; generation on them is refused.
     */
    public static boolean isEmbedding(GGUFFile file) {
        String arch = file.getString("general.architecture", "");
        if (ENCODERS.containsKey(arch)) return true;
        return file.getInt(arch + ".pooling_type", -1) >= 0;
    }

    /** The model in the file, by its general.architecture; a clear error naming the supported ones otherwise. */
    public static Model load(GGUFFile file, int contextLength) {
        String arch = file.getString("general.architecture", "");
        Loader l = REGISTRY.get(arch);
        if (l == null) {
            if (ENCODERS.containsKey(arch)) {
                throw new GGUFException(file.path() + ": '" + arch + "' is an embedding model (an encoder): it does not generate text; "
                        + "embed with it instead (sluice embed, or sluice serve for /v1/embeddings)");
            }
            throw new GGUFException(file.path() + ": unsupported architecture '" + arch + "' (supported: " + String.join(", ", supported())
                    + "; embedding only: " + String.join(", ", encoders()) + ")");
        }
        return l.load(file, contextLength);
    }

    /**
     * The file as an embedding model: an encoder, or a decoder's hidden states pooled (its KV
     * cache for one call of the given type). pooling null: the file's ARCH.pooling_type.
     */
    public static EmbeddingModel loadEmbedding(GGUFFile file, Pooling pooling, GGMLType kvType) {
        String arch = file.getString("general.architecture", "");
        EncoderLoader e = ENCODERS.get(arch);
        if (e != null) return e.load(file, pooling);
        if (!REGISTRY.containsKey(arch)) {
            throw new GGUFException(file.path() + ": unsupported architecture '" + arch + "' (encoders: " + String.join(", ", encoders())
                    + "; decoders, with a pooling: " + String.join(", ", supported()) + ")");
        }
        return new DecoderEmbedder(load(file, 0), pooling, kvType);
    }
}
