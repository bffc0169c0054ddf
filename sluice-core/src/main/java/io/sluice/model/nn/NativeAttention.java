package io.sluice.model.nn;

import io.sluice.gguf.GGMLType;
import io.sluice.tensor.NativeKernels;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The binding of src/main/c/attention.c's tile kernel ({@code sl_attention}): one call attends a
 * tile of one sequence's query tokens x the query heads of one KV head over a range of KV
 * positions. Its integer arguments travel in an int array whose indices are the C side's.
 */
final class NativeAttention {
    static final int C_TYPE = 0, C_DIM = 1, C_BS = 2, C_SLOTS = 3, C_QSTRIDE = 4, C_QOFF = 5, C_GROUP = 6, C_NTOK = 7,
            C_WINDOW = 8, C_FROM = 9, C_TO = 10, C_KTILE = 11, C_VTILE = 12, C_PARTIAL = 13, C_SCRATCH = 14, C_ROW0 = 15,
            C_POFF = 16, C_COUNT = 17;

    private static final MethodHandle ATTENTION, SCRATCH;

    static {
        MethodHandle att = null, scratch = null;
        var fn = NativeKernels.symbol("sl_attention");
        var sz = NativeKernels.symbol("sl_attention_scratch");
        // The query blocks are sluice_native.c's 72-byte Q8_0 activations; a library disagreeing is not used.
        if (fn.isPresent() && sz.isPresent() && NativeKernels.activationBytes(GGMLType.Q8_0, 32) == 72) {
            Linker linker = Linker.nativeLinker();
            Linker.Option critical = Linker.Option.critical(true);
            att = linker.downcallHandle(fn.get(), FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS,
                    ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS), critical);
            scratch = linker.downcallHandle(sz.get(), FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_INT), critical);
        }
        ATTENTION = att;
        SCRATCH = scratch;
    }

    private NativeAttention() {
    }

    /** Whether the kernel runs here: the library has it and the CPU its instruction set (AVX2 + FMA + F16C, or AVX512). */
    static boolean available() {
        return ATTENTION != null && NativeKernels.level() >= 1;
    }

    /** Whether the kernel takes this KV layout: every type, any head size for f32/f16. */
    static boolean supports(GGMLType type, int headDim) {
        return available() && (type == GGMLType.F32 || type == GGMLType.F16 || headDim % 32 == 0);
    }

    /** Bytes of per-thread scratch for {@code rows} query rows of {@code dim} values. */
    static long scratchBytes(int rows, int dim) {
        try {
            return (long) SCRATCH.invokeExact(rows, dim);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** One tile (see attention.c's sl_attention); returns its status: 0, -1 bad arguments, -2 no kernel for this CPU. */
    static int attend(int[] cfg, float[] fcfg, float[] q, float[] out, float[] partial, MemorySegment k, MemorySegment v,
                      int[] table, int[] rows, int[] positions, float[] sinks, byte[] scratch) {
        MemorySegment p = partial == null ? MemorySegment.NULL : MemorySegment.ofArray(partial);
        MemorySegment s = sinks == null ? MemorySegment.NULL : MemorySegment.ofArray(sinks);
        try {
            return (int) ATTENTION.invokeExact(MemorySegment.ofArray(cfg), MemorySegment.ofArray(fcfg), MemorySegment.ofArray(q),
                    MemorySegment.ofArray(out), p, k, v, MemorySegment.ofArray(table), MemorySegment.ofArray(rows),
                    MemorySegment.ofArray(positions), s, MemorySegment.ofArray(scratch));
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }
}
