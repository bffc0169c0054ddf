package io.sluice.model.arch;

import io.sluice.model.nn.Ffn;
import io.sluice.model.nn.Moe;

/**
 * qwen3moe (Qwen3-30B-A3B, Qwen3-235B-A22B, Qwen3-Coder): {@link Qwen3}'s blocks, per-head Q/K
 * norms and all, with a mixture of experts as the feed-forward: softmax over every expert, the
 * top {@code expert_used_count} renormalised to sum 1, SwiGLU experts of
 * {@code expert_feed_forward_length} (else feed_forward_length / experts used, as llama.cpp).
 */
final class Qwen3Moe {
    private Qwen3Moe() {
    }

    static final FeedForwardLoader FFN = (m, l) -> {
        Moe.Routing r = Moe.Routing.read(m.hp, Moe.Gating.SOFTMAX, true);
        return Moe.load(m.weights, l, m.dim, Moe.expertWidth(m.hp, m.hp.ffnDim[l] / r.used()), r, Ffn.Activation.SILU, 0, m.moeWorkspace());
    };
}
