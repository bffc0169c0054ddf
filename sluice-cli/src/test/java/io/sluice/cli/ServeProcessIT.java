package io.sluice.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.sluice.Fixtures;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * {@code ./sluice serve} as a real process (the launcher and the shaded jar, run by failsafe after
 * packaging): its resident memory under a churn of streaming clients with cancels stays within
 * --memory-budget plus a stated margin and every KV block comes back; SIGTERM with streams in flight
 * drains (health 503, new work refused) and exits 0, every cut stream ending with an error event.
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class ServeProcessIT {
    static final ObjectMapper JSON = new ObjectMapper();
    /** How far above --memory-budget the peak RSS may go (see docs/MEMORY.md for what it covers). */
    static final long RSS_MARGIN_BYTES = 32L << 20;
    /** Churn length; CI's default is short, -Dsluice.churn.seconds=90 repeats the red-team's run. */
    static final int CHURN_SECONDS = Integer.getInteger("sluice.churn.seconds", 20);

    Process proc;
    Thread stderrReader;
    final List<String> stderr = new CopyOnWriteArrayList<>();
    int port;

    @AfterEach
    void kill() throws Exception {
        if (proc != null && proc.isAlive()) {
            proc.destroyForcibly();
            proc.waitFor(10, TimeUnit.SECONDS);
        }
    }

    private static Path checkout() {
        Path p = Path.of("").toAbsolutePath();
        return Files.exists(p.resolve("sluice")) ? p : p.getParent(); // run from sluice-cli/ by Maven
    }

    private void serve(String... options) throws Exception {
        serve(List.of(), options);
    }

    /** Starts ./sluice serve with these options (and JVM options) on a free port and waits until it is ready. */
    private void serve(List<String> javaOptions, String... options) throws Exception {
        Path launcher = checkout().resolve("sluice");
        Assumptions.assumeTrue(Files.isExecutable(launcher), "no launcher at " + launcher);
        List<String> cmd = new ArrayList<>(List.of(launcher.toString(), "serve", "-m", Fixtures.model("stories260K.gguf").toString(), "--port", "0"));
        cmd.addAll(List.of(options));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(ProcessBuilder.Redirect.DISCARD);
        pb.environment().put("SLUICE_JAVA_OPTS", String.join(" ", javaOptions));
        proc = pb.start();
        CompletableFuture<Integer> listening = new CompletableFuture<>();
        CompletableFuture<Void> ready = new CompletableFuture<>();
        Pattern url = Pattern.compile("listening on http://[^:]+:(\\d+)");
        stderrReader = Thread.ofPlatform().daemon().start(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(proc.getErrorStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) {
                    stderr.add(line);
                    Matcher m = url.matcher(line);
                    if (m.find()) listening.complete(Integer.parseInt(m.group(1)));
                    if (line.startsWith("sluice: ready")) ready.complete(null);
                }
            } catch (IOException ignored) {
                // the process ended
            }
            listening.completeExceptionally(new AssertionError("serve ended before listening: " + stderr));
            ready.completeExceptionally(new AssertionError("serve ended before ready: " + stderr));
        });
        port = listening.get(3, TimeUnit.MINUTES); // the launcher builds first if a source is newer than the jar
        ready.get(2, TimeUnit.MINUTES);
    }

    /** SIGTERM, as Kubernetes sends it. (Process.destroy() would also close our end of its stderr.) */
    private void sigterm() {
        assertTrue(proc.toHandle().destroy(), "SIGTERM sent");
    }

    record Response(int status, String body) {
    }

    /** One HTTP/1.1 request on its own connection (closed after), whole body read. */
    private Response request(String method, String path, String body) throws IOException {
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
            s.setSoTimeout(60_000);
            byte[] b = body == null ? new byte[0] : body.getBytes(StandardCharsets.UTF_8);
            s.getOutputStream().write((method + " " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n"
                    + "Content-Length: " + b.length + "\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
            s.getOutputStream().write(b);
            String all = new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            // a connection the stopping server accepted and closed unanswered is a closed connection
            if (all.length() < 12) throw new IOException("closed without a response: '" + all + "'");
            int status = Integer.parseInt(all.substring(9, 12));
            int at = all.indexOf("\r\n\r\n");
            String head = all.substring(0, at), rest = all.substring(at + 4);
            return new Response(status, head.toLowerCase().contains("transfer-encoding: chunked") ? dechunk(rest) : rest);
        }
    }

    private static String dechunk(String s) {
        StringBuilder out = new StringBuilder();
        int i = 0;
        while (i < s.length()) {
            int eol = s.indexOf("\r\n", i);
            if (eol < 0) break;
            int n = Integer.parseInt(s.substring(i, eol).split(";")[0].trim(), 16);
            if (n == 0) break;
            // chunk sizes count bytes; the bodies here are ASCII JSON and SSE
            out.append(s, eol + 2, eol + 2 + n);
            i = eol + 2 + n + 2;
        }
        return out.toString();
    }

    private double metric(String name) throws IOException {
        for (String line : request("GET", "/metrics", null).body().split("\n")) {
            if (line.startsWith(name + " ")) return Double.parseDouble(line.substring(name.length() + 1).trim());
        }
        throw new AssertionError("no metric " + name);
    }

    private long procStatus(String field) throws IOException {
        for (String l : Files.readAllLines(Path.of("/proc/" + proc.pid() + "/status"))) {
            if (l.startsWith(field + ":")) return Long.parseLong(l.replaceAll("\\D", "")) * 1024;
        }
        throw new AssertionError("no " + field);
    }

    /**
     * A streaming completion over a raw socket; with cancelAfter >= 0 the client hangs up after that many
     * events. Returns the SSE data payloads received, in order.
     */
    private List<String> stream(String prompt, int maxTokens, int cancelAfter) throws IOException {
        List<String> data = new ArrayList<>();
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
            s.setSoTimeout(120_000);
            byte[] b = ("{\"prompt\":" + JSON.writeValueAsString(prompt) + ",\"max_tokens\":" + maxTokens
                    + ",\"stream\":true,\"ignore_eos\":true,\"temperature\":0.8}").getBytes(StandardCharsets.UTF_8);
            OutputStream out = s.getOutputStream();
            out.write(("POST /v1/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: "
                    + b.length + "\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
            out.write(b);
            BufferedReader r = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
            for (String line; (line = r.readLine()) != null; ) {
                int at = line.indexOf("data: ");
                if (at < 0) continue; // status line, headers, chunk sizes
                data.add(line.substring(at + 6));
                if (data.getLast().equals("[DONE]")) break;
                if (cancelAfter >= 0 && data.size() >= cancelAfter) break; // hang up mid-stream
            }
        }
        return data;
    }

    private static String prompt(Random rnd) {
        String[] words = "once upon a time there was a little girl named lily she loved to play outside in the park".split(" ");
        StringBuilder sb = new StringBuilder("story " + rnd.nextInt(1_000_000));
        for (int i = 0, n = 5 + rnd.nextInt(60); i < n; i++) sb.append(' ').append(words[rnd.nextInt(words.length)]);
        return sb.toString();
    }

    /**
     * The worst case for the estimate: the heap is touched to its limit up front (-XX:+AlwaysPreTouch) and the
     * KV pool is small (8 MiB), so the prefix cache fills it within the churn; what is left of the resident
     * memory is the JVM's own, which the plan counts as {@code MemoryPlan.JVM_OVERHEAD_BYTES}.
     */
    @Test
    void residentMemoryStaysWithinTheBudgetUnderStreamingChurn() throws Exception {
        long budget = 384L << 20, kv = 8L << 20, heap = 128L << 20;
        serve(List.of("-XX:+AlwaysPreTouch"), "--memory-budget", "384M", "--kv-memory", "8M", "--max-seqs", "16", "--max-queue", "512");
        String plan = stderr.stream().filter(l -> l.startsWith("sluice: memory plan:")).findFirst().orElseThrow();
        assertTrue(plan.contains("of the 384.0 MiB budget") && plan.contains("JVM") && plan.contains("heap 128.0 MiB"),
                "the plan names every part, with the heap the launcher derived (384M / 8, at least 128 MiB): " + plan);
        Matcher total = Pattern.compile("= ([0-9.]+) MiB of the").matcher(plan);
        assertTrue(total.find(), plan);
        long planned = (long) (Double.parseDouble(total.group(1)) * 1048576);
        AtomicInteger completed = new AtomicInteger(), cancelled = new AtomicInteger();
        ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
        long end = System.nanoTime() + CHURN_SECONDS * 1_000_000_000L;
        List<Thread> clients = new ArrayList<>();
        for (int c = 0; c < 48; c++) {
            Random rnd = new Random(c);
            clients.add(Thread.ofVirtual().start(() -> {
                while (System.nanoTime() < end && failures.size() < 5) {
                    try {
                        boolean cancel = rnd.nextInt(3) == 0;
                        List<String> d = stream(prompt(rnd), 16 + rnd.nextInt(200), cancel ? 1 + rnd.nextInt(20) : -1);
                        if (cancel) cancelled.incrementAndGet();
                        else if (d.size() >= 2 && d.getLast().equals("[DONE]") && !d.get(d.size() - 2).contains("\"error\"")) completed.incrementAndGet();
                        else failures.add("stream ended badly: " + (d.isEmpty() ? "nothing" : d.getLast()));
                    } catch (IOException e) {
                        failures.add(e.toString());
                    }
                }
            }));
        }
        long peakSampled = 0;
        while (clients.stream().anyMatch(Thread::isAlive)) {
            peakSampled = Math.max(peakSampled, procStatus("VmRSS"));
            Thread.sleep(100);
        }
        assertTrue(failures.isEmpty(), failures::toString);
        assertTrue(completed.get() > 20 && cancelled.get() > 10, "churn ran: " + completed + " completed, " + cancelled + " cancelled");
        long deadline = System.nanoTime() + 15_000_000_000L;
        while (metric("sluice_kv_blocks_used") > 0 && System.nanoTime() < deadline) Thread.sleep(100);
        assertEquals(0.0, metric("sluice_kv_blocks_used"), "every KV block is back after the churn");
        assertEquals(0.0, metric("sluice_requests_running"));
        long hwm = procStatus("VmHWM"); // the kernel's peak RSS of the process, spikes between samples included
        System.err.printf("ServeProcessIT: %d completed, %d cancelled in %d s; peak RSS %.1f MiB (sampled %.1f MiB), budget %d MiB + margin %d MiB; %s%n",
                completed.get(), cancelled.get(), CHURN_SECONDS, hwm / 1048576.0, peakSampled / 1048576.0, budget >> 20, RSS_MARGIN_BYTES >> 20, plan);
        System.err.printf("ServeProcessIT: JVM memory besides heap, KV and weights at the peak: %.1f MiB (planned %d MiB)%n",
                (hwm - heap - kv - (1.1 * 1048576)) / 1048576.0, io.sluice.engine.MemoryPlan.JVM_OVERHEAD_BYTES >> 20);
        assertTrue(hwm <= planned + RSS_MARGIN_BYTES, String.format("peak RSS %.1f MiB exceeds the plan's %.1f MiB + %d MiB margin",
                hwm / 1048576.0, planned / 1048576.0, RSS_MARGIN_BYTES >> 20));
        assertTrue(planned <= budget);
        sigterm();
        assertTrue(proc.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, proc.exitValue(), stderr::toString);
    }

    @Test
    void sigtermDrainsStreamsInFlightAndExitsZero() throws Exception {
        serve("--max-seqs", "1", "--drain-timeout", "1500ms", "--max-connections-per-client", "1000");
        // Size the load from this machine's speed: enough streams that the queue cannot empty within the drain.
        assertEquals("[DONE]", stream("once upon a time", 400, -1).getLast()); // JIT warm-up
        long t0 = System.nanoTime();
        assertEquals("[DONE]", stream("once upon a time", 400, -1).getLast());
        double oneStream = (System.nanoTime() - t0) / 1e9;
        int n = (int) Math.min(150, Math.ceil(10 / Math.max(oneStream, 0.01)) + 2); // ~10 s of work for a 1.5 s drain
        List<CompletableFuture<List<String>>> streams = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            String p = "stream " + i + " once upon a time";
            streams.add(CompletableFuture.supplyAsync(() -> {
                try {
                    return stream(p, 400, -1);
                } catch (IOException e) {
                    throw new RuntimeException(e);
                }
            }, r -> Thread.ofVirtual().start(r)));
        }
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (metric("sluice_requests_running") < 1 && System.nanoTime() < deadline) Thread.sleep(20);
        Thread.sleep(200);
        long sent = System.nanoTime();
        sigterm();
        boolean saw503 = false, refused = false;
        // /health first, until it says draining: a late request sent before the signal lands would be queued
        // behind the streams and hold this loop for the whole drain
        while (proc.isAlive() && !(saw503 && refused)) {
            try {
                Response h = request("GET", "/health", null);
                if (h.status() == 503 && h.body().contains("draining")) saw503 = true;
                if (!saw503) continue;
                Response r = request("POST", "/v1/completions", "{\"prompt\":\"late\",\"max_tokens\":2}");
                if (r.status() == 503 && r.body().contains("shutting_down")) refused = true;
            } catch (IOException closedAlready) {
                break;
            }
        }
        assertTrue(proc.waitFor(30, TimeUnit.SECONDS), "exits after the drain");
        double took = (System.nanoTime() - sent) / 1e9;
        stderrReader.join(10_000); // the launcher's stderr filter flushes after the JVM exits
        assertEquals(0, proc.exitValue(), () -> "exit code after SIGTERM; stderr: " + stderr);
        assertTrue(saw503, "/health answered 503 draining during the drain");
        assertTrue(refused, "new generations were refused with 503 during the drain");
        assertTrue(took < 1.5 + 8, "drain timeout bounds the shutdown: " + took + " s");
        int finished = 0, cut = 0;
        for (CompletableFuture<List<String>> f : streams) {
            List<String> d = f.get(30, TimeUnit.SECONDS);
            if (d.isEmpty()) fail("a stream got nothing at all");
            assertEquals("[DONE]", d.getLast(), "no stream is silently truncated: " + d.subList(Math.max(0, d.size() - 3), d.size()));
            JsonNode last = JSON.readTree(d.get(d.size() - 2));
            if (last.has("error")) {
                assertEquals("cancelled", last.get("error").get("code").asText(), last.toString());
                cut++;
            } else {
                assertEquals("length", last.get("choices").get(0).get("finish_reason").asText(), last.toString());
                finished++;
            }
        }
        assertTrue(cut > 0, "the drain timeout cut some streams (" + finished + " finished first)");
        assertTrue(stderr.stream().anyMatch(l -> l.contains("drain timeout")), stderr::toString);
        System.err.printf("ServeProcessIT: drain: %d streams, %d finished, %d cut with an error event, exit 0 after %.2f s%n", n, finished, cut, took);
    }
}
