package io.sluice.model.arch;

import io.sluice.model.nn.Ffn;
import io.sluice.model.nn.Moe;

/**
 * qwen2moe (Qwen1.5-MoE-A2.7B, Qwen2-57B-A14B): qwen2's blocks ({@link Llama} with NeoX RoPE and
 * Q/K/V biases) with a mixture of experts: softmax over every expert, the top k kept unnormalised,
 * SwiGLU experts of {@code expert_feed_forward_length} (else feed_forward_length / experts used),
 * plus a shared SwiGLU expert on every token ({@code ffn_*_shexp}, of
 * {@code expert_shared_feed_forward_length}, else feed_forward_length) scaled by
 * σ({@code ffn_gate_inp_shexp} · x).
 */
final class Qwen2Moe {
    private Qwen2Moe() {
    }

    static final FeedForwardLoader FFN = (m, l) -> {
        Moe.Routing r = Moe.Routing.read(m.hp, Moe.Gating.SOFTMAX, false);
        int ff = Moe.expertWidth(m.hp, m.hp.ffnDim[l] / r.used());
        return Moe.load(m.weights, l, m.dim, ff, r, Ffn.Activation.SILU, Moe.sharedWidth(m.hp, l, ff), m.moeWorkspace());
    };
}
