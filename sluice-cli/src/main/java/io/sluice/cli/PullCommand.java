package io.sluice.cli;

import io.sluice.cli.hub.HubFile;
import io.sluice.cli.hub.HubRef;
import io.sluice.cli.hub.HubSettings;
import io.sluice.cli.hub.Puller;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.util.concurrent.Callable;

@Command(name = "pull", description = {
        "Download a GGUF model from the Hugging Face Hub into the hub cache (shared with huggingface_hub) and print its path.",
        "REPO[:QUANT] is e.g. bartowski/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M (QUANT matched case-insensitively in the file names; default Q4_K_M).",
        "Environment: HF_TOKEN, HF_ENDPOINT (a mirror), HF_HUB_CACHE or HF_HOME (the cache), HF_HUB_OFFLINE=1 (cache only)."})
final class PullCommand implements Callable<Integer> {
    @Parameters(paramLabel = "REPO[:QUANT]", description = "Hugging Face repository, optionally with a quantization tag or file name")
    String ref;

    @Option(names = "--hf-token", paramLabel = "TOKEN", description = "Hugging Face access token for private or gated repositories (default: HF_TOKEN, else the saved login)")
    String token;

    @Option(names = "--revision", defaultValue = "main", description = "branch, tag or commit (default ${DEFAULT-VALUE})")
    String revision;

    @Option(names = {"-q", "--quiet"}, description = "no progress output")
    boolean quiet;

    @Override
    public Integer call() throws IOException {
        Puller.Result r = pull(HubRef.parse(ref), token, revision, quiet);
        System.out.println(r.model());
        return 0;
    }

    /** Pulls with a progress bar per file on stderr; shared by pull and -hf on run/serve/bench. */
    static Puller.Result pull(HubRef ref, String token, String revision, boolean quiet) throws IOException {
        HubSettings s = HubSettings.fromEnvironment(token);
        Listener l = new Listener(quiet);
        Puller.Result r = new Puller(s, l).pull(ref, revision);
        if (!quiet) {
            long total = r.hubFiles().stream().mapToLong(HubFile::size).sum();
            String what = r.files().size() == 1 ? r.hubFiles().getFirst().path() : r.files().size() + " files";
            System.err.println("sluice: " + ref + " -> " + what + " (" + Progress.bytes(total)
                    + (r.downloadedBytes() > 0 ? ", " + Progress.bytes(r.downloadedBytes()) + " downloaded" : ", already in the cache") + ")");
        }
        return r;
    }

    private static final class Listener implements Puller.Listener {
        private final boolean quiet;
        private Progress bar;
        private long resumed;

        Listener(boolean quiet) {
            this.quiet = quiet;
        }

        @Override
        public void note(String message) {
            if (!quiet) System.err.println("sluice: " + message);
        }

        @Override
        public void downloadStarted(HubFile f, long resumedFrom) {
            resumed = resumedFrom;
            if (resumedFrom > 0 && !quiet) System.err.println("sluice: resuming " + f.path() + " at " + Progress.bytes(resumedFrom));
            bar = Progress.onStderr(f.name(), f.size(), Progress.Unit.BYTES, quiet, 0.1);
        }

        @Override
        public void downloaded(long bytesSoFar) {
            bar.update(bytesSoFar);
        }

        @Override
        public void downloadFinished(HubFile f) {
            double s = bar.elapsedSeconds();
            long got = f.size() - resumed;
            bar.finish(String.format(java.util.Locale.ROOT, "downloaded %s (%s in %.1f s, %s/s, sha256 verified)", f.path(), Progress.bytes(got), s,
                    Progress.bytes((long) (got / Math.max(s, 1e-3)))).replace("sha256", f.lfs() ? "sha256" : "git sha1"));
        }
    }
}
