package io.sluice.cli.hub;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code sluice pull}: resolves a {@link HubRef} to files through the Hub, downloads what the cache lacks
 * and links it into the snapshot. A file already in the cache (pulled before, by Sluice or by
 * huggingface_hub) is not downloaded again; without a network the cache alone answers.
 */
public final class Puller {
    /** What a pull reports while it works (the CLI draws progress bars from it). */
    public interface Listener {
        /** A message worth a line ("using the cached copy", "waiting for another download"). */
        void note(String message);

        /** A download starts; {@code resumedFrom} bytes were already there from an earlier try. */
        void downloadStarted(HubFile f, long resumedFrom);

        void downloaded(long bytesSoFar);

        void downloadFinished(HubFile f);
    }

    /** The model's files in the cache (part 1 first for a split model), and what the Hub said. */
    public record Result(HubRef ref, String commit, List<Path> files, List<HubFile> hubFiles, long downloadedBytes, boolean offline) {
        public Path model() {
            return files.getFirst();
        }
    }

    private final HubClient client;
    private final HubCache cache;
    private final boolean offline;
    private final Listener listener;

    public Puller(HubClient client, HubCache cache, boolean offline, Listener listener) {
        this.client = client;
        this.cache = cache;
        this.offline = offline;
        this.listener = listener;
    }

    public Puller(HubSettings s, Listener listener) {
        this(s.client(), s.cache(), s.offline(), listener);
    }

    public Result pull(HubRef ref, String revision) throws IOException {
        String repo = ref.repo();
        String commit;
        List<HubFile> listing;
        try {
            if (offline) throw new HubException.Unreachable("HF_HUB_OFFLINE is set", null);
            commit = client.commit(repo, revision);
            listing = client.files(repo, commit);
            cache.writeRef(repo, revision, commit);
        } catch (HubException.Unreachable e) {
            commit = cache.ref(repo, revision);
            listing = commit == null ? List.of() : cache.snapshotFiles(repo, commit);
            if (listing.isEmpty()) {
                throw new HubException(e.getMessage() + ", and " + repo + (commit == null ? "" : "@" + revision) + " is not in the cache at " + cache.root(), e);
            }
            List<HubFile> chosen = GgufPicker.pick(repo, listing, ref.quant());
            listener.note((offline ? "offline" : e.getMessage()) + ": using the cached copy of " + ref + " (" + revision + " = " + commit.substring(0, 8) + ")");
            List<Path> paths = new ArrayList<>();
            for (HubFile f : chosen) paths.add(cache.snapshot(repo, commit, f.path()));
            return new Result(ref, commit, paths, chosen, 0, true);
        }
        List<HubFile> chosen = GgufPicker.pick(repo, listing, ref.quant());
        List<Path> paths = new ArrayList<>();
        long downloaded = 0;
        for (HubFile f : chosen) {
            downloaded += fetch(repo, commit, f);
            paths.add(cache.snapshot(repo, commit, f.path()));
        }
        return new Result(ref, commit, paths, chosen, downloaded, false);
    }

    /** Makes snapshots/COMMIT/PATH hold {@code f}; returns the bytes downloaded for it. */
    private long fetch(String repo, String commit, HubFile f) throws IOException {
        if (linkedToItsBlob(repo, commit, f)) return 0;
        Path blob = cache.blob(repo, f.oid());
        if (Files.isRegularFile(blob) && Files.size(blob) == f.size()) { // pulled for another revision, or by another tool
            cache.link(repo, commit, f);
            return 0;
        }
        Path lockFile = cache.lockFile(repo, f.oid());
        Files.createDirectories(lockFile.getParent());
        Files.createDirectories(blob.getParent());
        try (FileChannel lc = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            FileLock lock = lc.tryLock();
            if (lock == null) {
                listener.note("waiting for another download of " + f.path() + " to finish");
                lock = lc.lock();
            }
            try (FileLock ignored = lock) {
                if (Files.isRegularFile(blob) && Files.size(blob) == f.size()) { // the other download finished it
                    cache.link(repo, commit, f);
                    return 0;
                }
                Path partial = cache.incomplete(repo, f.oid());
                long before = Files.isRegularFile(partial) ? Math.min(Files.size(partial), f.size()) : 0;
                listener.downloadStarted(f, before);
                client.download(repo, commit, f, partial, listener::downloaded);
                HubCache.moveAtomically(partial, blob);
                listener.downloadFinished(f);
                cache.link(repo, commit, f);
                return f.size() - before;
            }
        }
    }

    /** The snapshot entry exists and is (a link to) the blob of this very content. */
    private boolean linkedToItsBlob(String repo, String commit, HubFile f) throws IOException {
        if (!cache.hasComplete(repo, commit, f)) return false;
        Path p = cache.snapshot(repo, commit, f.path());
        return !Files.isSymbolicLink(p) || p.toRealPath().getFileName().toString().equals(f.oid());
    }
}
