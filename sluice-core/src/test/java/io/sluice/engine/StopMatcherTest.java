package io.sluice.engine;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class StopMatcherTest {
    @Test
    void cutsBeforeTheStopStringAndNeverReleasesIt() {
        StopMatcher m = new StopMatcher(List.of("END"));
        assertEquals("hello ", m.push("hello E"));   // "E" may start "END"
        assertEquals("", m.push("N"));
        assertEquals("", m.push("D and more"));
        assertTrue(m.stopped());
        assertEquals("", m.flush());
    }

    @Test
    void releasesHeldTextOnceItCannotBecomeAStop() {
        StopMatcher m = new StopMatcher(List.of("END"));
        assertEquals("a", m.push("aE"));
        assertEquals("EX", m.push("X"));
        assertFalse(m.stopped());
        assertEquals("", m.push("EN"));
        assertEquals("EN", m.flush(), "flush releases what was held");
    }

    @Test
    void earliestOfSeveralStopsWins() {
        StopMatcher m = new StopMatcher(List.of("xyz", "b"));
        assertEquals("a", m.push("abxyz"));
        assertTrue(m.stopped());
    }

    @Test
    void withoutStopsTextPassesStraightThrough() {
        StopMatcher m = new StopMatcher(List.of());
        assertEquals("abc", m.push("abc"));
        assertEquals("", m.flush());
    }
}
