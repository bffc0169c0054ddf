package io.sluice.model;

import io.sluice.Fixtures;
import io.sluice.gguf.GGMLType;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * stories260K (a real trained model): the prompt tokenizes to llama.cpp's ids and the greedy
 * continuation, decoded token by token through the KV cache, is llama.cpp's, id for id.
 */
class StoriesGreedyTest {
    record Case(String file, String prompt, int[] promptIds, int[] generated) {
    }

    static List<Case> cases() throws IOException {
        List<Case> cases = new ArrayList<>();
        List<String> lines = Files.readAllLines(Fixtures.model("stories260K-greedy.txt"));
        for (int i = 0; i < lines.size(); i++) {
            String l = lines.get(i);
            if (!l.startsWith("== ")) continue;
            String[] head = l.substring(3).split(" \\| ", 2);
            int[] prompt = ids(lines.get(i + 1), "prompt_ids:");
            int[] gen = ids(lines.get(i + 2), "generated_ids:");
            cases.add(new Case(head[0], head[1], prompt, gen));
        }
        return cases;
    }

    static int[] ids(String line, String prefix) {
        if (!line.startsWith(prefix)) throw new IllegalStateException("expected " + prefix + ": " + line);
        return Arrays.stream(line.substring(prefix.length()).trim().split("\\s+")).mapToInt(Integer::parseInt).toArray();
    }

    /** Greedy decoding with one forward pass for the prompt, then one per generated token. */
    static int[] greedy(Model m, int[] prompt, int n, GGMLType kvType) {
        int vocab = m.config().vocabSize();
        int bs = 16, total = prompt.length + n;
        int blocks = (total + bs - 1) / bs;
        int[][] table = m.kvLayout().contiguousTables(blocks);
        int[] out = new int[n];
        try (KvStore kv = new KvStore(m.kvLayout(), table.length * blocks, bs, kvType)) {
            float[] logits = new float[vocab];
            m.forward(Batch.single(prompt, 0, false, table), kv, logits);
            int pos = prompt.length;
            for (int i = 0; i < n; i++) {
                int best = 0;
                for (int v = 1; v < vocab; v++) if (logits[v] > logits[best]) best = v;
                out[i] = best;
                if (i + 1 < n) m.forward(Batch.single(new int[]{best}, pos++, false, table), kv, logits);
            }
        }
        return out;
    }

    @Test
    void greedyContinuationsMatchLlamaCpp() throws IOException {
        List<Case> cases = cases();
        assertEquals(6, cases.size(), "fixture cases");
        for (Case c : cases) {
            try (Model m = Model.load(Fixtures.model(c.file()))) {
                int[] ids = m.tokenizer().encode(c.prompt(), true, false);
                assertArrayEquals(c.promptIds(), ids, c.file() + " prompt ids of '" + c.prompt() + "'");
                int[] gen = greedy(m, c.promptIds(), c.generated().length, GGMLType.F32);
                assertArrayEquals(c.generated(), gen, c.file() + " greedy continuation of '" + c.prompt() + "'");
            }
        }
    }
}
