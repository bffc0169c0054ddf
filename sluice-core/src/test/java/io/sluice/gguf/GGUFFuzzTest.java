package io.sluice.gguf;

import io.sluice.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.reflect.Array;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Thousands of mutated and truncated copies of valid files (self-written ones, and the real
 * fixtures when present): each must either load, after which every tensor slice and metadata value
 * can be touched and dumped without error, or fail with a GGUFException naming the file. Any other
 * outcome, a hang included (per-file timeout), fails the test. Fixed seeds make failures repeatable.
 */
class GGUFFuzzTest {
    private static final Duration PER_FILE = Duration.ofSeconds(10);
    private static final long[] EXTREMES = {
            0, 1, -1, 2, 3, 4, 5, 7, 8, 9, 12, 13, 16, 31, 32, 33, 64, 255, 256, 0x7fff, 0xffff, 0x10000,
            Integer.MAX_VALUE, 0x8000_0000L, 0xffff_ffffL, 1L << 32, 1L << 40, 1L << 62, Long.MAX_VALUE,
            Long.MIN_VALUE, Long.MAX_VALUE - 31, -32, Integer.MIN_VALUE};

    @TempDir
    Path dir;

    @Test
    void mutatedSelfWrittenFiles() throws IOException {
        List<byte[]> bases = selfWrittenBases();
        Stats stats = new Stats();
        long deadline = System.nanoTime() + 25_000_000_000L;
        for (int i = 0; i < bases.size(); i++) {
            fuzz("self-written #" + i, bases.get(i), new Random(1234 + i), 1200, deadline, stats);
        }
        stats.report("self-written");
        assertTrue(stats.loaded > 100 && stats.failed > 1000, "fuzzing should exercise both outcomes: " + stats);
        assertTrue(stats.kinds.size() >= 20, "mutations should hit many different checks, hit: " + stats.kinds);
    }

    @Test
    void mutatedFixtureFiles() throws IOException {
        List<Path> files = List.of(Fixtures.model("stories260K-f16.gguf"), Fixtures.model("tiny-qwen2-q4_k_m.gguf"),
                Fixtures.model("tiny-llama-q8_0.gguf"), Fixtures.vocab("ggml-vocab-llama-spm.gguf"),
                Fixtures.vocab("ggml-vocab-bert-bge.gguf"));
        Stats stats = new Stats();
        long deadline = System.nanoTime() + 25_000_000_000L;
        for (int i = 0; i < files.size(); i++) {
            fuzz(files.get(i).getFileName().toString(), Files.readAllBytes(files.get(i)), new Random(99 + i), 300, deadline, stats);
        }
        stats.report("fixtures");
        assertTrue(stats.loaded > 20 && stats.failed > 300, "fuzzing should exercise both outcomes: " + stats);
    }

    /** Small files covering every value type, nesting, alignments, several tensor types, and no tensors at all. */
    static List<byte[]> selfWrittenBases() throws IOException {
        Random r = new Random(7);
        List<byte[]> bases = new ArrayList<>();

        GGUFWriter a = new GGUFWriter();
        GGUFRoundTripTest.everyType().forEach(a::put);
        a.addTensor("f32", GGMLType.F32, new long[]{8, 2}, GGUFRoundTripTest.randomBytes(r, 64))
                .addTensor("q8", GGMLType.Q8_0, new long[]{32, 3}, GGUFRoundTripTest.randomBytes(r, 102))
                .addTensor("q4k", GGMLType.Q4_K, new long[]{256}, GGUFRoundTripTest.randomBytes(r, 144))
                .addTensor("f16", GGMLType.F16, new long[]{3, 1, 1, 2}, GGUFRoundTripTest.randomBytes(r, 12))
                .addTensor("empty", GGMLType.F32, new long[]{0}, new byte[0])
                .addTensor("i32", GGMLType.I32, new long[]{5}, GGUFRoundTripTest.randomBytes(r, 20));
        bases.add(bytes(a));

        String[] tokens = new String[300];
        float[] scores = new float[300];
        int[] types = new int[300];
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] = i < 3 ? new String[]{"<unk>", "<s>", "</s>"}[i] : "▁tok" + Integer.toString(i, 36);
            scores[i] = -i;
            types[i] = i < 3 ? 3 : 1;
        }
        GGUFWriter b = new GGUFWriter().alignment(64).putString("general.architecture", "llama")
                .putU32("llama.block_count", 1).putF32("llama.attention.layer_norm_rms_epsilon", 1e-5f)
                .putArray("tokenizer.ggml.tokens", tokens).putArray("tokenizer.ggml.scores", scores)
                .putArray("tokenizer.ggml.token_type", types)
                .addTensor("token_embd.weight", GGMLType.Q8_0, new long[]{32, 10}, GGUFRoundTripTest.randomBytes(r, 340))
                .addTensor("output_norm.weight", GGMLType.F32, new long[]{32}, GGUFRoundTripTest.randomBytes(r, 128))
                .addTensor("blk.0.ffn_up.weight", GGMLType.Q6_K, new long[]{256, 2}, GGUFRoundTripTest.randomBytes(r, 420));
        bases.add(bytes(b));

        GGUFValue deep = GGUFValue.array(GGUFValueType.STRING, new String[]{"leaf", ""});
        for (int i = 0; i < 12; i++) deep = GGUFValue.array(GGUFValueType.ARRAY, new GGUFValue[]{deep, GGUFValue.array(GGUFValueType.INT8, new byte[i])});
        GGUFWriter c = new GGUFWriter().alignment(8).put("deep", deep).putBool("flag", true)
                .addTensor("bf16", GGMLType.BF16, new long[]{4}, GGUFRoundTripTest.randomBytes(r, 8))
                .addTensor("q4_0", GGMLType.Q4_0, new long[]{32, 1, 2}, GGUFRoundTripTest.randomBytes(r, 36));
        bases.add(bytes(c));

        bases.add(bytes(new GGUFWriter().putString("only", "metadata").putArray("xs", new int[]{1, 2, 3})));
        return bases;
    }

    private static byte[] bytes(GGUFWriter w) throws IOException {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        w.write(out);
        return out.toByteArray();
    }

    private void fuzz(String label, byte[] base, Random r, int iterations, long deadline, Stats stats) throws IOException {
        Fields fields = Fields.of(base);
        Path p = dir.resolve("mutant.gguf");
        for (int i = 0; i < iterations; i++) {
            if (System.nanoTime() > deadline) {
                System.err.println("GGUFFuzzTest: time budget reached in " + label + " after " + i + " mutants");
                return;
            }
            StringBuilder how = new StringBuilder();
            byte[] m = mutate(base, fields, r, how);
            Files.write(p, m);
            String what = label + " mutant " + i + " [" + how + "]";
            String outcome = assertTimeoutPreemptively(PER_FILE, () -> openAndTouch(p, what), () -> what + " hung");
            stats.count(outcome);
        }
    }

    /** "loaded", or the failure's message with numbers blanked (so kinds of failure can be counted). */
    private static String openAndTouch(Path p, String what) {
        try (GGUFFile f = GGUFFile.open(p)) {
            touch(f);
            return "loaded";
        } catch (GGUFException e) {
            if (!e.getMessage().startsWith(p + ": ")) throw new AssertionError(what + ": message does not name the file: " + e.getMessage());
            return e.getMessage().substring(p.toString().length()).replaceAll("'[^']*'", "'…'").replaceAll("[0-9]+", "N");
        } catch (Throwable t) {
            throw new AssertionError(what + ": expected a load or a GGUFException, got " + t, t);
        }
    }

    private static long touch(GGUFFile f) {
        long h = 0;
        for (var e : f.metadata().entrySet()) h += e.getKey().hashCode() + touch(e.getValue());
        for (TensorInfo t : f.tensors().values()) {
            MemorySegment s = f.data(t);
            long n = s.byteSize();
            assertEquals(t.byteSize(), n);
            for (long o = 0; o < n; o += 4096) h += s.get(ValueLayout.JAVA_BYTE, o);
            if (n > 0) h += s.get(ValueLayout.JAVA_BYTE, n - 1);
            h += t.rows() + t.shape().length();
        }
        return h + GGUFDump.dump(f).length();
    }

    private static long touch(GGUFValue v) {
        if (v.isArray()) {
            long h = v.length();
            for (int i = 0; i < v.length(); i++) {
                Object e = Array.get(v.value(), i);
                h += e instanceof GGUFValue g ? touch(g) : e.hashCode();
            }
            return h + GGUFDump.value(v).length();
        }
        return switch (v.type()) {
            case STRING -> v.asString().length();
            case BOOL -> v.asBoolean() ? 1 : 0;
            default -> v.asLong() + (long) v.asDouble();
        };
    }

    private static byte[] mutate(byte[] base, Fields fields, Random r, StringBuilder how) {
        byte[] m = base.clone();
        int ops = r.nextInt(4) == 0 ? 2 + r.nextInt(2) : 1;
        for (int op = 0; op < ops && m.length > 0; op++) {
            if (!how.isEmpty()) how.append("; ");
            int kind = r.nextInt(10);
            if (kind < 2) { // bit flips
                int k = 1 + r.nextInt(4);
                for (int j = 0; j < k; j++) {
                    int at = position(m.length, fields.headerEnd, r);
                    int bit = r.nextInt(8);
                    m[at] ^= (byte) (1 << bit);
                    how.append("flip ").append(at).append('.').append(bit).append(' ');
                }
            } else if (kind < 4) { // an extreme value anywhere
                int width = r.nextBoolean() ? 4 : 8;
                if (m.length < width) continue;
                int at = Math.min(position(m.length, fields.headerEnd, r), m.length - width);
                long v = EXTREMES[r.nextInt(EXTREMES.length)];
                put(m, at, width, v);
                how.append("put").append(width * 8).append(' ').append(at).append('=').append(v);
            } else if (kind < 8) { // a header field: counts, lengths, types, dims, offsets, values
                Field f = fields.list.get(r.nextInt(fields.list.size()));
                if (f.at + f.width > m.length) continue;
                long old = get(m, f.at, f.width);
                long v = switch (r.nextInt(4)) {
                    case 0 -> old + (r.nextBoolean() ? 1 : -1);
                    case 1 -> old + (r.nextBoolean() ? 32 : -32) * (1L << r.nextInt(4));
                    case 2 -> old ^ (1L << r.nextInt(f.width * 8));
                    default -> EXTREMES[r.nextInt(EXTREMES.length)];
                };
                put(m, f.at, f.width, v);
                how.append(f.name).append('@').append(f.at).append(": ").append(old).append("->").append(v);
            } else { // truncation
                int at = position(m.length, fields.headerEnd + 64, r);
                m = java.util.Arrays.copyOf(m, at);
                how.append("truncate ").append(at);
            }
        }
        return m;
    }

    /** Mostly inside the header, where the structure is; sometimes anywhere. */
    private static int position(int length, int headerEnd, Random r) {
        return r.nextInt(10) < 8 ? r.nextInt(Math.min(length, Math.max(1, headerEnd))) : r.nextInt(length);
    }

    private static long get(byte[] b, int at, int width) {
        ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        return switch (width) {
            case 1 -> b[at];
            case 2 -> bb.getShort(at);
            case 4 -> bb.getInt(at);
            default -> bb.getLong(at);
        };
    }

    private static void put(byte[] b, int at, int width, long v) {
        ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        switch (width) {
            case 1 -> b[at] = (byte) v;
            case 2 -> bb.putShort(at, (short) v);
            case 4 -> bb.putInt(at, (int) v);
            default -> bb.putLong(at, v);
        }
    }

    record Field(String name, int at, int width) {
    }

    /** The positions of a valid file's structural fields, found by walking it; the data section is left out. */
    static final class Fields {
        final List<Field> list = new ArrayList<>();
        final ByteBuffer bb;
        int pos;
        int headerEnd;

        private Fields(byte[] b) {
            bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        }

        static Fields of(byte[] b) {
            Fields f = new Fields(b);
            f.walk();
            return f;
        }

        private long field(String name, int width) {
            list.add(new Field(name, pos, width));
            long v = switch (width) {
                case 1 -> bb.get(pos);
                case 2 -> bb.getShort(pos);
                case 4 -> bb.getInt(pos);
                default -> bb.getLong(pos);
            };
            pos += width;
            return v;
        }

        private void skip(long n) {
            pos = Math.toIntExact(pos + n);
        }

        private void walk() {
            field("magic", 4);
            field("version", 4);
            long nTensors = field("n_tensors", 8);
            long nKv = field("n_kv", 8);
            for (long i = 0; i < nKv; i++) {
                skip(field("key_len", 8));
                value((int) field("value_type", 4), true);
            }
            for (long i = 0; i < nTensors; i++) {
                skip(field("name_len", 8));
                int nDims = (int) field("n_dims", 4);
                for (int d = 0; d < nDims; d++) field("dim", 8);
                field("ggml_type", 4);
                field("offset", 8);
            }
            headerEnd = pos;
        }

        /** Records the fields of a value; for long arrays only the first few elements are recorded. */
        private void value(int type, boolean record) {
            GGUFValueType t = GGUFValueType.fromId(type);
            if (t == GGUFValueType.STRING) {
                long len = record ? field("str_len", 8) : bb.getLong(pos);
                if (!record) pos += 8;
                skip(len);
            } else if (t == GGUFValueType.ARRAY) {
                int et = record ? (int) field("array_type", 4) : bb.getInt(pos);
                if (!record) pos += 4;
                long n = record ? field("array_len", 8) : bb.getLong(pos);
                if (!record) pos += 8;
                GGUFValueType e = GGUFValueType.fromId(et);
                if (e.size > 0) {
                    for (long i = 0; i < Math.min(n, 2); i++) value(et, record);
                    skip(e.size * (n - Math.min(n, 2)));
                } else {
                    for (long i = 0; i < n; i++) value(et, record && i < 3);
                }
            } else if (record) {
                field("value", t.size);
            } else {
                skip(t.size);
            }
        }
    }

    static final class Stats {
        int loaded;
        int failed;
        final Set<String> kinds = new TreeSet<>();

        void count(String outcome) {
            if (outcome.equals("loaded")) {
                loaded++;
            } else {
                failed++;
                kinds.add(outcome);
            }
        }

        void report(String what) {
            System.err.println("GGUFFuzzTest " + what + ": " + this + ", " + kinds.size() + " kinds of failure");
        }

        @Override
        public String toString() {
            return loaded + " loaded, " + failed + " failed cleanly";
        }
    }
}
