package io.sluice.engine;

import java.util.ArrayList;
import java.util.List;

/**
 * {@code --speculate auto} with a draft model: prompt lookup and the draft model side by side. The
 * {@link DraftPolicy} picks each sequence's source every step from that sequence's acceptance of
 * each (a lookup match with a good record is free, so it wins; without a match, or once the
 * lookup's guesses stop being kept, the draft model guesses); this class only hands each sequence
 * to the drafter of its source. The draft model keeps its KV for every sequence, and catches up on
 * the tokens it missed while prompt lookup guessed.
 */
final class AutoDrafter implements Drafter {
    private final Drafter lookup;
    private final Drafter model;

    AutoDrafter(Drafter lookup, Drafter model) {
        this.lookup = lookup;
        this.model = model;
    }

    @Override
    public List<Source> sources() {
        return List.of(Source.NGRAM, Source.DRAFT);
    }

    @Override
    public int offered(Sequence s, Source src, int max) {
        return of(src).offered(s, src, max);
    }

    @Override
    public void propose(List<Sequence> seqs, int[] want) {
        for (Source src : sources()) {
            List<Sequence> mine = new ArrayList<>();
            List<Integer> wants = new ArrayList<>();
            for (int i = 0; i < seqs.size(); i++) {
                if (seqs.get(i).draftSource != src) continue;
                mine.add(seqs.get(i));
                wants.add(want[i]);
            }
            if (!mine.isEmpty()) of(src).propose(mine, wants.stream().mapToInt(Integer::intValue).toArray());
        }
    }

    @Override
    public double secondsPerDraftStep(int n) {
        return model.secondsPerDraftStep(n);
    }

    @Override
    public void release(Sequence s) {
        model.release(s);
    }

    @Override
    public void close() {
        model.close();
    }

    private Drafter of(Source src) {
        return src == Source.NGRAM ? lookup : model;
    }

    /** Test hook: the draft model's drafter. */
    Drafter model() {
        return model;
    }
}
