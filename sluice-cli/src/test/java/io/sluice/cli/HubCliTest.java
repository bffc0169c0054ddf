package io.sluice.cli;

import io.sluice.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * pull / ls / rm / run -hf as a user runs them: a separate JVM whose environment (HF_ENDPOINT, HF_HUB_CACHE,
 * HF_TOKEN) points at a local server speaking the Hub's API, serving the stories260K fixture.
 */
@Timeout(180)
class HubCliTest {
    record Proc(int code, String out, String err) {
    }

    static Proc sluice(Map<String, String> env, String... args) throws IOException, InterruptedException {
        ProcessBuilder pb = SluiceProcess.builder(env, args);
        pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        Process p = pb.start();
        var out = p.getInputStream().readAllBytes();
        var err = p.getErrorStream().readAllBytes();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        return new Proc(p.exitValue(), new String(out, StandardCharsets.UTF_8), SluiceProcess.stderr(err));
    }

    @Test
    void pullListRunAndRemoveThroughTheEnvironment(@TempDir Path cache) throws Exception {
        byte[] stories = Files.readAllBytes(Fixtures.model("stories260K.gguf"));
        try (var hub = new io.sluice.cli.hub.FakeHubAccess()) {
            hub.privateRepo("karpathy/stories260K-GGUF", "hf_test_token", "stories260K-Q8_0.gguf", stories);
            Map<String, String> env = Map.of("HF_ENDPOINT", hub.endpoint(), "HF_HUB_CACHE", cache.toString(), "HF_TOKEN", "hf_test_token");

            Proc pull = sluice(env, "pull", "karpathy/stories260K-GGUF:q8_0");
            assertEquals(0, pull.code(), pull.err());
            Path file = Path.of(pull.out().strip());
            assertTrue(file.startsWith(cache.resolve("models--karpathy--stories260K-GGUF/snapshots")), pull.out());
            assertEquals(stories.length, Files.size(file));
            assertTrue(pull.err().contains("sha256 verified") && !pull.err().contains("\r"), "plain lines when stderr is not a terminal: " + pull.err());

            Proc ls = sluice(env, "ls");
            assertEquals(0, ls.code(), ls.err());
            assertTrue(ls.out().contains("karpathy/stories260K-GGUF:Q8_0") && ls.out().contains(file.toString()), ls.out());

            Proc run = sluice(env, "run", "-hf", "karpathy/stories260K-GGUF:Q8_0", "-p", "Once upon a time", "-n", "8", "--temp", "0");
            assertEquals(0, run.code(), run.err());
            assertTrue(run.out().startsWith("Once upon a time") || run.out().length() > 8, run.out());
            assertTrue(run.err().contains("already in the cache"), run.err());

            Proc noToken = sluice(Map.of("HF_ENDPOINT", hub.endpoint(), "HF_HUB_CACHE", cache.resolve("other").toString()), "pull", "karpathy/stories260K-GGUF");
            assertEquals(1, noToken.code());
            assertTrue(noToken.err().startsWith("sluice: ") && noToken.err().contains("HF_TOKEN") && noToken.err().strip().lines().count() == 1, noToken.err());

            Proc rm = sluice(env, "rm", "karpathy/stories260K-GGUF:Q8_0");
            assertEquals(0, rm.code(), rm.err());
            assertTrue(rm.err().contains("freed"), rm.err());
            assertFalse(Files.exists(file));
            Proc empty = sluice(env, "ls");
            assertFalse(empty.out().contains("stories260K"), empty.out());
        }
    }
}
