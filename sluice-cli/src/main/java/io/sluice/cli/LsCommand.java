package io.sluice.cli;

import io.sluice.cli.hub.GgufPicker;
import io.sluice.cli.hub.HubCache;
import io.sluice.cli.hub.HubSettings;
import picocli.CommandLine.Command;

import java.io.IOException;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;

@Command(name = "ls", description = "List the GGUF models in the Hugging Face hub cache (HF_HUB_CACHE, else ~/.cache/huggingface/hub): name to use with -hf, size, path.")
final class LsCommand implements Callable<Integer> {
    private static final DateTimeFormatter WHEN = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm").withZone(ZoneId.systemDefault());

    record Row(String name, long size, long modified, String path) {
    }

    @Override
    public Integer call() throws IOException {
        HubCache cache = HubSettings.fromEnvironment(null).cache();
        List<Row> rows = rows(cache);
        if (rows.isEmpty()) {
            System.err.println("sluice: no models in " + cache.root() + " (get one with: sluice pull REPO[:QUANT])");
            return 0;
        }
        int w = Math.max(4, rows.stream().mapToInt(r -> r.name().length()).max().orElse(4));
        System.out.printf("%-" + w + "s  %10s  %-16s  %s%n", "NAME", "SIZE", "MODIFIED", "PATH");
        for (Row r : rows) {
            System.out.printf("%-" + w + "s  %10s  %-16s  %s%n", r.name(), Progress.bytes(r.size()), WHEN.format(Instant.ofEpochMilli(r.modified())), r.path());
        }
        return 0;
    }

    /** One row per model: a GGUF file, or the first part of a split model with the size of all its parts. */
    static List<Row> rows(HubCache cache) throws IOException {
        List<HubCache.Entry> entries = cache.files();
        List<Row> rows = new ArrayList<>();
        for (HubCache.Entry e : entries) {
            if (!GgufPicker.isModel(e.path())) continue;
            Matcher m = GgufPicker.SPLIT.matcher(e.path());
            long size = e.size();
            if (m.matches()) {
                if (Integer.parseInt(m.group(2)) != 1) continue;
                for (HubCache.Entry o : entries) {
                    Matcher om = GgufPicker.SPLIT.matcher(o.path());
                    if (o != e && o.repo().equals(e.repo()) && o.commit().equals(e.commit()) && om.matches() && om.group(1).equals(m.group(1))) size += o.size();
                }
            }
            String q = GgufPicker.quantOf(e.path().substring(e.path().lastIndexOf('/') + 1));
            rows.add(new Row(e.repo() + ":" + (q != null ? q : e.path()), size, e.modifiedMillis(), e.file().toString()));
        }
        return rows;
    }
}
