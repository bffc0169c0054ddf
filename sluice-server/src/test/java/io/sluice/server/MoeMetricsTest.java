package io.sluice.server;

import io.sluice.Fixtures;
import io.sluice.engine.EngineConfig;
import io.sluice.engine.LlmEngine;
import io.sluice.gguf.GGMLType;
import io.sluice.model.Model;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.HashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * /metrics of a mixture-of-experts model (the qwen3moe fixture: 2 layers, 2 of 8 experts per
 * token): the routing histograms count one observation per step and layer, and the tokens the
 * experts served add up to every computed token times 2 experts times 2 layers.
 */
@Timeout(120)
class MoeMetricsTest {
    private static final Pattern SERIES = Pattern.compile("^(sluice_moe_\\w+?)(_bucket\\{le=\"([^\"]+)\"}|_count|_sum) ([0-9.eE+]+)$", Pattern.MULTILINE);

    @Test
    void routingHistogramsAddUp() {
        try (Model model = Model.load(Fixtures.model("tiny-qwen3moe-q8_0.gguf"));
             LlmEngine engine = new LlmEngine(model, new EngineConfig(0, 0, 16, GGMLType.F32, 256, 4, 16, 512))) {
            SluiceServer server = SluiceServer.start(engine, ServerConfig.defaults().withPort(0));
            try {
                Http http = new Http(server.baseUrl(), null);
                assertEquals(200, http.post("/v1/completions", "{\"prompt\":\"Once upon a time\",\"max_tokens\":9,\"temperature\":0}").status());
                String m = http.get("/metrics").body();
                Map<String, Double> v = new HashMap<>();
                Matcher x = SERIES.matcher(m);
                while (x.find()) v.put(x.group(1) + (x.group(3) != null ? "@" + x.group(3) : x.group(2)), Double.parseDouble(x.group(4)));
                long steps = engine.metrics().steps(), computed = engine.metrics().computedPromptTokens() + engine.metrics().generatedTokens() - 1;
                assertTrue(steps >= 9, "steps " + steps);
                assertEquals(2.0 * steps, v.get("sluice_moe_experts_touched_count"), "one observation per step and layer: " + m);
                assertEquals(0.0, v.get("sluice_moe_experts_touched@1.0"), "every token picks 2 distinct experts");
                assertEquals(2.0 * steps, v.get("sluice_moe_experts_touched@8.0"), "a layer has 8 experts");
                assertEquals(2.0 * steps, v.get("sluice_moe_experts_touched@+Inf"));
                assertEquals(4.0 * computed, v.get("sluice_moe_tokens_per_expert_sum"), "computed tokens x 2 experts x 2 layers");
                assertEquals(v.get("sluice_moe_experts_touched_sum"), v.get("sluice_moe_tokens_per_expert_count"),
                        "one tokens-per-expert observation per expert touched");
                assertTrue(m.contains("# TYPE sluice_moe_tokens_per_expert histogram"), m);
            } finally {
                server.stop();
            }
        }
    }
}
