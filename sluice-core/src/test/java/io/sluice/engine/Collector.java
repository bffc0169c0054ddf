package io.sluice.engine;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/** Gathers one request's events and lets a test wait for its Finished event. */
final class Collector implements Consumer<GenerationEvent> {
    final List<Integer> ids = new ArrayList<>();
    final StringBuilder text = new StringBuilder();
    final List<GenerationEvent.Token> tokens = new ArrayList<>();
    volatile GenerationEvent.Finished finished;
    volatile int eventsAfterFinish;
    private final CountDownLatch done = new CountDownLatch(1);

    @Override
    public synchronized void accept(GenerationEvent e) {
        if (finished != null) {
            eventsAfterFinish++;
            return;
        }
        switch (e) {
            case GenerationEvent.Token t -> {
                ids.add(t.id());
                text.append(t.text());
                tokens.add(t);
            }
            case GenerationEvent.Finished f -> {
                finished = f;
                done.countDown();
            }
        }
    }

    GenerationEvent.Finished await() throws InterruptedException {
        if (!done.await(60, TimeUnit.SECONDS)) throw new AssertionError("request did not finish within 60 s");
        return finished;
    }

    synchronized int[] idArray() {
        return ids.stream().mapToInt(Integer::intValue).toArray();
    }
}
