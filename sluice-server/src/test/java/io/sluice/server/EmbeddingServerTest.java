package io.sluice.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.errors.BadRequestException;
import com.openai.models.embeddings.CreateEmbeddingResponse;
import com.openai.models.embeddings.EmbeddingCreateParams;
import dev.langchain4j.data.embedding.Embedding;
import dev.langchain4j.data.segment.TextSegment;
import dev.langchain4j.model.openai.OpenAiEmbeddingModel;
import io.sluice.Fixtures;
import io.sluice.engine.EmbeddingEngine;
import io.sluice.engine.EmbeddingVectors;
import io.sluice.engine.Embedder;
import io.sluice.model.EmbeddingModel;
import io.sluice.model.EmbeddingSynth;
import io.sluice.model.Synth;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

import static io.sluice.server.Http.assertError;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The embedding endpoints on real models: the bert fixture behind /v1/embeddings and /embedding
 * (llama.cpp's vectors through HTTP, the Embedder's own vectors, Matryoshka and the encodings,
 * every refusal naming its field), the OpenAI Java SDK and LangChain4j's OpenAiEmbeddingModel
 * against the live server, and a synthesized cross-encoder behind /v1/rerank.
 */
@Timeout(120)
class EmbeddingServerTest {
    @TempDir
    static Path dir;

    static EmbeddingModel bert, reranker;
    static EmbeddingEngine bertEngine, rerankEngine;
    static SluiceServer server, rerankServer;
    static Http http, rerankHttp;
    static Embedder direct, directRerank;

    @BeforeAll
    static void start() throws Exception {
        bert = EmbeddingModel.load(Fixtures.model("tiny-bert-q8_0.gguf"));
        bertEngine = new EmbeddingEngine(bert, Embedder.defaults());
        server = SluiceServer.start(ServerConfig.defaults().withPort(0).withAlias("bert"));
        server.setEmbeddingEngine(bertEngine);
        http = new Http(server.baseUrl(), null);
        direct = new Embedder(bertEngine);

        Path file = dir.resolve("reranker.gguf");
        EmbeddingSynth.write(EmbeddingSynth.find("tiny-bge-reranker"), Synth.TypeSpec.parse("f32"), 42, file);
        reranker = EmbeddingModel.load(file);
        rerankEngine = new EmbeddingEngine(reranker, Embedder.defaults());
        rerankServer = SluiceServer.start(ServerConfig.defaults().withPort(0));
        rerankServer.setEmbeddingEngine(rerankEngine);
        rerankHttp = new Http(rerankServer.baseUrl(), null);
        directRerank = new Embedder(rerankEngine);
    }

    @AfterAll
    static void stop() {
        for (SluiceServer s : new SluiceServer[]{server, rerankServer}) if (s != null) s.stop();
        for (EmbeddingEngine e : new EmbeddingEngine[]{bertEngine, rerankEngine}) if (e != null) e.close();
        for (EmbeddingModel m : new EmbeddingModel[]{bert, reranker}) if (m != null) m.close();
    }

    static float[] floats(JsonNode arr) {
        float[] v = new float[arr.size()];
        for (int i = 0; i < v.length; i++) v[i] = (float) arr.get(i).asDouble();
        return v;
    }

    static float[] floats(List<Float> l) {
        float[] v = new float[l.size()];
        for (int i = 0; i < v.length; i++) v[i] = l.get(i);
        return v;
    }

    static int[] ints(JsonNode arr) {
        int[] v = new int[arr.size()];
        for (int i = 0; i < v.length; i++) v[i] = arr.get(i).asInt();
        return v;
    }

    static double cosine(float[] a, float[] b) {
        double ab = 0, aa = 0, bb = 0;
        for (int i = 0; i < a.length; i++) {
            ab += (double) a[i] * b[i];
            aa += (double) a[i] * a[i];
            bb += (double) b[i] * b[i];
        }
        return ab / Math.sqrt(aa * bb);
    }

    static void assertClose(float[] want, float[] got, String what) {
        assertEquals(want.length, got.length, what + ": length");
        for (int i = 0; i < want.length; i++) assertEquals(want[i], got[i], 1e-6f, what + " [" + i + "]");
    }

    JsonNode embed(String body) {
        Http.Resp r = http.post("/v1/embeddings", body);
        assertEquals(200, r.status(), r.body());
        return r.json();
    }

    @Test
    void tokenInputsGiveLlamaCppsVectors() throws Exception {
        List<String> lines = Files.readAllLines(Fixtures.model("embd-tokens.txt"));
        byte[] ref = Files.readAllBytes(Fixtures.model("tiny-bert-q8_0.embd.f32"));
        ByteBuffer bb = ByteBuffer.wrap(ref).order(ByteOrder.LITTLE_ENDIAN);
        StringBuilder input = new StringBuilder("[");
        for (String l : lines) input.append(input.length() > 1 ? "," : "").append('[').append(l.strip()).append(']');
        JsonNode out = embed("{\"input\":" + input + "]}");
        JsonNode data = out.get("data");
        assertEquals(lines.size(), data.size());
        int tokens = 0;
        for (int s = 0; s < lines.size(); s++) {
            float[] want = new float[256];
            for (int i = 0; i < 256; i++) want[i] = bb.getFloat((s * 256 + i) * 4);
            assertEquals(s, data.get(s).get("index").asInt());
            assertEquals("embedding", data.get(s).get("object").asText());
            double c = cosine(want, floats(data.get(s).get("embedding")));
            assertTrue(c >= 0.999, "sequence " + s + ": cosine " + c + " to llama.cpp's vector");
            tokens += lines.get(s).split(",").length;
        }
        assertEquals(tokens, out.get("usage").get("prompt_tokens").asInt());
        assertEquals(tokens, out.get("usage").get("total_tokens").asInt());
        assertEquals("list", out.get("object").asText());
        assertEquals("bert", out.get("model").asText());
    }

    @Test
    void textInputsEqualTheEmbeddersInOrder() {
        List<String> texts = List.of("hello world", "the quick brown fox", "a", "hello world again and again");
        List<float[]> want = direct.embed(texts);
        JsonNode out = embed("{\"model\":\"bert\",\"input\":" + Http.JSON.valueToTree(texts) + "}");
        int tokens = 0;
        for (int i = 0; i < texts.size(); i++) {
            float[] got = floats(out.get("data").get(i).get("embedding"));
            assertClose(want.get(i), got, "input " + i);
            double norm = 0;
            for (float x : got) norm += x * x;
            assertEquals(1.0, norm, 1e-5, "unit length");
            tokens += direct.tokenize(texts.get(i)).length;
        }
        assertEquals(tokens, out.get("usage").get("prompt_tokens").asInt());
        // One string alone, and one array of ids (used as given), are one input each.
        assertClose(want.get(1), floats(embed("{\"input\":\"the quick brown fox\"}").get("data").get(0).get("embedding")), "single string");
        int[] ids = direct.tokenize("the quick brown fox");
        JsonNode one = embed("{\"input\":" + java.util.Arrays.toString(ids) + "}");
        assertEquals(1, one.get("data").size());
        assertClose(want.get(1), floats(one.get("data").get(0).get("embedding")), "token ids");
        // Mixed: strings and token arrays in one request.
        JsonNode mixed = embed("{\"input\":[\"a\"," + java.util.Arrays.toString(ids) + "]}");
        assertClose(want.get(2), floats(mixed.get("data").get(0).get("embedding")), "mixed string");
        assertClose(want.get(1), floats(mixed.get("data").get(1).get("embedding")), "mixed ids");
    }

    @Test
    void dimensionsAndEncodingsDeriveFromTheFloatVector() {
        String text = "\"matryoshka dolls nest inside each other\"";
        float[] full = floats(embed("{\"input\":" + text + "}").get("data").get(0).get("embedding"));
        float[] d16 = floats(embed("{\"input\":" + text + ",\"dimensions\":16}").get("data").get(0).get("embedding"));
        assertClose(EmbeddingVectors.normalized(full, 16), d16, "dimensions=16 is the first 16 values re-normalised");

        String b64 = embed("{\"input\":" + text + ",\"encoding_format\":\"base64\"}").get("data").get(0).get("embedding").asText();
        ByteBuffer bb = ByteBuffer.wrap(Base64.getDecoder().decode(b64)).order(ByteOrder.LITTLE_ENDIAN);
        float[] decoded = new float[bb.remaining() / 4];
        for (int i = 0; i < decoded.length; i++) decoded[i] = bb.getFloat();
        // each request is its own pass: the last bits may differ (JIT-compiled dots sum in another order)
        assertArrayEquals(full, decoded, 1e-5f, "base64 is the float vector's little-endian bytes");

        int[] ubin = ints(embed("{\"input\":" + text + ",\"encoding_format\":\"ubinary\"}").get("data").get(0).get("embedding"));
        assertEquals(256 / 8, ubin.length);
        for (int i = 0; i < full.length; i++) {
            boolean bit = (ubin[i / 8] >> (7 - i % 8) & 1) == 1;
            assertEquals(full[i] > 0, bit, "sign bit " + i);
        }
        int[] bin = ints(embed("{\"input\":" + text + ",\"encoding_format\":\"binary\"}").get("data").get(0).get("embedding"));
        for (int i = 0; i < bin.length; i++) assertEquals(ubin[i] - 128, bin[i], "binary = ubinary - 128");
        int[] i8 = ints(embed("{\"input\":" + text + ",\"encoding_format\":\"int8\",\"dimensions\":16}").get("data").get(0).get("embedding"));
        int[] want8 = EmbeddingVectors.int8(d16);
        assertEquals(want8.length, i8.length);
        for (int i = 0; i < i8.length; i++) assertTrue(Math.abs(want8[i] - i8[i]) <= 1, "int8 " + i + ": " + want8[i] + " vs " + i8[i]);
    }

    @Test
    void llamaServerShapeHasRowsAndItsNormalisation() throws Exception {
        Http.Resp r = http.post("/embedding", "{\"content\":\"hello world\"}");
        assertEquals(200, r.status(), r.body());
        JsonNode arr = r.json();
        assertTrue(arr.isArray() && arr.size() == 1, r.body());
        assertEquals(0, arr.get(0).get("index").asInt());
        assertClose(direct.embed("hello world"), floats(arr.get(0).get("embedding").get(0)), "L2 by default");

        float[] raw = bertEngine.submit(direct.tokenize("hello world")).get();
        Http.Resp none = http.post("/embeddings", "{\"input\":[\"hello world\",\"x\"],\"embd_normalize\":-1}");
        assertEquals(200, none.status(), none.body());
        assertEquals(2, none.json().size());
        float[] got = floats(none.json().get(0).get("embedding").get(0));
        for (int i = 0; i < raw.length; i++) assertEquals(raw[i], got[i], 1e-5f * Math.max(1, Math.abs(raw[i])), "unnormalised [" + i + "]");
        assertError(http.post("/embedding", "{\"content\":\"x\",\"embd_normalize\":1}"), 400, "embd_normalize");
        assertError(http.post("/embedding", "{\"content\":\"x\",\"input\":\"y\"}"), 400, "content");
    }

    @Test
    void badRequestsAre400sNamingTheField() {
        String[][] cases = {
                {"{}", "input"},
                {"{\"input\":null}", "input"},
                {"{\"input\":[]}", "input"},
                {"{\"input\":{}}", "input"},
                {"{\"input\":[\"a\",3]}", "input[1]"},
                {"{\"input\":[\"a\",[]]}", "input[1]"},
                {"{\"input\":[[1,2],[3,-1]]}", "input[1][1]"},
                {"{\"input\":[1,2.5]}", "input[1]"},
                {"{\"input\":[5,512]}", "input[1]"},
                {"{\"input\":\"a\",\"dimensions\":0}", "dimensions"},
                {"{\"input\":\"a\",\"dimensions\":257}", "dimensions"},
                {"{\"input\":\"a\",\"dimensions\":\"8\"}", "dimensions"},
                {"{\"input\":\"a\",\"dimensions\":1e40}", "dimensions"},
                {"{\"input\":\"a\",\"encoding_format\":\"float16\"}", "encoding_format"},
                {"{\"input\":\"a\",\"encoding_format\":7}", "encoding_format"},
                {"{\"input\":\"a\",\"truncate\":\"yes\"}", "truncate"},
                {"{\"input\":\"a\",\"model\":5}", "model"},
                {"{\"input\":\"a\",\"temperature\":1}", "temperature"},
        };
        for (String[] c : cases) assertError(http.post("/v1/embeddings", c[0]), 400, c[1]);
        assertError(http.post("/v1/embeddings", "[\"a\"]"), 400, null);

        // Longer than the context (512): refused, or cut when asked, keeping the closing [SEP].
        String longText = "word ".repeat(700);
        JsonNode e = assertError(http.post("/v1/embeddings", "{\"input\":[\"a\",\"" + longText + "\"]}"), 400, "input[1]");
        assertEquals("context_length_exceeded", e.get("code").asText());
        JsonNode cut = embed("{\"input\":\"" + longText + "\",\"truncate\":true}");
        assertEquals(512, cut.get("usage").get("prompt_tokens").asInt());
        int[] all = direct.tokenize(longText);
        int[] kept = java.util.Arrays.copyOf(all, 512);
        kept[511] = all[all.length - 1];
        assertClose(direct.embedTokens(List.of(kept), 256).getFirst(), floats(cut.get("data").get(0).get("embedding")), "truncated");

        // Limits: inputs per request, tokens per request.
        StringBuilder many = new StringBuilder("{\"input\":[");
        for (int i = 0; i <= Embeddings.MAX_INPUTS; i++) many.append(i > 0 ? "," : "").append("\"a\"");
        JsonNode tooMany = assertError(http.post("/v1/embeddings", many + "]}"), 400, "input");
        assertEquals("too_many_inputs", tooMany.get("code").asText());
        StringBuilder big = new StringBuilder("{\"input\":[");
        String ids = "[" + "7,".repeat(499) + "7]";
        for (int i = 0; i < Embeddings.MAX_REQUEST_TOKENS / 500 + 1; i++) big.append(i > 0 ? "," : "").append(ids);
        JsonNode tooBig = assertError(http.post("/v1/embeddings", big + "]}"), 400, "input");
        assertEquals("too_many_tokens", tooBig.get("code").asText());
        assertEquals(200, http.post("/v1/embeddings", "{\"input\":\"still serving\"}").status());
    }

    @Test
    void anEmbeddingModelRefusesGenerationAndDescribesItself() {
        JsonNode e = assertError(http.post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"), 400, "model");
        assertEquals("model_not_generative", e.get("code").asText());
        assertError(http.post("/v1/completions", "{\"prompt\":\"hi\"}"), 400, "model");
        assertEquals("model_not_reranker", assertError(http.post("/v1/rerank", "{\"query\":\"a\",\"documents\":[\"b\"]}"), 400, null).get("code").asText());
        assertEquals(200, http.get("/health").status());
        JsonNode models = http.get("/v1/models").json().get("data").get(0);
        assertEquals("bert", models.get("id").asText());
        assertEquals(256, models.get("meta").get("embedding_length").asInt());
        assertEquals("mean", models.get("meta").get("pooling").asText());
        assertEquals(200, http.get("/v1/models/bert").status());
        JsonNode tok = http.post("/tokenize", "{\"content\":\"hello world\",\"add_special\":true}").json();
        assertArrayEquals(direct.tokenize("hello world"), ints(tok.get("tokens")));
        JsonNode props = http.get("/props").json();
        assertEquals(256, props.get("embedding_length").asInt());
    }

    @Test
    void aGeneratingModelRefusesEmbeddings() {
        try (FakeEngine fake = new FakeEngine(256); SluiceServer gen = SluiceServer.start(fake, ServerConfig.defaults().withPort(0).withAlias("gen"))) {
            Http h = new Http(gen.baseUrl(), null);
            for (String p : new String[]{"/v1/embeddings", "/embedding", "/embeddings", "/v1/rerank", "/rerank"}) {
                JsonNode e = assertError(h.post(p, "{\"input\":\"a\",\"query\":\"q\",\"documents\":[\"d\"]}"), 400, "model");
                assertEquals("model_not_embedding", e.get("code").asText(), p);
            }
        }
    }

    @Test
    void theApiKeyGuardsEveryEmbeddingEndpoint() {
        try (SluiceServer keyed = SluiceServer.start(ServerConfig.defaults().withPort(0).withApiKey("k3y"))) {
            keyed.setEmbeddingEngine(bertEngine);
            Http anon = new Http(keyed.baseUrl(), null), auth = new Http(keyed.baseUrl(), "k3y");
            for (String p : new String[]{"/v1/embeddings", "/embedding", "/embeddings", "/v1/rerank", "/rerank", "/reranking", "/v1/reranking"}) {
                assertError(anon.post(p, "{\"input\":\"a\"}"), 401, null);
            }
            assertEquals(200, auth.post("/embedding", "{\"input\":\"a\"}").status());
            assertEquals(200, auth.post("/v1/embeddings", "{\"input\":\"a\"}").status());
        }
    }

    @Test
    void metricsCountTheEngine() {
        embed("{\"input\":[\"one\",\"two\",\"three\"]}");
        String text = http.get("/metrics").body();
        EmbeddingEngine.Stats st = bertEngine.stats();
        assertEquals(st.inputs(), metric(text, "sluice_embedding_inputs_total"), 0, text);
        assertEquals(st.tokens(), metric(text, "sluice_embedding_tokens_total"), 0, text);
        assertEquals(st.passes(), metric(text, "sluice_embedding_passes_total"), 0, text);
        assertTrue(st.inputs() >= 3 && st.tokens() > st.inputs());
        assertTrue(text.contains("sluice_http_requests_total{endpoint=\"/v1/embeddings\",status=\"200\"}"), text);
    }

    static double metric(String text, String name) {
        for (String line : text.split("\n")) if (line.startsWith(name + " ")) return Double.parseDouble(line.substring(name.length() + 1));
        throw new AssertionError("no " + name + " in " + text);
    }

    @Test
    void openAiJavaSdkEmbeds() {
        OpenAIClient client = OpenAIOkHttpClient.builder().baseUrl(server.baseUrl() + "/v1").apiKey("unused").maxRetries(0)
                .timeout(Duration.ofSeconds(60)).build();
        List<String> texts = List.of("a sluice gate", "bread and butter");
        List<float[]> want = direct.embed(texts);
        // The SDK's own default encoding (base64 in recent versions), then floats asked for explicitly.
        for (EmbeddingCreateParams.EncodingFormat f : new EmbeddingCreateParams.EncodingFormat[]{null, EmbeddingCreateParams.EncodingFormat.FLOAT,
                EmbeddingCreateParams.EncodingFormat.BASE64}) {
            EmbeddingCreateParams.Builder b = EmbeddingCreateParams.builder().model("bert").inputOfArrayOfStrings(texts);
            if (f != null) b.encodingFormat(f);
            CreateEmbeddingResponse r = client.embeddings().create(b.build());
            assertEquals(2, r.data().size());
            for (int i = 0; i < 2; i++) assertClose(want.get(i), floats(r.data().get(i).embedding()), "SDK " + f + " input " + i);
            long tokens = direct.tokenize(texts.get(0)).length + direct.tokenize(texts.get(1)).length;
            assertEquals(tokens, r.usage().promptTokens());
        }
        CreateEmbeddingResponse d = client.embeddings().create(EmbeddingCreateParams.builder().model("bert").input("a sluice gate").dimensions(32).build());
        assertClose(EmbeddingVectors.normalized(want.get(0), 32), floats(d.data().getFirst().embedding()), "SDK dimensions");
        BadRequestException bad = assertThrows(BadRequestException.class,
                () -> client.embeddings().create(EmbeddingCreateParams.builder().model("bert").input("x").dimensions(1000).build()));
        assertTrue(bad.getMessage().contains("dimensions"), bad.getMessage());
    }

    @Test
    void langChain4jOpenAiEmbeddingModelEmbeds() {
        OpenAiEmbeddingModel m = OpenAiEmbeddingModel.builder().baseUrl(server.baseUrl() + "/v1").apiKey("unused").modelName("bert")
                .maxRetries(0).timeout(Duration.ofSeconds(60)).build();
        List<TextSegment> segs = List.of(TextSegment.from("rivers flow"), TextSegment.from("mountains stand"), TextSegment.from("a"));
        List<Embedding> got = m.embedAll(segs).content();
        List<float[]> want = direct.embed(segs.stream().map(TextSegment::text).toList());
        assertEquals(3, got.size());
        for (int i = 0; i < 3; i++) assertClose(want.get(i), got.get(i).vector(), "LangChain4j input " + i);
    }

    @Test
    void rerankSortsDocumentsByTheRerankersScores() {
        List<String> docs = List.of("sluices control water", "bread is baked", "a canal lock", "the weather today", "water gates");
        String query = "what is a sluice?";
        float[] want = directRerank.rerank(query, docs);
        Http.Resp r = rerankHttp.post("/v1/rerank", "{\"model\":\"r\",\"query\":\"" + query + "\",\"documents\":" + Http.JSON.valueToTree(docs) + "}");
        assertEquals(200, r.status(), r.body());
        JsonNode res = r.json().get("results");
        assertEquals(docs.size(), res.size());
        List<Integer> seen = new ArrayList<>();
        for (int k = 0; k < res.size(); k++) {
            int i = res.get(k).get("index").asInt();
            seen.add(i);
            assertEquals(want[i], res.get(k).get("relevance_score").floatValue(), 1e-5f, "document " + i);
            if (k > 0) assertTrue(res.get(k - 1).get("relevance_score").floatValue() >= res.get(k).get("relevance_score").floatValue(), "sorted");
            assertTrue(res.get(k).get("document") == null, "no documents unless asked");
        }
        assertEquals(docs.size(), seen.stream().distinct().count());
        assertTrue(r.json().get("usage").get("prompt_tokens").asInt() > docs.size());
        assertEquals("r", r.json().get("model").asText());

        JsonNode top = rerankHttp.post("/rerank", "{\"query\":\"" + query + "\",\"top_n\":2,\"return_documents\":true,\"documents\":["
                + "{\"text\":\"sluices control water\"},\"bread is baked\",\"a canal lock\",\"the weather today\",\"water gates\"]}").json().get("results");
        assertEquals(2, top.size());
        assertEquals(res.get(0).get("index").asInt(), top.get(0).get("index").asInt());
        assertEquals(docs.get(top.get(1).get("index").asInt()), top.get(1).get("document").get("text").asText());

        // TEI's shape: texts in, a bare array with "score" out.
        Http.Resp tei = rerankHttp.post("/reranking", "{\"query\":\"" + query + "\",\"texts\":" + Http.JSON.valueToTree(docs) + ",\"return_text\":true}");
        assertEquals(200, tei.status(), tei.body());
        assertEquals(res.get(0).get("index").asInt(), tei.json().get(0).get("index").asInt());
        // 1e-5, not 0: a second pass may run JIT-compiled Vector API dots that sum in another order
        assertEquals(res.get(0).get("relevance_score").floatValue(), tei.json().get(0).get("score").floatValue(), 1e-5f);
        assertEquals(docs.get(tei.json().get(0).get("index").asInt()), tei.json().get(0).get("text").asText());
    }

    @Test
    void rerankRefusalsNameTheField() {
        String[][] cases = {
                {"{\"documents\":[\"a\"]}", "query"},
                {"{\"query\":3,\"documents\":[\"a\"]}", "query"},
                {"{\"query\":\"q\"}", "documents"},
                {"{\"query\":\"q\",\"documents\":[]}", "documents"},
                {"{\"query\":\"q\",\"documents\":\"a\"}", "documents"},
                {"{\"query\":\"q\",\"documents\":[\"a\",1]}", "documents[1]"},
                {"{\"query\":\"q\",\"documents\":[\"a\"],\"top_n\":0}", "top_n"},
                {"{\"query\":\"q\",\"documents\":[\"a\"],\"top_n\":\"2\"}", "top_n"},
                {"{\"query\":\"q\",\"documents\":[\"a\"],\"return_documents\":1}", "return_documents"},
                {"{\"query\":\"q\",\"documents\":[\"a\"],\"texts\":[\"b\"]}", "texts"},
                {"{\"query\":\"q\",\"documents\":[\"a\"],\"stream\":true}", "stream"},
                {"{\"query\":\"q\",\"documents\":[\"a\",\"" + "word ".repeat(600) + "\"]}", "documents[1]"},
        };
        for (String[] c : cases) assertError(rerankHttp.post("/v1/rerank", c[0]), 400, c[1]);
        JsonNode e = assertError(rerankHttp.post("/v1/embeddings", "{\"input\":\"a\"}"), 400, null);
        assertEquals("model_is_reranker", e.get("code").asText());
        assertEquals(200, rerankHttp.post("/v1/rerank", "{\"query\":\"q\",\"documents\":[\"a\"]}").status());
    }
}
