package io.sluice.cli;

import io.sluice.chat.ChatPrompt;
import io.sluice.Fixtures;
import io.sluice.engine.Engine;
import io.sluice.engine.EngineConfig;
import io.sluice.engine.EngineMetrics;
import io.sluice.engine.GenerationEvent;
import io.sluice.engine.GenerationHandle;
import io.sluice.engine.GenerationRequest;
import io.sluice.engine.LlmEngine;
import io.sluice.engine.SamplingParams;
import io.sluice.model.Model;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The terminal chat driven line by line, on stories260K through the real engine. */
@Timeout(120)
class ChatLoopTest {
    static Model model;
    static LlmEngine engine;

    @BeforeAll
    static void load() {
        model = Model.load(Fixtures.model("stories260K.gguf"));
        engine = new LlmEngine(model, EngineConfig.defaults());
    }

    @AfterAll
    static void close() {
        if (engine != null) engine.close();
        if (model != null) model.close();
    }

    final ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();

    ChatLoop loop(Engine e, int maxTokens, ChatLoop.Input in) {
        return loop(e, maxTokens, false, in);
    }

    ChatLoop loop(Engine e, int maxTokens, boolean ignoreEos, ChatLoop.Input in) {
        return new ChatLoop(e, ChatPrompt.of(model, null), SamplingParams.GREEDY, maxTokens, engine.contextLength(), ignoreEos, null, in,
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8), false);
    }

    static ChatLoop.Input lines(String... lines) {
        Deque<String> q = new ArrayDeque<>(List.of(lines));
        return prompt -> q.poll();
    }

    String err() {
        return err.toString(StandardCharsets.UTF_8);
    }

    /** Each stats line: [completion tokens, prompt tokens, cached tokens]. */
    List<int[]> stats() {
        List<int[]> s = new ArrayList<>();
        Matcher m = Pattern.compile("\\[(\\d+) tokens, [0-9.]+ tok/s; prompt (\\d+) tokens \\((\\d+) cached\\)").matcher(err());
        while (m.find()) s.add(new int[]{Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)), Integer.parseInt(m.group(3))});
        return s;
    }

    @Test
    void historyIsKeptAndResetForgetsIt() throws Exception {
        ChatLoop l = loop(engine, 12, lines("Once upon a time", "Tell me more", "/reset", "Once upon a time", "/bye", "never read"));
        l.run();
        List<int[]> s = stats();
        assertEquals(3, s.size(), err());
        assertEquals(12, s.get(0)[0], "-n caps the answer");
        assertTrue(s.get(1)[1] > s.get(0)[1] + 12, "the second prompt holds the first exchange: " + err());
        assertTrue(s.get(1)[2] >= s.get(0)[1] - 16, "and reuses its KV through the prefix cache: " + err());
        assertEquals(s.get(0)[1], s.get(2)[1], "after /reset the prompt is the first one again");
        assertTrue(err().contains("conversation cleared"));
        assertEquals(2, l.history().size(), "the reset turn and its answer only; /bye stopped reading");
        String answer = l.history().get(1).content();
        assertFalse(answer.isEmpty());
        assertTrue(out.toString(StandardCharsets.UTF_8).contains(answer), "the answer was streamed to stdout");
    }

    @Test
    void systemMessageAndMultiLineInput() throws Exception {
        ChatLoop l = loop(engine, 4, lines("/system You tell stories.", "\"\"\"", "first line", "second line", "\"\"\"",
                "joined \\", "here", "/unknown", " /not a command"));
        l.run();
        assertEquals("You tell stories.", l.system());
        List<ChatPrompt.Message> h = l.history();
        assertEquals("first line\nsecond line", h.get(0).content());
        assertEquals("joined \nhere", h.get(2).content());
        assertEquals(" /not a command", h.get(4).content(), "a leading space sends text that starts with '/'");
        assertTrue(err().contains("unknown command /unknown"), err());
        String rendered = ChatPrompt.of(model, null).render(List.of(new ChatPrompt.Message("system", l.system()), h.get(0)));
        assertTrue(rendered.startsWith("<|im_start|>system\nYou tell stories.<|im_end|>"), rendered);
    }

    /** Ctrl-C (interrupt()) ends the answer being written; the chat goes on with the next message. */
    @Test
    void interruptStopsTheAnswerNotTheChat() throws Exception {
        CountDownLatch firstToken = new CountDownLatch(1);
        Engine slow = new SlowEngine(engine, firstToken);
        ChatLoop[] l = new ChatLoop[1];
        l[0] = loop(slow, 400, true, lines("Once upon a time", "Again"));
        Thread t = Thread.ofVirtual().start(() -> {
            try {
                assertTrue(firstToken.await(60, TimeUnit.SECONDS));
                l[0].interrupt();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        l[0].run();
        t.join();
        List<int[]> s = stats();
        assertEquals(2, s.size(), err());
        assertTrue(s.get(0)[0] < 100, "stopped long before 400 tokens: " + err());
        assertTrue(err().lines().findFirst().orElse("").endsWith("; stopped]"), err());
        assertEquals(400, s.get(1)[0], "the next answer runs in full: " + err());
        assertEquals(4, l[0].history().size(), "the stopped answer stays in the history as far as it went");
        assertNull(lines().readLine(""));
    }

    /** Delivers each token 5 ms late, so an answer takes long enough to be interrupted. */
    record SlowEngine(LlmEngine delegate, CountDownLatch firstToken) implements Engine {
        @Override
        public GenerationHandle submit(GenerationRequest request, Consumer<GenerationEvent> listener) {
            return delegate.submit(request, ev -> {
                if (ev instanceof GenerationEvent.Token) {
                    firstToken.countDown();
                    try {
                        Thread.sleep(5);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
                listener.accept(ev);
            });
        }

        @Override
        public Model model() {
            return delegate.model();
        }

        @Override
        public EngineConfig config() {
            return delegate.config();
        }

        @Override
        public EngineMetrics metrics() {
            return delegate.metrics();
        }

        @Override
        public void close() {
        }
    }
}
