package io.sluice.cli.hub;

/**
 * One file of a repository revision, as the Hub's tree listing describes it.
 *
 * @param path  path inside the repository ("sub/dir/model.gguf")
 * @param size  bytes
 * @param oid   the content id the cache names the blob by: the sha256 of an LFS file, else git's blob sha1
 * @param lfs   true when stored in LFS (then {@code oid} is a sha256 of the content)
 */
public record HubFile(String path, long size, String oid, boolean lfs) {
    public HubFile {
        if (!safePath(path)) throw new IllegalArgumentException("unsafe file path in the Hub's listing: '" + path + "'");
        if (size < 0) throw new IllegalArgumentException("negative size for " + path);
        if (oid == null || !oid.matches(lfs ? "[0-9a-f]{64}" : "[0-9a-f]{40}")) {
            throw new IllegalArgumentException("bad content id for " + path + ": '" + oid + "'");
        }
    }

    /** The file name without folders. */
    public String name() {
        return path.substring(path.lastIndexOf('/') + 1);
    }

    /**
     * A relative path that stays inside the snapshot folder whatever the server sent: no "..", no
     * absolute paths, no empty or "." segments, no backslashes or control characters.
     */
    static boolean safePath(String p) {
        if (p == null || p.isEmpty() || p.length() > 1024 || p.startsWith("/")) return false;
        for (String seg : p.split("/", -1)) {
            if (seg.isEmpty() || seg.equals(".") || seg.equals("..")) return false;
        }
        for (int i = 0; i < p.length(); i++) {
            char c = p.charAt(i);
            if (c < 0x20 || c == 0x7f || c == '\\' || c == ':') return false;
        }
        return true;
    }
}
