package io.sluice.model.tokenizer;

import io.sluice.Fixtures;
import io.sluice.gguf.GGUFFile;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * stories260K's own SentencePiece vocabulary: the prompts must tokenize to llama.cpp's prompt ids
 * (BOS added, as the file's metadata asks) and the generated ids must stream to llama.cpp's text.
 */
class StoriesTokenizerTest {

    private record Run(String file, String prompt, int[] promptIds, int[] generatedIds, String text) {
    }

    private static List<Run> runs() throws IOException {
        String all = Files.readString(Fixtures.model("stories260K-greedy.txt"), StandardCharsets.UTF_8);
        List<Run> runs = new ArrayList<>();
        for (String block : all.split("(?m)^== ")) {
            if (block.isBlank()) continue;
            int nl = block.indexOf('\n');
            String[] head = block.substring(0, nl).split(" \\| ", 2);
            String rest = block.substring(nl + 1);
            int p = rest.indexOf("prompt_ids: "), g = rest.indexOf("\ngenerated_ids: "), t = rest.indexOf("\ntext:");
            int[] prompt = ids(rest.substring(p + "prompt_ids: ".length(), g));
            int[] generated = ids(rest.substring(g + "\ngenerated_ids: ".length(), t));
            String text = rest.substring(t + "\ntext:".length());
            if (text.endsWith("\n")) text = text.substring(0, text.length() - 1);
            runs.add(new Run(head[0].strip(), head[1], prompt, generated, text));
        }
        return runs;
    }

    private static int[] ids(String s) {
        return Arrays.stream(s.strip().split("\\s+")).mapToInt(Integer::parseInt).toArray();
    }

    @TestFactory
    Stream<DynamicTest> promptsAndGeneratedTextMatchLlamaCpp() throws IOException {
        List<Run> runs = runs();
        assertTrue(runs.size() >= 3, "expected at least three runs, found " + runs.size());
        return runs.stream().map(r -> DynamicTest.dynamicTest(r.file() + " | " + r.prompt(), () -> {
            Path model = Fixtures.model(r.file());
            try (GGUFFile f = GGUFFile.open(model)) {
                Tokenizer tok = Tokenizer.fromGGUF(f);
                assertArrayEquals(r.promptIds(), tok.encode(r.prompt(), tok.addBos(), false), "prompt ids");
                StreamingDecoder d = new StreamingDecoder(tok);
                StringBuilder sb = new StringBuilder();
                for (int id : r.generatedIds()) sb.append(d.accept(id));
                sb.append(d.flush());
                assertEquals(r.text(), sb.toString(), "streamed text of the generated ids");
                assertEquals(r.prompt(), tok.decode(Arrays.copyOfRange(r.promptIds(), 1, r.promptIds().length)));
            }
        }));
    }
}
