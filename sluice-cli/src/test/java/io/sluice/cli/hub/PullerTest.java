package io.sluice.cli.hub;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** sluice pull against a local server that speaks the Hub's API; no test touches the internet. */
@Timeout(60)
class PullerTest {
    static final String REPO = "acme/Tiny-GGUF";
    static final String COMMIT = "0123456789abcdef0123456789abcdef01234567";

    FakeHub hub;
    @TempDir
    Path cacheDir;
    HubCache cache;
    final List<String> notes = new ArrayList<>();
    final List<Long> progress = new ArrayList<>();

    static byte[] bytes(int n, int seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    static final byte[] Q4 = bytes(300_000, 1), Q8 = bytes(200_000, 2), MMPROJ = bytes(1000, 3);

    @BeforeEach
    void start() throws IOException {
        hub = new FakeHub();
        cache = new HubCache(cacheDir);
        hub.repo(REPO, COMMIT)
                .gitFile("README.md", "# tiny\n".getBytes(StandardCharsets.UTF_8))
                .file("mmproj-Tiny-F16.gguf", MMPROJ)
                .file("Tiny-Q8_0.gguf", Q8)
                .file("Tiny-Q4_K_M.gguf", Q4);
    }

    @AfterEach
    void stop() {
        hub.close();
    }

    Puller puller() {
        return puller(hub.endpoint(), null);
    }

    Puller puller(String endpoint, String token) {
        return puller(endpoint, token, Duration.ofSeconds(5));
    }

    Puller puller(String endpoint, String token, Duration stall) {
        HubClient c = new HubClient(endpoint, token).withRetries(4, Duration.ofMillis(1), stall);
        return new Puller(c, cache, false, new Puller.Listener() {
            public void note(String m) {
                notes.add(m);
            }

            public void downloadStarted(HubFile f, long resumedFrom) {
                progress.add(-resumedFrom - 1);
            }

            public void downloaded(long n) {
                progress.add(n);
            }

            public void downloadFinished(HubFile f) {
            }
        });
    }

    Puller.Result pull(String ref) throws IOException {
        return puller().pull(HubRef.parse(ref), "main");
    }

    Path repoDir() {
        return cacheDir.resolve("models--acme--Tiny-GGUF");
    }

    @Test
    void defaultQuantLandsInTheHuggingFaceLayout() throws Exception {
        Puller.Result r = pull(REPO);
        assertEquals(List.of("Tiny-Q4_K_M.gguf"), r.hubFiles().stream().map(HubFile::path).toList(), "Q4_K_M by default, never the projector");
        Path link = repoDir().resolve("snapshots").resolve(COMMIT).resolve("Tiny-Q4_K_M.gguf");
        assertEquals(link, r.model());
        String sha = FakeHub.sha256(Q4);
        assertTrue(Files.isSymbolicLink(link));
        assertEquals(Path.of("../../blobs/" + sha), Files.readSymbolicLink(link), "the relative link huggingface_hub makes");
        assertArrayEquals(Q4, Files.readAllBytes(repoDir().resolve("blobs").resolve(sha)));
        assertArrayEquals(Q4, Files.readAllBytes(r.model()));
        assertEquals(COMMIT, Files.readString(repoDir().resolve("refs/main")), "refs/main holds the bare commit");
        assertEquals(Q4.length, r.downloadedBytes());
        assertNoPartials();
        assertEquals(Q4.length, progress.getLast(), "progress reaches the file size");
        assertEquals(List.of(""), hub.ranges, "a fresh download asks for no range");
    }

    @Test
    void quantTagIsCaseInsensitiveAndUnknownTagsListTheOffer() throws Exception {
        assertEquals("Tiny-Q8_0.gguf", pull(REPO + ":q8_0").hubFiles().getFirst().path());
        HubException e = assertThrows(HubException.class, () -> pull(REPO + ":Q5_K_S"));
        assertTrue(e.getMessage().contains("Q5_K_S") && e.getMessage().contains("Q8_0") && e.getMessage().contains("Q4_K_M"), e.getMessage());
        assertFalse(e.getMessage().contains("F16"), "the projector is not a quant offered: " + e.getMessage());
        assertEquals("Tiny-Q8_0.gguf", pull(REPO + ":Tiny-Q8_0.gguf").hubFiles().getFirst().path(), "a file name works as a tag");
    }

    @Test
    void splitModelsBringEveryPartInOrder() throws Exception {
        hub.repo("acme/Big-GGUF", COMMIT)
                .file("Q4_K_M/Big-Q4_K_M-00002-of-00003.gguf", bytes(5000, 12))
                .file("Q4_K_M/Big-Q4_K_M-00001-of-00003.gguf", bytes(5000, 11))
                .file("Q4_K_M/Big-Q4_K_M-00003-of-00003.gguf", bytes(5000, 13))
                .file("Big-Q8_0.gguf", bytes(100, 14));
        Puller.Result r = pull("acme/Big-GGUF");
        assertEquals(3, r.files().size());
        for (int i = 0; i < 3; i++) {
            assertTrue(r.files().get(i).toString().endsWith("Big-Q4_K_M-0000" + (i + 1) + "-of-00003.gguf"), r.files().toString());
            assertArrayEquals(bytes(5000, 11 + i), Files.readAllBytes(r.files().get(i)));
        }
        hub.repos.get("acme/Big-GGUF").files.remove("Q4_K_M/Big-Q4_K_M-00002-of-00003.gguf");
        HubException e = assertThrows(HubException.class, () -> pull("acme/Big-GGUF:Q4_K_M"));
        assertTrue(e.getMessage().contains("part 2 of 3"), e.getMessage());
    }

    @Test
    void aSecondPullDownloadsNothing() throws Exception {
        pull(REPO);
        int before = hub.cdnRequests.get();
        Puller.Result again = pull(REPO);
        assertEquals(0, again.downloadedBytes());
        assertEquals(before, hub.cdnRequests.get(), "no byte is fetched twice");
    }

    /** The layout huggingface_hub leaves behind (blob + relative link + refs/main) is used as is. */
    @Test
    void filesPulledByHuggingfaceHubAreReused() throws Exception {
        String sha = FakeHub.sha256(Q4);
        Path blobs = Files.createDirectories(repoDir().resolve("blobs"));
        Files.write(blobs.resolve(sha), Q4);
        Path snap = Files.createDirectories(repoDir().resolve("snapshots").resolve(COMMIT));
        Files.createSymbolicLink(snap.resolve("Tiny-Q4_K_M.gguf"), Path.of("../../blobs/" + sha));
        Files.createDirectories(repoDir().resolve("refs"));
        Files.writeString(repoDir().resolve("refs/main"), COMMIT);
        hub.fail503.set(1000); // any download attempt would fail
        Puller.Result r = pull(REPO + ":Q4_K_M");
        assertEquals(0, r.downloadedBytes());
        assertEquals(0, hub.cdnRequests.get());
        assertArrayEquals(Q4, Files.readAllBytes(r.model()));
    }

    /** A new commit whose file has the same content links the existing blob instead of downloading it. */
    @Test
    void aBlobFromAnotherRevisionIsLinkedNotDownloaded() throws Exception {
        pull(REPO);
        int before = hub.cdnRequests.get();
        String next = "fedcba9876543210fedcba9876543210fedcba98";
        FakeHub.Repo r2 = hub.repo(REPO, next);
        r2.file("Tiny-Q4_K_M.gguf", Q4);
        Puller.Result r = pull(REPO);
        assertEquals(next, r.commit());
        assertEquals(before, hub.cdnRequests.get());
        assertEquals(next, Files.readString(repoDir().resolve("refs/main")));
        assertArrayEquals(Q4, Files.readAllBytes(r.model()));
    }

    @Test
    void aConnectionCutMidFileIsResumedWithARange() throws Exception {
        hub.cutAfter.set(100_000);
        hub.cuts.set(2);
        Puller.Result r = pull(REPO);
        assertArrayEquals(Q4, Files.readAllBytes(r.model()));
        assertEquals(List.of("", "bytes=100000-", "bytes=200000-"), hub.ranges);
        assertNoPartials();
    }

    @Test
    void aStalledConnectionIsAbandonedAndResumed() throws Exception {
        hub.cutAfter.set(70_000);
        hub.cuts.set(1);
        hub.stallMillis = 20_000;
        long t0 = System.nanoTime();
        Puller.Result r = puller(hub.endpoint(), null, Duration.ofMillis(300)).pull(HubRef.parse(REPO), "main");
        assertTrue(System.nanoTime() - t0 < 10_000_000_000L, "gave up on the silent connection long before the server would have");
        assertArrayEquals(Q4, Files.readAllBytes(r.model()));
        assertEquals(List.of("", "bytes=70000-"), hub.ranges);
    }

    @Test
    void anEarlierPartialDownloadIsResumed() throws Exception {
        String sha = FakeHub.sha256(Q4);
        Path blobs = Files.createDirectories(repoDir().resolve("blobs"));
        Files.write(blobs.resolve(sha + ".incomplete"), java.util.Arrays.copyOf(Q4, 123_456));
        Puller.Result r = pull(REPO);
        assertEquals(List.of("bytes=123456-"), hub.ranges);
        assertEquals(Q4.length - 123_456, r.downloadedBytes());
        assertEquals(-123_456 - 1, progress.getFirst(), "the listener hears where it resumed");
        assertArrayEquals(Q4, Files.readAllBytes(r.model()));
    }

    @Test
    void serverErrorsAreRetriedThenReportedWithThePartialKept() throws Exception {
        hub.fail503.set(2);
        assertArrayEquals(Q4, Files.readAllBytes(pull(REPO).model()));
        assertEquals(3, hub.ranges.size(), "two 503s, then the file");

        hub.repo("acme/Flaky-GGUF", COMMIT).file("Flaky-Q4_K_M.gguf", Q8);
        hub.ranges.clear();
        hub.cutAfter.set(50_000);
        hub.cuts.set(1);
        hub.failAfterCut = true; // cut once, then only 503s: the pull gives up but keeps what it has
        HubException e = assertThrows(HubException.class, () -> pull("acme/Flaky-GGUF"));
        assertTrue(e.getMessage().contains("run the same command again to resume"), e.getMessage());
        Path partial = cacheDir.resolve("models--acme--Flaky-GGUF/blobs/" + FakeHub.sha256(Q8) + ".incomplete");
        assertEquals(50_000, Files.size(partial), "the bytes before the cut are kept for the next try");
        assertFalse(Files.exists(cacheDir.resolve("models--acme--Flaky-GGUF/blobs/" + FakeHub.sha256(Q8))), "an interrupted pull never looks complete");
        assertFalse(Files.exists(cacheDir.resolve("models--acme--Flaky-GGUF/snapshots/" + COMMIT + "/Flaky-Q4_K_M.gguf")));
        hub.fail503.set(0);
        hub.ranges.clear();
        assertArrayEquals(Q8, Files.readAllBytes(pull("acme/Flaky-GGUF").model()));
        assertEquals(List.of("bytes=50000-"), hub.ranges);
    }

    @Test
    void answer416StartsOverFromZero() throws Exception {
        String sha = FakeHub.sha256(Q4);
        Path blobs = Files.createDirectories(repoDir().resolve("blobs"));
        Files.write(blobs.resolve(sha + ".incomplete"), new byte[1000]); // garbage from somewhere else
        hub.answer416.set(1);
        assertArrayEquals(Q4, Files.readAllBytes(pull(REPO).model()));
        assertEquals(List.of("bytes=1000-", ""), hub.ranges);
    }

    @Test
    void anIgnoredRangeRewritesTheFileFromTheStart() throws Exception {
        String sha = FakeHub.sha256(Q4);
        Path blobs = Files.createDirectories(repoDir().resolve("blobs"));
        Files.write(blobs.resolve(sha + ".incomplete"), java.util.Arrays.copyOf(Q4, 5000));
        hub.ignoreRange = true;
        assertArrayEquals(Q4, Files.readAllBytes(pull(REPO).model()));
    }

    @Test
    void aChecksumMismatchLeavesNothingBehind() throws Exception {
        hub.corrupt = true;
        HubException e = assertThrows(HubException.class, () -> pull(REPO));
        assertTrue(e.getMessage().contains("checksum mismatch") && e.getMessage().contains(FakeHub.sha256(Q4)), e.getMessage());
        try (Stream<Path> s = Files.walk(cacheDir)) {
            assertEquals(List.of(), s.filter(Files::isRegularFile).filter(p -> !p.toString().contains(".locks")).filter(p -> !p.endsWith("main")).toList());
        }
        assertFalse(Files.exists(repoDir().resolve("snapshots").resolve(COMMIT).resolve("Tiny-Q4_K_M.gguf")));
    }

    @Test
    void smallGitFilesAreVerifiedByTheirGitBlobId() throws Exception {
        byte[] small = bytes(777, 9);
        hub.repo("acme/Git-GGUF", COMMIT).gitFile("Small-Q8_0.gguf", small);
        Puller.Result r = pull("acme/Git-GGUF");
        assertArrayEquals(small, Files.readAllBytes(r.model()));
        assertEquals(Path.of("../../blobs/" + FakeHub.gitSha1(small)), Files.readSymbolicLink(r.model()));
        assertEquals(0, hub.cdnRequests.get(), "a non-LFS file comes straight from resolve");
    }

    @Test
    void privateRepositoriesNeedTheTokenWhichNeverLeavesTheHub() throws Exception {
        hub.repos.get(REPO).token = "hf_secret";
        HubException e = assertThrows(HubException.class, () -> pull(REPO));
        assertTrue(e.getMessage().contains("HTTP 401") && e.getMessage().contains("HF_TOKEN"), e.getMessage());
        HubException wrong = assertThrows(HubException.class, () -> puller(hub.endpoint(), "hf_wrong").pull(HubRef.parse(REPO), "main"));
        assertTrue(wrong.getMessage().contains("token has no access"), wrong.getMessage());
        Puller.Result r = puller(hub.endpoint(), "hf_secret").pull(HubRef.parse(REPO), "main");
        assertArrayEquals(Q4, Files.readAllBytes(r.model()));
        assertEquals(1, hub.cdnRequests.get());
        assertEquals(List.of(), hub.cdnAuthorization, "the token is not sent to the CDN the Hub redirects to");
    }

    @Test
    void gatedMissingAndHostileRepositoriesGiveClearErrors() throws Exception {
        hub.repos.get(REPO).gated = true;
        HubException gated = assertThrows(HubException.class, () -> pull(REPO));
        assertTrue(gated.getMessage().contains("gated") && gated.getMessage().contains("403"), gated.getMessage());

        HubException missing = assertThrows(HubException.class, () -> pull("acme/Nope-GGUF"));
        assertTrue(missing.getMessage().contains("acme/Nope-GGUF") && missing.getMessage().contains("401"), missing.getMessage());

        hub.repos.get(REPO).gated = false;
        HubException rev = assertThrows(HubException.class, () -> puller().pull(HubRef.parse(REPO), "v9"));
        assertTrue(rev.getMessage().contains("revision v9") && rev.getMessage().contains("404"), rev.getMessage());

        hub.repo("acme/Evil-GGUF", COMMIT).file("Evil-Q4_K_M.gguf", Q8).extraListingPath = "../../../../tmp/evil-Q4_K_M.gguf";
        HubException evil = assertThrows(HubException.class, () -> pull("acme/Evil-GGUF"));
        assertTrue(evil.getMessage().contains("unsafe file path"), evil.getMessage());
        assertFalse(Files.exists(cacheDir.resolve("models--acme--Evil-GGUF/blobs")), "nothing written for a hostile listing");

        assertThrows(IllegalArgumentException.class, () -> HubRef.parse("../etc"));
        assertThrows(IllegalArgumentException.class, () -> HubRef.parse("a/b/c"));
        assertThrows(IllegalArgumentException.class, () -> HubRef.parse("a--b/c"));
    }

    @Test
    void pagedListingsAndRenamedRepositoriesAreFollowed() throws Exception {
        hub.pageSize = 1;
        hub.repo("new-org/Moved-GGUF", COMMIT).file("a.txt", bytes(3, 1)).file("b.txt", bytes(3, 2)).file("Moved-Q4_K_M.gguf", Q8);
        hub.repos.put("old-org/Moved-GGUF", hub.repos.get("new-org/Moved-GGUF"));
        hub.renamedRedirect = true;
        Puller.Result r = pull("old-org/Moved-GGUF");
        assertArrayEquals(Q8, Files.readAllBytes(r.model()), "listing page 3 found the model; resolve followed 307 then 302");
    }

    @Test
    void withoutTheHubTheCacheAnswers() throws Exception {
        pull(REPO);
        String dead = hub.endpoint();
        hub.close();
        notes.clear();
        Puller.Result r = puller(dead, null).pull(HubRef.parse(REPO + ":Q4_K_M"), "main");
        assertTrue(r.offline());
        assertArrayEquals(Q4, Files.readAllBytes(r.model()));
        assertTrue(notes.getFirst().contains("using the cached copy"), notes.toString());
        HubException e = assertThrows(HubException.class, () -> puller(dead, null).pull(HubRef.parse("acme/Other-GGUF"), "main"));
        assertTrue(e.getMessage().contains("cannot reach") && e.getMessage().contains("not in the cache"), e.getMessage());
        HubException q = assertThrows(HubException.class, () -> puller(dead, null).pull(HubRef.parse(REPO + ":Q8_0"), "main"));
        assertTrue(q.getMessage().contains("Q8_0"), "only what is cached is offered offline: " + q.getMessage());
    }

    @Test
    void removingAQuantKeepsTheOthersAndFreesItsBlob() throws Exception {
        pull(REPO + ":Q4_K_M");
        pull(REPO + ":Q8_0");
        long freed = cache.remove(REPO, Set.of("Tiny-Q8_0.gguf"));
        assertEquals(Q8.length, freed);
        assertFalse(Files.exists(repoDir().resolve("blobs").resolve(FakeHub.sha256(Q8))));
        assertTrue(Files.exists(repoDir().resolve("blobs").resolve(FakeHub.sha256(Q4))));
        assertEquals(List.of("Tiny-Q4_K_M.gguf"), cache.files().stream().map(HubCache.Entry::path).toList());
        assertEquals(Q4.length, cache.remove(REPO, null));
        assertFalse(Files.exists(repoDir()));
    }

    void assertNoPartials() throws IOException {
        try (Stream<Path> s = Files.walk(cacheDir)) {
            assertEquals(List.of(), s.filter(p -> p.toString().endsWith(".incomplete")).toList());
        }
    }
}
