package io.sluice.model.arch;

import io.sluice.model.nn.FeedForward;
import io.sluice.model.nn.Ffn;

/**
 * How an architecture's layer gets its feed-forward, so that one block structure serves its
 * dense and its mixture-of-experts variant (qwen3 and qwen3moe, qwen2 and qwen2moe, llama and
 * Mixtral): each MoE architecture's file states its routing and expert width.
 */
@FunctionalInterface
interface FeedForwardLoader {
    /** Layer l's feed-forward, from the model being built (its hyperparameters, weights, MoE work buffers). */
    FeedForward load(Decoder model, int l);

    /** A dense SwiGLU block of feed_forward_length: ffn_gate, ffn_up, ffn_down. */
    FeedForwardLoader DENSE = (m, l) -> Ffn.load(m.weights, l, m.dim, m.hp.ffnDim[l], Ffn.Activation.SILU);
}
