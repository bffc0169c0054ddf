package io.sluice.cli.hub;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.stream.Stream;

/**
 * The Hugging Face hub cache, laid out exactly as {@code huggingface_hub} lays it out, so files pulled by
 * either are found by the other:
 * <pre>
 *   ROOT/models--org--name/blobs/SHA256             the content (git's sha1 for small non-LFS files)
 *   ROOT/models--org--name/blobs/SHA256.incomplete  a download in progress (resumed from here)
 *   ROOT/models--org--name/snapshots/COMMIT/PATH    a relative symlink to ../../blobs/SHA256
 *   ROOT/models--org--name/refs/main                the commit that "main" pointed to
 *   ROOT/.locks/models--org--name/SHA256.lock       held while a blob is downloaded
 * </pre>
 * ROOT is {@code HF_HUB_CACHE}, else {@code HF_HOME/hub}, else {@code XDG_CACHE_HOME/huggingface/hub},
 * else {@code ~/.cache/huggingface/hub}.
 */
public final class HubCache {
    private final Path root;

    public HubCache(Path root) {
        this.root = root.toAbsolutePath().normalize();
    }

    /** The cache root the environment names (see the class comment). */
    public static HubCache fromEnvironment(Function<String, String> env) {
        for (String v : new String[]{"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"}) {
            String s = env.apply(v);
            if (s != null && !s.isBlank()) return new HubCache(Path.of(s));
        }
        String home = env.apply("HF_HOME");
        if (home != null && !home.isBlank()) return new HubCache(Path.of(home, "hub"));
        String xdg = env.apply("XDG_CACHE_HOME");
        if (xdg != null && !xdg.isBlank()) return new HubCache(Path.of(xdg, "huggingface", "hub"));
        return new HubCache(Path.of(System.getProperty("user.home"), ".cache", "huggingface", "hub"));
    }

    public Path root() {
        return root;
    }

    public Path repoDir(String repo) {
        return root.resolve("models--" + repo.replace("/", "--"));
    }

    public Path blob(String repo, String oid) {
        return repoDir(repo).resolve("blobs").resolve(oid);
    }

    public Path incomplete(String repo, String oid) {
        return repoDir(repo).resolve("blobs").resolve(oid + ".incomplete");
    }

    public Path lockFile(String repo, String oid) {
        return locksDir(repo).resolve(oid + ".lock");
    }

    private Path locksDir(String repo) {
        return root.resolve(".locks").resolve("models--" + repo.replace("/", "--"));
    }

    public Path snapshot(String repo, String commit, String path) {
        return repoDir(repo).resolve("snapshots").resolve(commit).resolve(path);
    }

    /** The commit a ref (branch name) pointed to when last resolved online, or null. */
    public String ref(String repo, String revision) throws IOException {
        if (isCommit(revision)) return revision;
        Path p = repoDir(repo).resolve("refs").resolve(revision).normalize();
        if (!p.startsWith(repoDir(repo).resolve("refs")) || !Files.isRegularFile(p)) return null;
        String c = Files.readString(p, StandardCharsets.UTF_8).strip();
        return isCommit(c) ? c : null;
    }

    /** Records where a branch points, atomically (huggingface_hub writes the bare hash, no newline). */
    public void writeRef(String repo, String revision, String commit) throws IOException {
        if (isCommit(revision)) return; // a pinned commit is not a ref
        Path p = repoDir(repo).resolve("refs").resolve(revision).normalize();
        if (!p.startsWith(repoDir(repo).resolve("refs"))) throw new HubException("unsafe revision name '" + revision + "'");
        if (commit.equals(ref(repo, revision))) return;
        Files.createDirectories(p.getParent());
        Path tmp = Files.createTempFile(p.getParent(), ".ref-", ".tmp");
        try {
            Files.writeString(tmp, commit, StandardCharsets.UTF_8);
            moveAtomically(tmp, p);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /**
     * Points {@code snapshots/COMMIT/PATH} at the blob: a relative symlink as huggingface_hub makes it,
     * or where symlinks are not possible, the blob moved there.
     */
    public Path link(String repo, String commit, HubFile f) throws IOException {
        Path target = snapshot(repo, commit, f.path());
        Path blob = blob(repo, f.oid());
        Files.createDirectories(target.getParent());
        Path rel = target.getParent().relativize(blob);
        if (Files.isSymbolicLink(target) && Files.readSymbolicLink(target).equals(rel)) return target;
        Path tmp = target.resolveSibling("." + target.getFileName() + ".link-" + ProcessHandle.current().pid());
        Files.deleteIfExists(tmp);
        try {
            Files.createSymbolicLink(tmp, rel);
        } catch (UnsupportedOperationException | FileSystemException e) {
            Files.copy(blob, tmp, StandardCopyOption.REPLACE_EXISTING);
        }
        moveAtomically(tmp, target);
        return target;
    }

    /** True when the snapshot path exists and holds exactly {@code f}'s bytes count (links followed). */
    public boolean hasComplete(String repo, String commit, HubFile f) throws IOException {
        Path p = snapshot(repo, commit, f.path());
        return Files.isRegularFile(p) && Files.size(p) == f.size();
    }

    /** A file of a cached snapshot, as {@link #files} lists it. */
    public record Entry(String repo, String commit, String path, Path file, long size, long modifiedMillis) {
    }

    /** Every file of every snapshot in the cache (links followed; dangling links skipped), sorted by repo and path. */
    public List<Entry> files() throws IOException {
        List<Entry> out = new ArrayList<>();
        if (!Files.isDirectory(root)) return out;
        try (DirectoryStream<Path> repos = Files.newDirectoryStream(root, "models--*")) {
            for (Path dir : repos) {
                String repo = dir.getFileName().toString().substring("models--".length()).replaceFirst("--", "/");
                Path snaps = dir.resolve("snapshots");
                if (!Files.isDirectory(snaps)) continue;
                try (DirectoryStream<Path> commits = Files.newDirectoryStream(snaps)) {
                    for (Path c : commits) {
                        try (Stream<Path> s = Files.walk(c)) {
                            for (Path p : (Iterable<Path>) s::iterator) {
                                if (!Files.isRegularFile(p)) continue; // follows links: a dangling one is not a file
                                String rel = c.relativize(p).toString().replace('\\', '/');
                                out.add(new Entry(repo, c.getFileName().toString(), rel, p, Files.size(p),
                                        Files.getLastModifiedTime(p).toMillis()));
                            }
                        }
                    }
                }
            }
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
        out.sort(Comparator.comparing(Entry::repo).thenComparing(Entry::path).thenComparing(Entry::commit));
        return out;
    }

    /** The cached files of one snapshot as a listing (for choosing a quant offline). */
    public List<HubFile> snapshotFiles(String repo, String commit) throws IOException {
        List<HubFile> out = new ArrayList<>();
        for (Entry e : files()) {
            if (!e.repo().equals(repo) || !e.commit().equals(commit)) continue;
            Path real = e.file().toRealPath();
            String blobName = real.getFileName().toString();
            boolean sha256 = blobName.matches("[0-9a-f]{64}");
            String oid = sha256 || blobName.matches("[0-9a-f]{40}") ? blobName : null;
            if (oid == null) continue; // not a blob of this cache (copied in by hand): its content id is unknown
            out.add(new HubFile(e.path(), e.size(), oid, sha256));
        }
        return out;
    }

    /**
     * Deletes snapshot entries and then every blob no remaining snapshot points to; returns the bytes
     * freed. {@code paths} null removes the whole repository folder.
     */
    public long remove(String repo, Set<String> paths) throws IOException {
        Path dir = repoDir(repo);
        if (!Files.isDirectory(dir)) return 0;
        long freed = 0;
        if (paths == null) {
            freed = sizeOfBlobs(dir);
            deleteTree(dir);
            deleteTree(locksDir(repo));
            return freed;
        }
        Path snaps = dir.resolve("snapshots");
        for (Entry e : files()) {
            if (e.repo().equals(repo) && paths.contains(e.path())) Files.deleteIfExists(e.file().toAbsolutePath());
        }
        // That removed the links (or copies), not blobs: now drop the blobs nothing links to any more.
        Set<Path> used = new TreeSet<>();
        if (Files.isDirectory(snaps)) {
            try (Stream<Path> s = Files.walk(snaps)) {
                for (Path p : (Iterable<Path>) s::iterator) {
                    if (Files.isSymbolicLink(p) && Files.exists(p)) used.add(p.toRealPath());
                }
            }
            pruneEmptyDirs(snaps);
        }
        Path blobs = dir.resolve("blobs");
        if (Files.isDirectory(blobs)) {
            try (DirectoryStream<Path> s = Files.newDirectoryStream(blobs)) {
                for (Path b : s) {
                    if (used.contains(b.toRealPath())) continue;
                    freed += Files.size(b);
                    Files.delete(b);
                }
            }
        }
        if (files().stream().noneMatch(e -> e.repo().equals(repo))) {
            deleteTree(dir);
            deleteTree(locksDir(repo));
        }
        return freed;
    }

    static boolean isCommit(String s) {
        return s != null && s.matches("[0-9a-f]{40}");
    }

    /** Rename that never leaves a half-written target; falls back to a plain replace where atomic moves are missing. */
    static void moveAtomically(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    private static long sizeOfBlobs(Path dir) throws IOException {
        Path blobs = dir.resolve("blobs");
        if (!Files.isDirectory(blobs)) return 0;
        long n = 0;
        try (DirectoryStream<Path> s = Files.newDirectoryStream(blobs)) {
            for (Path b : s) if (Files.isRegularFile(b, LinkOption.NOFOLLOW_LINKS)) n += Files.size(b);
        }
        return n;
    }

    private static void pruneEmptyDirs(Path top) throws IOException {
        List<Path> dirs;
        try (Stream<Path> s = Files.walk(top)) {
            dirs = s.filter(p -> Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)).sorted(Comparator.reverseOrder()).toList();
        }
        for (Path d : dirs) {
            try (DirectoryStream<Path> s = Files.newDirectoryStream(d)) {
                if (!s.iterator().hasNext()) Files.delete(d);
            }
        }
    }

    private static void deleteTree(Path top) throws IOException {
        if (!Files.exists(top, LinkOption.NOFOLLOW_LINKS)) return;
        List<Path> all;
        try (Stream<Path> s = Files.walk(top)) {
            all = s.sorted(Comparator.reverseOrder()).toList();
        }
        for (Path p : all) Files.deleteIfExists(p);
    }

    @Override
    public String toString() {
        return root.toString();
    }
}
