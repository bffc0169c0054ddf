package io.sluice.cli.hub;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.Flow;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.LongConsumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The Hugging Face Hub's HTTP API, as much of it as pulling a model takes (the JDK's HTTP client, no SDK):
 * <ul>
 *   <li>{@code GET /api/models/REPO/revision/REV}: the commit a branch points to;</li>
 *   <li>{@code GET /api/models/REPO/tree/COMMIT?recursive=true}: the files with sizes and sha256s
 *       (paged by a {@code Link: <...>; rel="next"} header);</li>
 *   <li>{@code GET /REPO/resolve/COMMIT/PATH}: the bytes, usually after a redirect to a CDN, resumed with
 *       {@code Range} after a cut and checked against the listing's sha256 (LFS) or git blob sha1.</li>
 * </ul>
 * Redirects are followed here, not by the JDK, so the token only ever goes to the Hub's own host.
 * 429 and 5xx answers and cut connections are retried with backoff; a stalled body counts as cut.
 */
public final class HubClient {
    public static final String DEFAULT_ENDPOINT = "https://huggingface.co";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String USER_AGENT = "sluice/0.1.0; java/" + Runtime.version().feature();
    /** Listings larger than this are not a listing (a hostile or broken server). */
    private static final int MAX_JSON_BYTES = 64 << 20;
    private static final int MAX_ERROR_BYTES = 16 << 10;
    private static final int MAX_REDIRECTS = 10;
    private static final int MAX_PAGES = 10_000;

    private final URI endpoint;
    private final String token;
    private final HttpClient http;
    private int maxAttempts = 5;
    private Duration retryDelay = Duration.ofSeconds(1);
    private Duration stallTimeout = Duration.ofSeconds(60);

    public HubClient(String endpoint, String token) {
        String e = endpoint == null || endpoint.isBlank() ? DEFAULT_ENDPOINT : endpoint.strip();
        while (e.endsWith("/")) e = e.substring(0, e.length() - 1);
        URI u;
        try {
            u = URI.create(e + "/");
        } catch (IllegalArgumentException ex) {
            throw new IllegalArgumentException("HF_ENDPOINT is not a URL: '" + e + "'");
        }
        if (u.getHost() == null || !("http".equals(u.getScheme()) || "https".equals(u.getScheme()))) {
            throw new IllegalArgumentException("HF_ENDPOINT must be an http(s) URL, not '" + e + "'");
        }
        if (token != null && !token.isBlank() && !token.strip().matches("[\\x21-\\x7e]{1,1024}")) {
            throw new IllegalArgumentException("the Hugging Face token (--hf-token / HF_TOKEN) has characters no token has");
        }
        this.endpoint = u;
        this.token = token == null || token.isBlank() ? null : token.strip();
        this.http = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .followRedirects(HttpClient.Redirect.NEVER)
                .connectTimeout(Duration.ofSeconds(20))
                .build();
    }

    /** Retry policy; tests make it fast. */
    public HubClient withRetries(int attempts, Duration delay, Duration stall) {
        if (attempts < 1) throw new IllegalArgumentException("attempts must be >= 1");
        this.maxAttempts = attempts;
        this.retryDelay = delay;
        this.stallTimeout = stall;
        return this;
    }

    public URI endpoint() {
        return endpoint;
    }

    public boolean hasToken() {
        return token != null;
    }

    /** The commit {@code revision} (a branch, tag or commit) points to. */
    public String commit(String repo, String revision) throws IOException {
        JsonNode n = getJson(repo, endpoint.resolve("api/models/" + repo + "/revision/" + encode(revision)), "revision " + revision);
        String sha = n.path("sha").asText("");
        if (!HubCache.isCommit(sha)) throw new HubException("the Hub's answer for " + repo + " revision " + revision + " has no valid commit hash ('sha')");
        return sha;
    }

    /** Every file of the repository at {@code commit}. */
    public List<HubFile> files(String repo, String commit) throws IOException {
        List<HubFile> out = new ArrayList<>();
        URI next = endpoint.resolve("api/models/" + repo + "/tree/" + encode(commit) + "?recursive=true");
        for (int page = 0; next != null; page++) {
            if (page >= MAX_PAGES) throw new HubException("the Hub's file listing of " + repo + " did not end after " + MAX_PAGES + " pages");
            Response r = getWithRetries(next, MAX_JSON_BYTES);
            checkApi(r, repo, "file listing");
            JsonNode arr = parse(r, repo);
            if (!arr.isArray()) throw new HubException("the Hub's file listing of " + repo + " is not a JSON array");
            for (JsonNode item : arr) {
                if (!"file".equals(item.path("type").asText())) continue;
                String path = item.path("path").asText(null);
                JsonNode lfs = item.get("lfs");
                try {
                    if (lfs != null && lfs.isObject()) {
                        out.add(new HubFile(path, lfs.path("size").asLong(item.path("size").asLong(-1)), lfs.path("oid").asText(null), true));
                    } else {
                        out.add(new HubFile(path, item.path("size").asLong(-1), item.path("oid").asText(null), false));
                    }
                } catch (IllegalArgumentException e) {
                    throw new HubException("the Hub's file listing of " + repo + " has a bad entry: " + e.getMessage());
                }
            }
            next = nextPage(r, next);
        }
        return out;
    }

    /**
     * Downloads {@code f} into {@code partial}, continuing after whatever bytes it already holds, and
     * checks the content id. On return the file is complete and verified; on a checksum mismatch it is
     * deleted (its bytes cannot be trusted for a resume).
     */
    public void download(String repo, String commit, HubFile f, Path partial, LongConsumer progress) throws IOException {
        URI uri = endpoint.resolve(repo + "/resolve/" + encode(commit) + "/" + encodePath(f.path()));
        MessageDigest md = digest(f);
        try (FileChannel ch = FileChannel.open(partial, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            long have = ch.size();
            if (have > f.size()) {
                ch.truncate(0);
                have = 0;
            }
            hashExisting(ch, have, md);
            progress.accept(have);
            int failures = 0;
            IOException last = null;
            while (have < f.size()) {
                if (failures >= maxAttempts) {
                    throw new HubException("download of " + f.path() + " failed after " + failures + " tries (" + (last == null ? "no data" : last.getMessage())
                            + "); " + have + " of " + f.size() + " bytes are kept, run the same command again to resume", last);
                }
                if (failures > 0) pause(failures);
                Response r;
                try {
                    r = send(uri, have > 0 ? "bytes=" + have + "-" : null);
                } catch (HubException.Unreachable e) {
                    failures++;
                    last = e;
                    continue;
                }
                int st = r.status;
                if (st == 416) {
                    // Our partial file does not fit the file on the server: start over.
                    r.body.cancel();
                    ch.truncate(0);
                    have = 0;
                    md = digest(f);
                    failures++;
                    last = new HubException("HTTP 416 (range not satisfiable)");
                    progress.accept(0);
                    continue;
                }
                if (st == 429 || st >= 500) {
                    r.body.cancel();
                    failures++;
                    last = new HubException("HTTP " + st);
                    continue;
                }
                if (st != 200 && st != 206) throw error(r, repo, f.path());
                String linked = etag(r.response.headers().firstValue("x-linked-etag"));
                if (f.lfs() && linked != null && linked.matches("[0-9a-f]{64}") && !linked.equals(f.oid())) {
                    r.body.cancel();
                    throw new HubException("the Hub's X-Linked-Etag for " + f.path() + " (" + linked + ") differs from its listing (" + f.oid() + ")");
                }
                long start = st == 206 ? rangeStart(r) : 0;
                if (start != have) {
                    // A 200 to a range request (range ignored) or a range we did not ask for: rewrite from its start.
                    if (start != 0) {
                        r.body.cancel();
                        failures++;
                        last = new HubException("the server sent bytes from " + start + ", not " + have);
                        continue;
                    }
                    ch.truncate(0);
                    have = 0;
                    md = digest(f);
                }
                ch.position(have);
                try {
                    ByteBuffer b;
                    while ((b = r.body.next(stallTimeout)) != null) {
                        int n = (int) Math.min(b.remaining(), f.size() - have);
                        if (n < b.remaining()) b.limit(b.position() + n); // more than the listing's size: the checksum decides
                        ByteBuffer forHash = b.duplicate();
                        while (b.hasRemaining()) ch.write(b);
                        md.update(forHash);
                        have += n;
                        if (n > 0) failures = 0; // a connection that moves bytes is not a failing one
                        progress.accept(have);
                        if (have == f.size()) {
                            r.body.cancel();
                            break;
                        }
                    }
                    if (have < f.size()) {
                        failures++;
                        last = new HubException("the connection ended early");
                    }
                } catch (IOException e) {
                    r.body.cancel();
                    failures++;
                    last = e;
                }
            }
            ch.force(true);
        }
        String got = HexFormat.of().formatHex(md.digest());
        if (!got.equals(f.oid())) {
            Files.deleteIfExists(partial);
            throw new HubException("checksum mismatch for " + f.path() + ": the Hub lists " + (f.lfs() ? "sha256 " : "git sha1 ") + f.oid()
                    + ", the downloaded bytes have " + got + "; the download was deleted, run the command again");
        }
    }

    // ---- HTTP ----

    /** A response whose body is read incrementally (and must be cancelled when not read to the end). */
    private record Response(HttpResponse<Void> response, Body body, int status) {
    }

    private JsonNode getJson(String repo, URI uri, String what) throws IOException {
        Response r = getWithRetries(uri, MAX_JSON_BYTES);
        checkApi(r, repo, what);
        return parse(r, repo);
    }

    private JsonNode parse(Response r, String repo) throws IOException {
        byte[] bytes = r.body.readAll(MAX_JSON_BYTES, stallTimeout);
        if (bytes == null) throw new HubException("the Hub's answer about " + repo + " is larger than " + (MAX_JSON_BYTES >> 20) + " MiB");
        try {
            return JSON.readTree(bytes);
        } catch (IOException e) {
            throw new HubException("the Hub's answer about " + repo + " is not JSON (is HF_ENDPOINT a Hugging Face Hub?)");
        }
    }

    private void checkApi(Response r, String repo, String what) throws IOException {
        if (r.status != 200) throw error(r, repo, what);
    }

    /** GET with retries on 429, 5xx and cut connections; a host that cannot be reached at all fails at once. */
    private Response getWithRetries(URI uri, int maxBytes) throws IOException {
        IOException last = null;
        for (int attempt = 0; attempt < maxAttempts; attempt++) {
            if (attempt > 0) pause(attempt);
            Response r = send(uri, null);
            if (r.status == 429 || r.status >= 500) {
                r.body.cancel();
                last = new HubException("HTTP " + r.status + " from " + uri.getHost());
                continue;
            }
            return r;
        }
        throw new HubException("the Hub kept failing (" + last.getMessage() + " after " + maxAttempts + " tries); try again later", last);
    }

    /** One request, redirects followed by hand (the token is sent to the Hub's own host only). */
    private Response send(URI uri, String range) throws IOException {
        URI u = uri;
        for (int hop = 0; ; hop++) {
            HttpRequest.Builder b = HttpRequest.newBuilder(u).GET().header("User-Agent", USER_AGENT).timeout(Duration.ofSeconds(60));
            if (range != null) b.header("Range", range);
            if (token != null && sameOrigin(u, endpoint)) b.header("Authorization", "Bearer " + token);
            Body body = new Body();
            HttpResponse<Void> resp;
            try {
                resp = http.send(b.build(), info -> body);
            } catch (ConnectException | HttpConnectTimeoutException e) {
                throw new HubException.Unreachable("cannot reach " + u.getScheme() + "://" + u.getAuthority() + " (" + describe(e) + ")", e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new java.io.InterruptedIOException("interrupted");
            } catch (IOException e) {
                throw new HubException.Unreachable("request to " + u.getScheme() + "://" + u.getAuthority() + " failed (" + describe(e) + ")", e);
            }
            int st = resp.statusCode();
            if (st == 301 || st == 302 || st == 303 || st == 307 || st == 308) {
                body.cancel();
                Optional<String> loc = resp.headers().firstValue("location");
                if (loc.isEmpty()) throw new HubException("HTTP " + st + " redirect without a Location from " + u.getHost());
                if (hop >= MAX_REDIRECTS) throw new HubException("more than " + MAX_REDIRECTS + " redirects for " + uri);
                try {
                    u = u.resolve(loc.get());
                } catch (IllegalArgumentException e) {
                    throw new HubException("bad redirect Location from " + u.getHost() + ": " + loc.get());
                }
                if (!"http".equals(u.getScheme()) && !"https".equals(u.getScheme())) throw new HubException("redirect to a non-HTTP URL: " + u);
                continue;
            }
            return new Response(resp, body, st);
        }
    }

    private static String describe(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && (t.getMessage() == null || t.getMessage().isBlank())) t = t.getCause();
        String m = t.getMessage();
        return m == null || m.isBlank() ? t.getClass().getSimpleName() : m;
    }

    private static boolean sameOrigin(URI a, URI b) {
        return a.getScheme().equalsIgnoreCase(b.getScheme()) && a.getHost().equalsIgnoreCase(b.getHost()) && port(a) == port(b);
    }

    private static int port(URI u) {
        return u.getPort() >= 0 ? u.getPort() : "https".equalsIgnoreCase(u.getScheme()) ? 443 : 80;
    }

    /** What the user can do about an error answer: the Hub's own message (X-Error-Message or JSON "error") and a hint. */
    private HubException error(Response r, String repo, String what) throws IOException {
        byte[] bytes = r.body.readAll(MAX_ERROR_BYTES, stallTimeout);
        String msg = r.response.headers().firstValue("x-error-message").orElse(null);
        String code = r.response.headers().firstValue("x-error-code").orElse("");
        if (msg == null && bytes != null && bytes.length > 0) {
            try {
                JsonNode n = JSON.readTree(bytes);
                if (n.path("error").isTextual()) msg = n.path("error").asText();
            } catch (IOException ignored) {
                // not JSON: no message beyond the status
            }
        }
        String hub = msg == null ? "" : " (" + cut(msg) + ")";
        String hint = switch (r.status) {
            case 401 -> token == null
                    ? repo + " does not exist, or it is private or gated: log in with a token (HF_TOKEN or --hf-token)"
                    : repo + " does not exist, or the token has no access to it";
            case 403 -> code.equals("GatedRepo") || (msg != null && msg.toLowerCase(Locale.ROOT).contains("gated"))
                    ? "access to " + repo + " is gated: accept its conditions on its Hub page, then use a token of that account"
                    : "access to " + repo + " was refused";
            case 404 -> switch (code) {
                case "RevisionNotFound" -> repo + ": " + what + " not found";
                case "EntryNotFound" -> repo + ": file " + what + " not found";
                default -> repo + " was not found on " + endpoint.getHost() + (what.startsWith("revision") ? "" : " (" + what + ")");
            };
            default -> repo + ": " + what + " failed";
        };
        return new HubException(hint + ": HTTP " + r.status + hub);
    }

    private static String cut(String s) {
        String t = s.replaceAll("\\p{Cntrl}", " ").strip();
        return t.length() > 300 ? t.substring(0, 300) + "..." : t;
    }

    private static final Pattern LINK_NEXT = Pattern.compile("<([^>]+)>\\s*;\\s*rel=\"?next\"?");
    private static final Pattern CONTENT_RANGE = Pattern.compile("bytes\\s+(\\d+)-(\\d+)/(\\d+|\\*)");

    private static URI nextPage(Response r, URI current) throws HubException {
        Optional<String> link = r.response.headers().firstValue("link");
        if (link.isEmpty()) return null;
        Matcher m = LINK_NEXT.matcher(link.get());
        if (!m.find()) return null;
        try {
            URI next = current.resolve(m.group(1));
            if (!sameOrigin(next, current)) throw new HubException("the Hub's listing points its next page to another host: " + next);
            return next;
        } catch (IllegalArgumentException e) {
            throw new HubException("bad Link header in the Hub's listing: " + link.get());
        }
    }

    private static long rangeStart(Response r) throws HubException {
        String cr = r.response.headers().firstValue("content-range").orElse("");
        Matcher m = CONTENT_RANGE.matcher(cr);
        if (!m.find()) throw new HubException("HTTP 206 without a valid Content-Range ('" + cut(cr) + "')");
        return Long.parseLong(m.group(1));
    }

    /** An ETag header value without quotes or the weak prefix (the form huggingface_hub names blobs by). */
    static String etag(Optional<String> h) {
        if (h.isEmpty()) return null;
        String e = h.get().strip();
        if (e.startsWith("W/")) e = e.substring(2);
        if (e.length() >= 2 && e.startsWith("\"") && e.endsWith("\"")) e = e.substring(1, e.length() - 1);
        return e.toLowerCase(Locale.ROOT);
    }

    private static String encode(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
    }

    private static String encodePath(String path) {
        StringBuilder sb = new StringBuilder();
        for (String seg : path.split("/")) sb.append(sb.isEmpty() ? "" : "/").append(encode(seg));
        return sb.toString();
    }

    /** LFS files are named by the sha256 of their bytes; other files by git's blob id, sha1("blob SIZE\0" + bytes). */
    private static MessageDigest digest(HubFile f) {
        try {
            if (f.lfs()) return MessageDigest.getInstance("SHA-256");
            MessageDigest md = MessageDigest.getInstance("SHA-1");
            md.update(("blob " + f.size() + "\0").getBytes(StandardCharsets.US_ASCII));
            return md;
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void hashExisting(FileChannel ch, long n, MessageDigest md) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(1 << 20);
        long pos = 0;
        while (pos < n) {
            buf.clear().limit((int) Math.min(buf.capacity(), n - pos));
            int r = ch.read(buf, pos);
            if (r < 0) throw new IOException("partial download shrank while reading it");
            buf.flip();
            md.update(buf);
            pos += r;
        }
    }

    private void pause(int failures) throws IOException {
        long ms = Math.min(30_000, retryDelay.toMillis() << Math.min(failures - 1, 5));
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted");
        }
    }

    /**
     * A response body as a queue of buffers, one requested at a time, so the reader can give up on a
     * stalled connection ({@link #next} with a timeout) and cancel it; the JDK's InputStream body cannot.
     */
    private static final class Body implements HttpResponse.BodySubscriber<Void>, Flow.Subscriber<List<ByteBuffer>> {
        private static final Object END = new Object();
        private final LinkedBlockingQueue<Object> queue = new LinkedBlockingQueue<>();
        private volatile Flow.Subscription subscription;
        private volatile boolean cancelled;
        private java.util.Iterator<ByteBuffer> current = java.util.Collections.emptyIterator();
        private boolean ended;

        /** Complete at once, so send() returns with the headers and the body is read through {@link #next}. */
        @Override
        public java.util.concurrent.CompletionStage<Void> getBody() {
            return java.util.concurrent.CompletableFuture.completedFuture(null);
        }

        @Override
        public void onSubscribe(Flow.Subscription s) {
            subscription = s;
            if (cancelled) s.cancel();
            else s.request(1);
        }

        @Override
        public void onNext(List<ByteBuffer> item) {
            queue.add(item);
        }

        @Override
        public void onError(Throwable t) {
            queue.add(t);
        }

        @Override
        public void onComplete() {
            queue.add(END);
        }

        /** The next buffer, or null at the end of the body; IOException when cut or stalled longer than {@code stall}. */
        ByteBuffer next(Duration stall) throws IOException {
            while (true) {
                if (current.hasNext()) {
                    ByteBuffer b = current.next();
                    if (b.hasRemaining()) return b;
                    continue;
                }
                if (ended) return null;
                Object o;
                try {
                    o = queue.poll(stall.toMillis(), TimeUnit.MILLISECONDS);
                } catch (InterruptedException e) {
                    cancel();
                    Thread.currentThread().interrupt();
                    throw new java.io.InterruptedIOException("interrupted");
                }
                if (o == null) {
                    cancel();
                    throw new IOException("no data for " + stall.toSeconds() + " s");
                }
                if (o instanceof Throwable t) throw t instanceof IOException io ? io : new IOException(describe(t), t);
                if (o == END) {
                    ended = true;
                    return null;
                }
                @SuppressWarnings("unchecked") List<ByteBuffer> list = (List<ByteBuffer>) o;
                current = list.iterator();
                Flow.Subscription s = subscription;
                if (s != null) s.request(1);
            }
        }

        /** The whole body, or null when it is longer than {@code max} bytes. */
        byte[] readAll(int max, Duration stall) throws IOException {
            java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
            ByteBuffer b;
            while ((b = next(stall)) != null) {
                if (out.size() + b.remaining() > max) {
                    cancel();
                    return null;
                }
                byte[] chunk = new byte[b.remaining()];
                b.get(chunk);
                out.write(chunk);
            }
            return out.toByteArray();
        }

        void cancel() {
            cancelled = true;
            Flow.Subscription s = subscription;
            if (s != null) s.cancel();
        }
    }
}
