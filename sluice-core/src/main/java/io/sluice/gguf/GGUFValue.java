package io.sluice.gguf;

import java.util.Arrays;

/**
 * One metadata value with its declared type, so a file can be written back exactly.
 * Scalars hold Byte/Short/Integer/Long/Float/Double/Boolean/String (unsigned types stored in the
 * signed Java type of the same width); arrays hold a primitive array of that width, String[],
 * or GGUFValue[] for arrays of arrays (each element an ARRAY value).
 */
public record GGUFValue(GGUFValueType type, GGUFValueType elementType, Object value) {

    public static GGUFValue of(GGUFValueType type, Object value) {
        return new GGUFValue(type, null, value);
    }

    public static GGUFValue array(GGUFValueType elementType, Object javaArray) {
        return new GGUFValue(GGUFValueType.ARRAY, elementType, javaArray);
    }

    public static GGUFValue string(String s) { return of(GGUFValueType.STRING, s); }
    public static GGUFValue u32(long v) { return of(GGUFValueType.UINT32, (int) v); }
    public static GGUFValue i32(int v) { return of(GGUFValueType.INT32, v); }
    public static GGUFValue f32(float v) { return of(GGUFValueType.FLOAT32, v); }
    public static GGUFValue bool(boolean v) { return of(GGUFValueType.BOOL, v); }

    /** A scalar of one of the eight integer types. */
    public boolean isInteger() {
        return switch (type) {
            case UINT8, INT8, UINT16, INT16, UINT32, INT32, UINT64, INT64 -> true;
            default -> false;
        };
    }

    public boolean isArray() {
        return type == GGUFValueType.ARRAY;
    }

    /** Any integer type (unsigned read as unsigned) or bool as a long. */
    public long asLong() {
        return switch (type) {
            case UINT8 -> Byte.toUnsignedLong((Byte) value);
            case INT8 -> (Byte) value;
            case UINT16 -> Short.toUnsignedLong((Short) value);
            case INT16 -> (Short) value;
            case UINT32 -> Integer.toUnsignedLong((Integer) value);
            case INT32 -> (Integer) value;
            case UINT64, INT64 -> (Long) value;
            case BOOL -> ((Boolean) value) ? 1 : 0;
            case FLOAT32 -> (long) (float) (Float) value;
            case FLOAT64 -> (long) (double) (Double) value;
            default -> throw new IllegalStateException("not a number: " + type);
        };
    }

    public int asInt() {
        long v = asLong();
        if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) throw new IllegalStateException("value out of int range: " + v);
        return (int) v;
    }

    public double asDouble() {
        return switch (type) {
            case FLOAT32 -> (Float) value;
            case FLOAT64 -> (Double) value;
            default -> asLong();
        };
    }

    public boolean asBoolean() {
        return type == GGUFValueType.BOOL ? (Boolean) value : asLong() != 0;
    }

    public String asString() {
        if (type != GGUFValueType.STRING) throw new IllegalStateException("not a string: " + type);
        return (String) value;
    }

    /** Array length, for ARRAY values. */
    public int length() {
        if (!isArray()) throw new IllegalStateException("not an array: " + type);
        return java.lang.reflect.Array.getLength(value);
    }

    /** The array itself (not a copy), for STRING arrays. */
    public String[] asStringArray() { return (String[]) arrayOf(String[].class, "STRING"); }
    /** The array itself (not a copy), for FLOAT32 arrays. */
    public float[] asFloatArray() { return (float[]) arrayOf(float[].class, "FLOAT32"); }
    /** The array itself (not a copy), for INT32 and UINT32 arrays. */
    public int[] asIntArray() { return (int[]) arrayOf(int[].class, "INT32 or UINT32"); }
    /** The array itself (not a copy), for INT8 and UINT8 arrays. */
    public byte[] asByteArray() { return (byte[]) arrayOf(byte[].class, "INT8 or UINT8"); }

    private Object arrayOf(Class<?> javaType, String wanted) {
        if (!javaType.isInstance(value)) {
            throw new IllegalStateException("not an array of " + wanted + ": " + (isArray() ? "array of " + elementType : type));
        }
        return value;
    }

    /** Any integer or bool array as int[] (tokenizer token types may be stored as any of them). */
    public int[] toIntArray() {
        if (elementType == null) throw new IllegalStateException("not an array: " + type);
        return switch (value) {
            case int[] a -> a.clone();
            case byte[] a -> { int[] r = new int[a.length]; for (int i = 0; i < a.length; i++) r[i] = elementType == GGUFValueType.UINT8 ? a[i] & 0xFF : a[i]; yield r; }
            case short[] a -> { int[] r = new int[a.length]; for (int i = 0; i < a.length; i++) r[i] = elementType == GGUFValueType.UINT16 ? a[i] & 0xFFFF : a[i]; yield r; }
            case long[] a -> { int[] r = new int[a.length]; for (int i = 0; i < a.length; i++) r[i] = Math.toIntExact(a[i]); yield r; }
            case boolean[] a -> { int[] r = new int[a.length]; for (int i = 0; i < a.length; i++) r[i] = a[i] ? 1 : 0; yield r; }
            default -> throw new IllegalStateException("not an integer array: " + elementType);
        };
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof GGUFValue(GGUFValueType t, GGUFValueType et, Object v))) return false;
        return t == type && et == elementType && Arrays.deepEquals(new Object[]{value}, new Object[]{v});
    }

    @Override
    public int hashCode() {
        return Arrays.deepHashCode(new Object[]{type, elementType, value});
    }

    @Override
    public String toString() {
        if (!isArray()) return type == GGUFValueType.STRING ? '"' + (String) value + '"' : String.valueOf(value);
        int n = length();
        StringBuilder sb = new StringBuilder("[").append(elementType).append(" x ").append(n).append(": ");
        for (int i = 0; i < Math.min(n, 8); i++) {
            if (i > 0) sb.append(", ");
            Object e = java.lang.reflect.Array.get(value, i);
            sb.append(e instanceof String s ? '"' + s + '"' : e);
        }
        if (n > 8) sb.append(", ...");
        return sb.append(']').toString();
    }
}
