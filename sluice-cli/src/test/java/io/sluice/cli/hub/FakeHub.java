package io.sluice.cli.hub;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A local stand-in for the Hugging Face Hub speaking its API on loopback: revision info, the paged
 * recursive tree listing, resolve (LFS files redirected to a "CDN" on another port, with
 * X-Repo-Commit / X-Linked-Etag / X-Linked-Size as the Hub sends them), byte ranges, and the Hub's
 * error answers (401 RepoNotFound, 403 GatedRepo, 404 RevisionNotFound / EntryNotFound). Faults
 * can be injected: 5xx answers, a connection cut mid-file, an ignored Range, 416, corrupted bytes.
 */
final class FakeHub implements AutoCloseable {
    static final class Repo {
        final String commit;
        final Map<String, byte[]> files = new LinkedHashMap<>();
        final Map<String, Boolean> lfs = new LinkedHashMap<>();
        String token; // required token (private repository); null = public
        boolean gated;
        /** Served when a listing is asked for: a hostile path the client must refuse. */
        String extraListingPath;

        Repo(String commit) {
            this.commit = commit;
        }

        Repo file(String path, byte[] content) {
            files.put(path, content);
            lfs.put(path, true);
            return this;
        }

        Repo gitFile(String path, byte[] content) {
            files.put(path, content);
            lfs.put(path, false);
            return this;
        }
    }

    final HttpServer hub;
    final HttpServer cdn;
    final Map<String, Repo> repos = new ConcurrentHashMap<>();
    final Map<String, byte[]> blobs = new ConcurrentHashMap<>();
    /** Range headers seen by the CDN, in order ("" for none). */
    final List<String> ranges = new CopyOnWriteArrayList<>();
    final List<String> cdnAuthorization = new CopyOnWriteArrayList<>();
    final AtomicInteger cdnRequests = new AtomicInteger();
    final AtomicInteger apiRequests = new AtomicInteger();

    // Faults (each counts down as it is used).
    final AtomicInteger fail503 = new AtomicInteger();
    final AtomicInteger cutAfter = new AtomicInteger(-1);
    final AtomicInteger cuts = new AtomicInteger();
    final AtomicInteger answer416 = new AtomicInteger();
    volatile boolean ignoreRange;
    /** After a cut, answer 503 to everything (until reset). */
    volatile boolean failAfterCut;
    /** Before a cut, hold the connection silent this long. */
    volatile int stallMillis;
    volatile boolean corrupt;
    volatile boolean renamedRedirect;
    volatile int pageSize = 1000;

    FakeHub() throws IOException {
        InetAddress lo = InetAddress.getLoopbackAddress();
        hub = HttpServer.create(new InetSocketAddress(lo, 0), 0);
        cdn = HttpServer.create(new InetSocketAddress(lo, 0), 0);
        hub.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
        cdn.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
        hub.createContext("/", this::hub);
        cdn.createContext("/", this::cdn);
        hub.start();
        cdn.start();
    }

    String endpoint() {
        return "http://127.0.0.1:" + hub.getAddress().getPort();
    }

    Repo repo(String id, String commit) {
        Repo r = new Repo(commit);
        repos.put(id, r);
        return r;
    }

    static String sha256(byte[] b) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    static String gitSha1(byte[] b) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-1");
            md.update(("blob " + b.length + "\0").getBytes(StandardCharsets.US_ASCII));
            return HexFormat.of().formatHex(md.digest(b));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static final Pattern REVISION = Pattern.compile("/api/models/([^/]+/[^/]+)/revision/([^/]+)");
    private static final Pattern TREE = Pattern.compile("/api/models/([^/]+/[^/]+)/tree/([^/?]+)");
    private static final Pattern RESOLVE = Pattern.compile("/([^/]+/[^/]+)/resolve/([^/]+)/(.+)");

    private void hub(HttpExchange ex) throws IOException {
        try (ex) {
            apiRequests.incrementAndGet();
            String path = ex.getRequestURI().getRawPath();
            String query = ex.getRequestURI().getRawQuery();
            Matcher m;
            if ((m = REVISION.matcher(path)).matches()) {
                Repo r = access(ex, m.group(1));
                if (r == null) return;
                String rev = decode(m.group(2));
                if (!rev.equals("main") && !rev.equals(r.commit)) {
                    error(ex, 404, "RevisionNotFound", "Invalid rev id: " + rev);
                    return;
                }
                StringBuilder sib = new StringBuilder();
                for (String f : r.files.keySet()) sib.append(sib.isEmpty() ? "" : ",").append("{\"rfilename\":\"").append(f).append("\"}");
                json(ex, 200, "{\"_id\":\"x\",\"id\":\"" + m.group(1) + "\",\"sha\":\"" + r.commit + "\",\"private\":" + (r.token != null)
                        + ",\"siblings\":[" + sib + "]}", null);
            } else if ((m = TREE.matcher(path)).matches()) {
                Repo r = access(ex, m.group(1));
                if (r == null) return;
                if (!decode(m.group(2)).equals(r.commit) && !decode(m.group(2)).equals("main")) {
                    error(ex, 404, "RevisionNotFound", "Invalid rev id");
                    return;
                }
                List<String> entries = new ArrayList<>();
                for (var e : r.files.entrySet()) {
                    byte[] c = e.getValue();
                    if (r.lfs.get(e.getKey())) {
                        entries.add("{\"type\":\"file\",\"oid\":\"" + gitSha1(("version https://git-lfs.github.com/spec/v1\noid sha256:" + sha256(c)).getBytes())
                                + "\",\"size\":" + c.length + ",\"lfs\":{\"oid\":\"" + sha256(c) + "\",\"size\":" + c.length
                                + ",\"pointerSize\":134},\"path\":\"" + e.getKey() + "\"}");
                    } else {
                        entries.add("{\"type\":\"file\",\"oid\":\"" + gitSha1(c) + "\",\"size\":" + c.length + ",\"path\":\"" + e.getKey() + "\"}");
                    }
                    int slash = e.getKey().lastIndexOf('/');
                    if (slash > 0) entries.add("{\"type\":\"directory\",\"oid\":\"" + "0".repeat(40) + "\",\"size\":0,\"path\":\"" + e.getKey().substring(0, slash) + "\"}");
                }
                if (r.extraListingPath != null) {
                    entries.add("{\"type\":\"file\",\"oid\":\"" + "a".repeat(40) + "\",\"size\":3,\"lfs\":{\"oid\":\"" + "b".repeat(64)
                            + "\",\"size\":3},\"path\":\"" + r.extraListingPath + "\"}");
                }
                int from = query != null && query.contains("cursor=") ? Integer.parseInt(query.replaceAll(".*cursor=(\\d+).*", "$1")) : 0;
                int to = Math.min(entries.size(), from + pageSize);
                String link = to < entries.size() ? "<" + endpoint() + path + "?recursive=true&cursor=" + to + ">; rel=\"next\"" : null;
                json(ex, 200, "[" + String.join(",", entries.subList(from, to)) + "]", link);
            } else if ((m = RESOLVE.matcher(path)).matches()) {
                String repoId = m.group(1);
                if (renamedRedirect && repoId.startsWith("old-org/")) { // a renamed repository: a relative redirect first
                    ex.getResponseHeaders().set("Location", path.replace("old-org/", "new-org/"));
                    ex.sendResponseHeaders(307, -1);
                    return;
                }
                Repo r = access(ex, repoId);
                if (r == null) return;
                String file = decode(m.group(3));
                byte[] c = r.files.get(file);
                if (c == null) {
                    error(ex, 404, "EntryNotFound", "Entry not found");
                    return;
                }
                ex.getResponseHeaders().set("X-Repo-Commit", r.commit);
                if (r.lfs.get(file)) {
                    String sha = sha256(c);
                    blobs.put(sha, c);
                    ex.getResponseHeaders().set("X-Linked-Etag", "\"" + sha + "\"");
                    ex.getResponseHeaders().set("X-Linked-Size", Long.toString(c.length));
                    ex.getResponseHeaders().set("ETag", "\"" + gitSha1(c) + "\"");
                    ex.getResponseHeaders().set("Location", "http://127.0.0.1:" + cdn.getAddress().getPort() + "/repos/" + sha + "?X-Amz-Signature=abc");
                    ex.sendResponseHeaders(302, -1);
                } else {
                    ex.getResponseHeaders().set("ETag", "\"" + gitSha1(c) + "\"");
                    serve(ex, c);
                }
            } else {
                error(ex, 404, null, "Not Found");
            }
        }
    }

    private void cdn(HttpExchange ex) throws IOException {
        try (ex) {
            cdnRequests.incrementAndGet();
            String auth = ex.getRequestHeaders().getFirst("Authorization");
            if (auth != null) cdnAuthorization.add(auth);
            String sha = ex.getRequestURI().getPath().replaceFirst("^/repos/", "");
            byte[] c = blobs.get(sha);
            if (c == null) {
                ex.sendResponseHeaders(404, -1);
                return;
            }
            serve(ex, c);
        }
    }

    /** Bytes with Range support and the injected faults. */
    private void serve(HttpExchange ex, byte[] content) throws IOException {
        String range = ex.getRequestHeaders().getFirst("Range");
        ranges.add(range == null ? "" : range);
        if (fail503.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
            ex.sendResponseHeaders(503, -1);
            return;
        }
        byte[] c = content;
        if (corrupt) {
            c = content.clone();
            c[c.length / 2] ^= 1;
        }
        long start = 0;
        if (range != null && !ignoreRange) {
            Matcher m = Pattern.compile("bytes=(\\d+)-").matcher(range);
            if (m.matches()) start = Long.parseLong(m.group(1));
            if (answer416.getAndUpdate(n -> Math.max(0, n - 1)) > 0 || start >= c.length) {
                ex.getResponseHeaders().set("Content-Range", "bytes */" + c.length);
                ex.sendResponseHeaders(416, -1);
                return;
            }
        }
        int len = (int) (c.length - start);
        if (start > 0) {
            ex.getResponseHeaders().set("Content-Range", "bytes " + start + "-" + (c.length - 1) + "/" + c.length);
            ex.sendResponseHeaders(206, len);
        } else {
            ex.sendResponseHeaders(200, len);
        }
        OutputStream out = ex.getResponseBody();
        int cut = cutAfter.get();
        if (cut >= 0 && cuts.get() > 0 && len > cut) {
            cuts.decrementAndGet();
            out.write(c, (int) start, cut);
            out.flush();
            // Drop the connection mid-body: the client sees fewer bytes than Content-Length.
            if (stallMillis > 0) {
                try {
                    Thread.sleep(stallMillis); // the client should give up on us before this ends
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            if (failAfterCut) {
                failAfterCut = false;
                fail503.set(1000);
            }
            throw new Cut();
        }
        out.write(c, (int) start, len);
    }

    /** Thrown out of a handler, it makes the JDK's server drop the connection (here: mid-body). */
    private static final class Cut extends RuntimeException {
        Cut() {
            super("connection cut on purpose", null, false, false);
        }
    }

    /** The repository if the request may see it; otherwise the Hub's error answer has been sent and null returned. */
    private Repo access(HttpExchange ex, String id) throws IOException {
        Repo r = repos.get(id);
        String auth = ex.getRequestHeaders().getFirst("Authorization");
        if (r == null || r.token != null && !("Bearer " + r.token).equals(auth)) {
            error(ex, 401, "RepoNotFound", "Repository not found");
            return null;
        }
        if (r.gated && auth == null) {
            error(ex, 403, "GatedRepo", "Access to model " + id + " is restricted. You must have access to it and be authenticated to access it. Please log in.");
            return null;
        }
        return r;
    }

    private static void error(HttpExchange ex, int status, String code, String message) throws IOException {
        if (code != null) ex.getResponseHeaders().set("X-Error-Code", code);
        ex.getResponseHeaders().set("X-Error-Message", message);
        json(ex, status, "{\"error\":\"" + message + "\"}", null);
    }

    private static void json(HttpExchange ex, int status, String body, String link) throws IOException {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", "application/json");
        if (link != null) ex.getResponseHeaders().set("Link", link);
        ex.sendResponseHeaders(status, b.length);
        ex.getResponseBody().write(b);
    }

    private static String decode(String s) {
        return URLDecoder.decode(s, StandardCharsets.UTF_8);
    }

    @Override
    public void close() {
        hub.stop(0);
        cdn.stop(0);
    }
}
