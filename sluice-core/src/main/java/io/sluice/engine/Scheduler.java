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
    /**
     * One sequence's share of a step: positions computed .. computed+tokens-1, and for a decoding
     * sequence up to `draft` guessed tokens after them (speculative decoding; blocks are held for them).
     */
    record Work(Sequence seq, int tokens, int draft) {
        Work(Sequence seq, int tokens) {
            this(seq, tokens, 0);
        }
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

    /** Guess lengths (speculative decoding), or null. */
    private final DraftPolicy drafts;
    /** Logits rows a step may produce (the runner's buffer): each work item takes one, each guess one more. */
    private final int logitRows;

    Scheduler(KvCacheManager kv, int maxBatchedTokens, int maxSeqs) {
        this(kv, maxBatchedTokens, maxSeqs, null, Math.min(maxSeqs, maxBatchedTokens));
    }

    Scheduler(KvCacheManager kv, int maxBatchedTokens, int maxSeqs, DraftPolicy drafts, int logitRows) {
        this.kv = kv;
        this.maxBatchedTokens = maxBatchedTokens;
        this.maxSeqs = maxSeqs;
        this.drafts = drafts;
        this.logitRows = logitRows;
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
        if (drafts != null && budget > 0) planDrafts(work, budget, reserved);
        return work;
    }

    /**
     * Speculation comes last, from what decodes, prefill and admissions left of the token budget,
     * the logits rows and the free blocks (never preempting anyone for a guess): the policy picks
     * each decoding sequence's guess length, and blocks are taken for the guessed positions.
     */
    private void planDrafts(List<Work> work, int budget, int reserved) {
        List<Sequence> decodes = new ArrayList<>();
        List<Integer> at = new ArrayList<>();
        int tokens = 0;
        for (int i = 0; i < work.size(); i++) {
            Work w = work.get(i);
            tokens += w.tokens();
            if (w.tokens() == 1 && w.seq().pending() == 1) {
                decodes.add(w.seq());
                at.add(i);
            }
        }
        if (decodes.isEmpty()) return;
        int[] k = drafts.lengths(decodes, tokens, budget, logitRows - work.size());
        for (int i = 0; i < k.length; i++) {
            if (k[i] == 0) continue;
            Sequence s = decodes.get(i);
            int d = (int) Math.min(k[i], kv.reach(s.table, reserved) - (s.computed + 1));
            if (d <= 0) continue;
            if (!kv.grow(s.table, s.computed + 1 + d)) throw new IllegalStateException("block accounting broke for " + s);
            work.set(at.get(i), new Work(s, 1, d));
        }
    }

    /**
     * After verification: positions 0..computed-1 of s hold kept tokens; the blocks that only held
     * refused guesses go back to the pool (never a committed, shareable one: those lie below computed).
     */
    void rollBack(Sequence s, int computed) {
        s.computed = computed;
        kv.truncate(s.table, computed);
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
