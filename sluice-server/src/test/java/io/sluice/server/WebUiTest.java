package io.sluice.server;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The chat page's files and /props over plain HTTP (the page itself: BrowserChatTest). */
class WebUiTest {
    @Test
    void pageAndAssetsAreServedWithAStrictPolicy() {
        FakeEngine engine = new FakeEngine(256);
        try (SluiceServer s = SluiceServer.start(engine, ServerConfig.defaults().withPort(0).withAlias("fake"))) {
            Http h = new Http(s.baseUrl(), null);
            Http.Resp page = h.get("/");
            assertEquals(200, page.status());
            assertTrue(page.headers().firstValue("content-type").orElse("").startsWith("text/html"));
            assertTrue(page.body().contains("<script src=\"/ui/app.js\""), page.body());
            String csp = page.headers().firstValue("content-security-policy").orElse("");
            assertTrue(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), csp);
            for (String f : new String[]{"app.js", "markdown.js", "style.css"}) {
                Http.Resp r = h.get("/ui/" + f);
                assertEquals(200, r.status(), f);
                assertTrue(r.body().length() > 500, f);
            }
            assertTrue(h.get("/ui/app.js").headers().firstValue("content-type").orElse("").startsWith("text/javascript"));
            Http.assertError(h.get("/ui/nope.js"), 404, null);
            Http.assertError(h.get("/ui/..%2FWebUi.class"), 404, null);
            assertTrue(h.get("/ui/index.html").status() == 404, "the page itself only at /");
        }
    }

    @Test
    void propsTellTheStatusPanelWhatItShows() {
        FakeEngine engine = new FakeEngine(256);
        try (SluiceServer s = SluiceServer.start(engine, ServerConfig.defaults().withPort(0).withAlias("fake").withApiKey("k"))) {
            Http.assertError(new Http(s.baseUrl(), null).get("/props"), 401, null);
            assertEquals(200, new Http(s.baseUrl(), null).get("/").status(), "the page itself needs no key (it asks for one)");
            JsonNode p = new Http(s.baseUrl(), "k").get("/props").json();
            assertEquals("fake", p.get("model").asText());
            assertEquals(256, p.get("context_length").asInt());
            assertEquals(100, p.path("kv_cache").path("blocks_total").asInt());
            assertEquals(16, p.path("kv_cache").path("block_size").asInt());
            assertEquals("f16", p.path("kv_cache").path("type").asText());
            assertTrue(p.path("requests").has("running") && p.path("tokens").has("generated"), p.toString());
            assertTrue(p.get("chat_template").asText().contains("im_start"), "ChatML: the fake model has no template");
        }
        try (SluiceServer loading = SluiceServer.start(ServerConfig.defaults().withPort(0))) {
            Http.assertError(new Http(loading.baseUrl(), null).get("/props"), 503, null);
        }
    }
}
