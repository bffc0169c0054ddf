package io.sluice.cli.hub;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Chooses the GGUF file(s) of a quantization from a repository listing, as {@code llama-server -hf} does:
 * the tag matched case-insensitively in the file name (followed by '.' or '-', after a non-alphanumeric),
 * projector/imatrix/MTP files skipped, and for a model split into {@code -00001-of-0000N.gguf} parts,
 * every part. Without a tag: Q4_K_M, else Q8_0, else the first model file.
 */
public final class GgufPicker {
    public static final Pattern SPLIT = Pattern.compile("(.*)-(\\d{5})-of-(\\d{5})\\.gguf", Pattern.CASE_INSENSITIVE);
    /** Quantization names as they appear in file names, for listing what a repository offers. */
    private static final Pattern QUANT_IN_NAME = Pattern.compile("(?i)(?<![a-z0-9])((?:UD-)?(?:I?Q\\d(?:_[A-Z0-9]+)*|BF16|F16|F32|MXFP4(?:_MOE)?|TQ\\d_\\d))(?=[.-])");

    private GgufPicker() {
    }

    /** The files to download for {@code quant} (null = the default), the first part first. */
    public static List<HubFile> pick(String repo, List<HubFile> files, String quant) throws HubException {
        List<String> tags = quant != null ? List.of(quant) : List.of(HubRef.DEFAULT_QUANT, "Q8_0");
        for (String tag : tags) {
            for (HubFile f : files) {
                if (isModel(f.path()) && firstPart(f.path()) && matches(f.path(), tag)) return withParts(repo, files, f);
            }
        }
        if (quant == null) {
            for (HubFile f : files) if (isModel(f.path()) && firstPart(f.path())) return withParts(repo, files, f);
            throw new HubException(repo + " has no GGUF model files" + (files.isEmpty() ? "" : " (it has " + files.size() + " other files)"));
        }
        Set<String> offered = quants(files);
        throw new HubException(repo + " has no GGUF file for '" + quant + "'"
                + (offered.isEmpty() ? "" : "; it offers: " + String.join(", ", offered)));
    }

    /**
     * Whether a file is the one a tag names: the tag in its path, case-insensitive, after a non-alphanumeric
     * and followed by '.', '-' or '/' ("Q4_K_M" names "x-Q4_K_M.gguf" and "Q4_K_M/x-00001-of-00002.gguf", not
     * "x-Q4_K_M_L.gguf"); or the tag is the file's whole name.
     */
    public static boolean matches(String path, String tag) {
        String name = path.substring(path.lastIndexOf('/') + 1);
        if (name.equalsIgnoreCase(tag) || path.equalsIgnoreCase(tag)) return true;
        return Pattern.compile("(?i)(?:^|[^a-z0-9])" + Pattern.quote(tag) + "[./-]").matcher(path).find();
    }

    /** The quantization tags found in a listing's model file names, in listing order. */
    public static Set<String> quants(List<HubFile> files) {
        Set<String> out = new LinkedHashSet<>();
        for (HubFile f : files) {
            if (!isModel(f.path())) continue;
            String q = quantOf(f.name());
            if (q != null) out.add(q);
        }
        return out;
    }

    /** The quantization tag in a file name ("Q4_K_M" in "qwen2.5-0.5b-instruct-q4_k_m.gguf"), upper-cased; null if none. */
    public static String quantOf(String fileName) {
        Matcher m = QUANT_IN_NAME.matcher(fileName);
        String last = null;
        while (m.find()) last = m.group(1); // the tag is near the end: "Llama-3-8B-Q4_K_M" has no earlier match, "Q8-Model-Q4_0" takes Q4_0
        return last == null ? null : last.toUpperCase(Locale.ROOT);
    }

    /** A GGUF file holding model weights (not a vision projector, an importance matrix or an MTP head). */
    public static boolean isModel(String path) {
        String name = path.substring(path.lastIndexOf('/') + 1).toLowerCase(Locale.ROOT);
        return name.endsWith(".gguf") && !name.contains("mmproj") && !name.contains("imatrix") && !name.contains("mtp-");
    }

    private static boolean firstPart(String path) {
        Matcher m = SPLIT.matcher(path);
        return !m.matches() || Integer.parseInt(m.group(2)) == 1;
    }

    private static List<HubFile> withParts(String repo, List<HubFile> files, HubFile first) throws HubException {
        Matcher m = SPLIT.matcher(first.path());
        if (!m.matches()) return List.of(first);
        String prefix = m.group(1);
        int count = Integer.parseInt(m.group(3));
        if (count < 1) throw new HubException(first.path() + ": a split of 0 parts");
        List<HubFile> parts = new ArrayList<>();
        for (HubFile f : files) {
            Matcher o = SPLIT.matcher(f.path());
            if (o.matches() && o.group(1).equals(prefix) && Integer.parseInt(o.group(3)) == count) parts.add(f);
        }
        parts.sort(Comparator.comparing(HubFile::path));
        for (int i = 0; i < count; i++) {
            String want = String.format("%s-%05d-of-%05d.gguf", prefix, i + 1, count);
            if (i >= parts.size() || !parts.get(i).path().equalsIgnoreCase(want)) {
                throw new HubException(repo + ": part " + (i + 1) + " of " + count + " of " + prefix + " is missing from the repository");
            }
        }
        return List.copyOf(parts.subList(0, count));
    }
}
