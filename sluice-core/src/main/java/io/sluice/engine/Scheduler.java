package io.sluice.engine;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;

/**
 * Decides what each forward pass computes (continuous batching with Sarathi-Serve chunked
 * prefill): first one token for every decoding sequence, then prefill chunks of running
 * sequences, then new sequences from the queue, all within maxBatchedTokens. Sequences are
 * admitted in arrival order while maxSeqs and free KV blocks allow. Before a running sequence
 * grows, its sliding-window groups give back the blocks its windows have left. When a sequence needs a
 * block and none is free, the most recently admitted sequence is preempted: its blocks are
 * freed and it goes back to the front of the queue, to be recomputed later (its prompt and the
 * tokens it generated so far; its own prefix-cached blocks usually survive).
 */
final class Scheduler {
    /** One sequence's share of a step: positions computed .. computed+tokens-1. */
    record Work(Sequence seq, int tokens) {
    }

    private final KvCacheManager kv;
    private final int maxBatchedTokens;
    private final int maxSeqs;
    final Deque<Sequence> waiting = new ArrayDeque<>();
    /** Admission order (oldest first). */
    final List<Sequence> running = new ArrayList<>();
    private long admissions;
    volatile long preemptions;
    volatile long prefixHitTokens;

    Scheduler(KvCacheManager kv, int maxBatchedTokens, int maxSeqs) {
        this.kv = kv;
        this.maxBatchedTokens = maxBatchedTokens;
        this.maxSeqs = maxSeqs;
    }

    boolean idle() {
        return waiting.isEmpty() && running.isEmpty();
    }

    /** Plans the next step; decodes come first in the returned list. */
    List<Work> schedule() {
        List<Work> work = new ArrayList<>();
        int budget = maxBatchedTokens;

        for (Sequence s : List.copyOf(running)) {
            if (budget == 0) break;
            if (!s.running || s.pending() != 1) continue;
            kv.release(s.table, s.computed);
            if (!growOrPreempt(s, s.computed + 1, work)) continue;
            work.add(new Work(s, 1));
            budget--;
        }

        for (Sequence s : List.copyOf(running)) {
            if (budget == 0) break;
            if (!s.running || s.pending() <= 1) continue;
            int chunk = Math.min(s.pending(), budget);
            kv.release(s.table, s.computed);
            long room = kv.reach(s.table, 0) - s.computed;
            if (room <= 0) {
                if (!growOrPreempt(s, s.computed + 1, work)) continue;
                room = kv.reach(s.table, 0) - s.computed;
            }
            chunk = (int) Math.min(chunk, room);
            if (!kv.grow(s.table, s.computed + chunk)) throw new IllegalStateException("block accounting broke for " + s);
            work.add(new Work(s, chunk));
            budget -= chunk;
        }

        // Blocks promised to the sequences admitted in this step beyond their first chunk.
        int reserved = 0;
        while (budget > 0 && running.size() < maxSeqs && !waiting.isEmpty()) {
            Sequence s = waiting.peekFirst();
            int hit = kv.acquireCachedPrefix(s.table, s.tokens, s.length);
            // Admit only when the rest of its context fits now, so admission does not cause preemption;
            // the first chunk as far as the blocks not promised to others reach (a chunk takes a block
            // in every group, sliding-window ones too, before their windows move on).
            long room = kv.reach(s.table, reserved) - hit;
            if (room <= 0 || kv.blocksToHold(s.table, s.length) + reserved > kv.freeBlocks()) {
                kv.free(s.table);
                break;
            }
            waiting.pollFirst();
            s.computed = hit;
            prefixHitTokens += hit;
            if (s.cachedPromptTokens < 0) s.cachedPromptTokens = Math.min(hit, s.promptLength);
            s.running = true;
            s.admittedAt = ++admissions;
            running.add(s);
            int chunk = (int) Math.min(Math.min(s.pending(), budget), room);
            if (!kv.grow(s.table, s.computed + chunk)) throw new IllegalStateException("block accounting broke for " + s);
            reserved += kv.blocksToHold(s.table, s.length);
            work.add(new Work(s, chunk));
            budget -= chunk;
        }
        return work;
    }

    /**
     * Makes room for s to hold `tokens` positions, preempting the most recently admitted
     * sequences as needed. False when s itself had to be preempted.
     */
    private boolean growOrPreempt(Sequence s, int tokens, List<Work> work) {
        while (!kv.grow(s.table, tokens)) {
            Sequence victim = running.getLast();
            preempt(victim, work);
            if (victim == s) return false;
        }
        return true;
    }

    private void preempt(Sequence victim, List<Work> work) {
        work.removeIf(w -> w.seq() == victim);
        kv.free(victim.table);
        victim.computed = 0;
        victim.running = false;
        running.remove(victim);
        waiting.addFirst(victim);
        preemptions++;
    }

    /** Takes a sequence out of the engine (finished or cancelled) and frees its blocks. */
    void remove(Sequence s) {
        if (s.running) running.remove(s);
        else waiting.remove(s);
        s.running = false;
        kv.free(s.table);
    }
}
