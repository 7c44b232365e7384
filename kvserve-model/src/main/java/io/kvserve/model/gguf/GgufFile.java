package io.kvserve.model.gguf;

import io.kvserve.kernels.GgmlType;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A GGUF file (versions 2 and 3), memory-mapped once through the FFM API; every tensor is a slice
 * of that mapping, so files larger than 2 GiB work. Every count, offset and size read from the file
 * is checked against the file size with exact arithmetic before it is used, so a corrupt or
 * truncated file fails with a {@link GgufFormatException} instead of an OutOfMemoryError or a hang.
 */
public final class GgufFile implements AutoCloseable {
    public static final int MAGIC = 0x46554747; // "GGUF" little endian
    public static final int DEFAULT_ALIGNMENT = 32;
    private static final int MAX_DIMS = 4;
    /** Longest metadata string accepted; real keys, tokens and chat templates are far shorter. */
    static final long MAX_STRING_BYTES = 64L << 20;
    /** Most elements of one metadata array; the largest real vocabularies have about 256 Ki tokens. */
    static final long MAX_ARRAY_LENGTH = 1L << 26;

    private final Path path;
    private final Arena arena;
    private final MemorySegment file;
    private final int version;
    private final int alignment;
    private final long dataStart;
    private final Map<String, Object> metadata;
    private final Map<String, GgufValueType> valueTypes;
    private final Map<String, GgufValueType> arrayTypes;
    private final Map<String, GgufTensor> tensors;

    private GgufFile(Path path, Arena arena, MemorySegment file, int version, int alignment, long dataStart,
                     Map<String, Object> metadata, Map<String, GgufValueType> valueTypes,
                     Map<String, GgufValueType> arrayTypes, Map<String, GgufTensor> tensors) {
        this.path = path;
        this.arena = arena;
        this.file = file;
        this.version = version;
        this.alignment = alignment;
        this.dataStart = dataStart;
        this.metadata = metadata;
        this.valueTypes = valueTypes;
        this.arrayTypes = arrayTypes;
        this.tensors = tensors;
    }

    /** Maps and parses a GGUF file; the caller closes it, which unmaps every tensor. */
    public static GgufFile open(Path path) throws IOException {
        if (!Files.exists(path)) throw new NoSuchFileException(path.toString(), null, "model file not found");
        if (Files.isDirectory(path)) throw new GgufFormatException(path + " is a directory, not a GGUF file");
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            MemorySegment seg = size == 0 ? MemorySegment.NULL.reinterpret(0) : ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            GgufFile f = parse(path, arena, seg);
            return f;
        } catch (RuntimeException | IOException e) {
            arena.close();
            throw e;
        }
    }

    private static GgufFile parse(Path path, Arena arena, MemorySegment seg) {
        Cursor c = new Cursor(path, seg);
        if (seg.byteSize() < 4) throw c.fail("file is " + seg.byteSize() + " bytes, too short for a GGUF header");
        int magic = c.u32("magic");
        if (magic != MAGIC) {
            String hint = (magic == 0x616b3432 || seg.byteSize() > 28) ? " (a llama2.c .bin checkpoint is read by its own loader; give it a .bin name)" : "";
            throw c.fail(String.format("bad magic 0x%08x, expected 0x%08x (\"GGUF\"): this is not a GGUF file%s", magic, MAGIC, hint));
        }
        int version = c.u32("version");
        if (version == 1) throw c.fail("GGUF version 1 is not supported (only 2 and 3): convert the model again with a current llama.cpp");
        int swapped = Integer.reverseBytes(version);
        if (Integer.compareUnsigned(version, 0x10000) >= 0 && swapped >= 1 && swapped <= 3) {
            throw c.fail("this is a big-endian GGUF file; only little-endian files are supported");
        }
        if (version != 2 && version != 3) throw c.fail("GGUF version " + Integer.toUnsignedString(version) + " is not supported (only 2 and 3): this file is from a newer or unknown writer");
        long tensorCount = c.u64("tensor count");
        long kvCount = c.u64("metadata count");
        // each tensor info takes at least 8 (name len) + 4 (n_dims) + 8 (one dim) + 4 (type) + 8 (offset) bytes
        if (tensorCount < 0 || tensorCount > c.remaining() / 32) throw c.fail("tensor count " + Long.toUnsignedString(tensorCount) + " cannot fit in the " + c.remaining() + " bytes left: the model is corrupted");
        if (kvCount < 0 || kvCount > c.remaining() / 12) throw c.fail("metadata count " + Long.toUnsignedString(kvCount) + " cannot fit in the " + c.remaining() + " bytes left: the model is corrupted");

        Map<String, Object> meta = new LinkedHashMap<>();
        Map<String, GgufValueType> valueTypes = new LinkedHashMap<>();
        Map<String, GgufValueType> arrayTypes = new LinkedHashMap<>();
        for (long i = 0; i < kvCount; i++) {
            long at = c.pos;
            String key = c.string("metadata key #" + i);
            if (meta.containsKey(key)) throw c.failAt(at, "duplicate metadata key '" + key + "'");
            int typeId = c.u32("type of '" + key + "'");
            GgufValueType type = GgufValueType.byId(typeId);
            if (type == null) throw c.failAt(at, "metadata '" + key + "' has unknown value type " + Integer.toUnsignedString(typeId));
            meta.put(key, c.value(type, key));
            valueTypes.put(key, type);
            if (type == GgufValueType.ARRAY) arrayTypes.put(key, c.lastArrayType);
        }

        int alignment = DEFAULT_ALIGNMENT;
        Object al = meta.get("general.alignment");
        if (al != null) {
            if (!(al instanceof Integer || al instanceof Long)) throw c.fail("general.alignment must be an integer, got " + al.getClass().getSimpleName());
            long a = ((Number) al).longValue();
            if (a <= 0 || a > (1 << 20) || Long.bitCount(a) != 1) throw c.fail("general.alignment " + a + " is not a power of two up to 1 MiB");
            alignment = (int) a;
        }

        record Info(String name, GgmlType type, long[] shape, long offset, long bytes, long infoAt) {}
        List<Info> infos = new ArrayList<>();
        Map<String, Boolean> names = new LinkedHashMap<>();
        for (long i = 0; i < tensorCount; i++) {
            long at = c.pos;
            String name = c.string("name of tensor #" + i);
            if (names.put(name, Boolean.TRUE) != null) throw c.failAt(at, "duplicate tensor name '" + name + "'");
            int nDims = c.u32("dimension count of '" + name + "'");
            if (nDims < 1 || nDims > MAX_DIMS) throw c.failAt(at, "tensor '" + name + "' has " + Integer.toUnsignedString(nDims) + " dimensions, expected 1 to " + MAX_DIMS);
            long[] shape = new long[nDims];
            long elements = 1;
            for (int d = 0; d < nDims; d++) {
                shape[d] = c.u64("dimension " + d + " of '" + name + "'");
                if (shape[d] <= 0) throw c.failAt(at, "tensor '" + name + "' has dimension " + d + " = " + Long.toUnsignedString(shape[d]) + ": every dimension must be at least 1");
                try {
                    elements = Math.multiplyExact(elements, shape[d]);
                } catch (ArithmeticException e) {
                    throw c.failAt(at, "tensor '" + name + "' has an element count that overflows 64 bits");
                }
            }
            int typeId = c.u32("type of '" + name + "'");
            GgmlType type = GgmlType.byId(typeId);
            if (type == null) throw c.failAt(at, "tensor '" + name + "' has unknown tensor type id " + Integer.toUnsignedString(typeId) + ": the file is corrupted or from a newer ggml");
            if (shape[0] % type.blockSize != 0) throw c.failAt(at, "tensor '" + name + "' of type " + type + " has row length " + shape[0] + ", not a multiple of the block size " + type.blockSize);
            long offset = c.u64("offset of '" + name + "'");
            if (offset < 0) throw c.failAt(at, "tensor '" + name + "' offset " + Long.toUnsignedString(offset) + " lies past the end of any file: the model is corrupted");
            if (offset % alignment != 0) throw c.failAt(at, "tensor '" + name + "' offset " + offset + " is not a multiple of the alignment " + alignment + ": the model is corrupted");
            long bytes;
            try {
                bytes = Math.multiplyExact(elements / type.blockSize, (long) type.typeSize);
            } catch (ArithmeticException e) {
                throw c.failAt(at, "tensor '" + name + "' byte size overflows 64 bits");
            }
            infos.add(new Info(name, type, shape, offset, bytes, at));
        }
        long afterInfos = c.pos;
        long dataStart = alignUp(afterInfos, alignment);
        long fileSize = seg.byteSize();
        Map<String, GgufTensor> tensors = new LinkedHashMap<>();
        for (Info t : infos) {
            long start, end;
            try {
                start = Math.addExact(dataStart, t.offset);
                end = Math.addExact(start, t.bytes);
            } catch (ArithmeticException e) {
                throw c.failAt(t.infoAt, "tensor '" + t.name + "' offset overflows 64 bits: the model is corrupted");
            }
            if (end > fileSize) {
                throw new GgufFormatException(String.format("%s: tensor '%s' [offset %d, %d bytes] ends past the file (size %d): the model is corrupted or incomplete",
                        path, t.name, start, t.bytes, fileSize));
            }
            tensors.put(t.name, new GgufTensor(t.name, t.type, t.shape, start, seg.asSlice(start, t.bytes)));
        }
        // two tensors sharing bytes means a corrupt offset (llama.cpp even requires them packed in order)
        List<Info> byOffset = new ArrayList<>(infos);
        byOffset.sort(java.util.Comparator.comparingLong(Info::offset));
        for (int i = 1; i < byOffset.size(); i++) {
            Info prev = byOffset.get(i - 1), next = byOffset.get(i);
            if (prev.offset + prev.bytes > next.offset) {
                throw c.failAt(next.infoAt, String.format("tensor '%s' [offset %d] overlaps tensor '%s' [offset %d, %d bytes]: the model is corrupted",
                        next.name, next.offset, prev.name, prev.offset, prev.bytes));
            }
        }
        return new GgufFile(path, arena, seg, version, alignment, dataStart,
                Collections.unmodifiableMap(meta), Collections.unmodifiableMap(valueTypes),
                Collections.unmodifiableMap(arrayTypes), Collections.unmodifiableMap(tensors));
    }

    static long alignUp(long v, long a) {
        return Math.addExact(v, (a - v % a) % a);
    }

    public Path path() { return path; }
    public int version() { return version; }
    public int alignment() { return alignment; }
    public long dataStart() { return dataStart; }
    public long fileSize() { return file.byteSize(); }
    public Map<String, Object> metadata() { return metadata; }
    public Map<String, GgufTensor> tensors() { return tensors; }

    public GgufTensor tensor(String name) {
        return tensors.get(name);
    }

    /** The tensor, or a clear error naming the missing tensor. */
    public GgufTensor requireTensor(String name) {
        GgufTensor t = tensors.get(name);
        if (t == null) throw new GgufFormatException(path + ": required tensor '" + name + "' is missing: the model is incomplete or of another architecture");
        return t;
    }

    /** The on-disk type of a metadata value, or {@code null} if the key is absent. */
    public GgufValueType valueType(String key) {
        return valueTypes.get(key);
    }

    /** The element type of an array metadata value, or {@code null} if the key is absent or not an array. */
    public GgufValueType arrayElementType(String key) {
        return arrayTypes.get(key);
    }

    public boolean has(String key) {
        return metadata.containsKey(key);
    }

    public String getString(String key) {
        return typed(key, String.class);
    }

    public String getString(String key, String dflt) {
        return metadata.containsKey(key) ? getString(key) : dflt;
    }

    public long getLong(String key) {
        Object v = metadata.get(key);
        if (v == null) throw new GgufFormatException(path + ": required metadata '" + key + "' is missing");
        if (v instanceof Integer || v instanceof Long || v instanceof Short || v instanceof Byte) return ((Number) v).longValue();
        throw new GgufFormatException(path + ": metadata '" + key + "' must be an integer, got " + v.getClass().getSimpleName());
    }

    public int getInt(String key) {
        long v = getLong(key);
        if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) throw new GgufFormatException(path + ": metadata '" + key + "' = " + v + " is out of range");
        return (int) v;
    }

    public int getInt(String key, int dflt) {
        return metadata.containsKey(key) ? getInt(key) : dflt;
    }

    public float getFloat(String key, float dflt) {
        Object v = metadata.get(key);
        if (v == null) return dflt;
        if (v instanceof Number n) return n.floatValue();
        throw new GgufFormatException(path + ": metadata '" + key + "' must be a number, got " + v.getClass().getSimpleName());
    }

    public boolean getBool(String key, boolean dflt) {
        Object v = metadata.get(key);
        if (v == null) return dflt;
        if (v instanceof Boolean b) return b;
        throw new GgufFormatException(path + ": metadata '" + key + "' must be a bool, got " + v.getClass().getSimpleName());
    }

    public String[] getStringArray(String key) {
        return metadata.containsKey(key) ? typed(key, String[].class) : null;
    }

    public float[] getFloatArray(String key) {
        return metadata.containsKey(key) ? typed(key, float[].class) : null;
    }

    /** An integer array of any width, widened to int (token types, per-layer head counts). */
    public int[] getIntArray(String key) {
        Object v = metadata.get(key);
        if (v == null) return null;
        if (v instanceof int[] a) return a;
        if (v instanceof long[] a) {
            int[] r = new int[a.length];
            for (int i = 0; i < a.length; i++) r[i] = Math.toIntExact(a[i]);
            return r;
        }
        if (v instanceof byte[] a) {
            int[] r = new int[a.length];
            for (int i = 0; i < a.length; i++) r[i] = a[i];
            return r;
        }
        if (v instanceof short[] a) {
            int[] r = new int[a.length];
            for (int i = 0; i < a.length; i++) r[i] = a[i];
            return r;
        }
        throw new GgufFormatException(path + ": metadata '" + key + "' must be an integer array, got " + v.getClass().getSimpleName());
    }

    private <T> T typed(String key, Class<T> type) {
        Object v = metadata.get(key);
        if (v == null) throw new GgufFormatException(path + ": required metadata '" + key + "' is missing");
        if (!type.isInstance(v)) throw new GgufFormatException(path + ": metadata '" + key + "' must be " + type.getSimpleName() + ", got " + v.getClass().getSimpleName());
        return type.cast(v);
    }

    @Override
    public void close() {
        arena.close();
    }

    /** A bounds-checked reader over the mapping; every failure names the file and the byte offset. */
    private static final class Cursor {
        private final Path path;
        private final MemorySegment seg;
        long pos;
        GgufValueType lastArrayType;
        private final java.nio.charset.CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);

        Cursor(Path path, MemorySegment seg) {
            this.path = path;
            this.seg = seg;
        }

        long remaining() {
            return seg.byteSize() - pos;
        }

        GgufFormatException fail(String msg) {
            return failAt(pos, msg);
        }

        GgufFormatException failAt(long at, String msg) {
            return new GgufFormatException(path + " (at byte " + at + "): " + msg);
        }

        private void need(long n, String what) {
            if (n < 0 || n > remaining()) {
                throw fail(what + " needs " + (n < 0 ? Long.toUnsignedString(n) : n) + " bytes but the file ends after " + remaining() + ": the model is corrupted or incomplete");
            }
        }

        int u8(String what) { need(1, what); return seg.get(ValueLayout.JAVA_BYTE, pos++) & 0xff; }
        short i16(String what) { need(2, what); short v = seg.get(ValueLayout.JAVA_SHORT_UNALIGNED, pos); pos += 2; return v; }
        int u32(String what) { need(4, what); int v = seg.get(ValueLayout.JAVA_INT_UNALIGNED, pos); pos += 4; return v; }
        long u64(String what) { need(8, what); long v = seg.get(ValueLayout.JAVA_LONG_UNALIGNED, pos); pos += 8; return v; }

        String string(String what) {
            long at = pos;
            long len = u64("length of " + what);
            if (len < 0 || len > MAX_STRING_BYTES) {
                throw failAt(at, "string length " + Long.toUnsignedString(len) + " of " + what + " exceeds the " + MAX_STRING_BYTES + "-byte limit: the model is corrupted");
            }
            need(len, what);
            byte[] b = new byte[(int) len];
            MemorySegment.copy(seg, ValueLayout.JAVA_BYTE, pos, b, 0, (int) len);
            pos += len;
            try {
                return utf8.decode(java.nio.ByteBuffer.wrap(b)).toString();
            } catch (CharacterCodingException e) {
                // tokens of some vocabularies are raw bytes; keep them losslessly as ISO-8859-1 would lose meaning, so replace
                return new String(b, StandardCharsets.UTF_8);
            }
        }

        Object value(GgufValueType type, String key) {
            return switch (type) {
                case UINT8 -> u8(key);
                case INT8 -> (int) (byte) u8(key);
                case UINT16 -> i16(key) & 0xffff;
                case INT16 -> (int) i16(key);
                case UINT32 -> u32(key) & 0xffffffffL;
                case INT32 -> u32(key);
                case FLOAT32 -> Float.intBitsToFloat(u32(key));
                case BOOL -> {
                    int b = u8(key);
                    if (b > 1) throw fail("bool '" + key + "' has value " + b + ", expected 0 or 1");
                    yield b == 1;
                }
                case STRING -> string("value of '" + key + "'");
                case UINT64 -> u64(key);
                case INT64 -> u64(key);
                case FLOAT64 -> Double.longBitsToDouble(u64(key));
                case ARRAY -> array(key);
            };
        }

        private Object array(String key) {
            int typeId = u32("element type of '" + key + "'");
            GgufValueType et = GgufValueType.byId(typeId);
            if (et == null) throw fail("array '" + key + "' has unknown element type " + Integer.toUnsignedString(typeId));
            if (et == GgufValueType.ARRAY) throw fail("array '" + key + "' nests arrays, which kvserve does not read");
            lastArrayType = et;
            long n = u64("length of array '" + key + "'");
            if (n < 0 || n > remaining() / et.minBytes) {
                throw fail("array '" + key + "' claims " + Long.toUnsignedString(n) + " elements, more than the " + remaining() + " bytes left can hold: the model is corrupted");
            }
            if (n > MAX_ARRAY_LENGTH) {
                throw fail("array '" + key + "' claims " + n + " elements, more than the " + MAX_ARRAY_LENGTH + " kvserve accepts: the model is corrupted");
            }
            int len = (int) n;
            switch (et) {
                case STRING -> {
                    String[] a = new String[len];
                    for (int i = 0; i < len; i++) a[i] = string("element " + i + " of '" + key + "'");
                    return a;
                }
                case FLOAT32 -> {
                    float[] a = new float[len];
                    MemorySegment.copy(seg, ValueLayout.JAVA_FLOAT_UNALIGNED, pos, a, 0, len);
                    pos += 4L * len;
                    return a;
                }
                case INT32, UINT32 -> {
                    int[] a = new int[len];
                    MemorySegment.copy(seg, ValueLayout.JAVA_INT_UNALIGNED, pos, a, 0, len);
                    pos += 4L * len;
                    return a;
                }
                case INT64, UINT64 -> {
                    long[] a = new long[len];
                    MemorySegment.copy(seg, ValueLayout.JAVA_LONG_UNALIGNED, pos, a, 0, len);
                    pos += 8L * len;
                    return a;
                }
                case INT8, UINT8, BOOL -> {
                    byte[] a = new byte[len];
                    MemorySegment.copy(seg, ValueLayout.JAVA_BYTE, pos, a, 0, len);
                    pos += len;
                    return a;
                }
                case INT16, UINT16 -> {
                    short[] a = new short[len];
                    MemorySegment.copy(seg, ValueLayout.JAVA_SHORT_UNALIGNED, pos, a, 0, len);
                    pos += 2L * len;
                    return a;
                }
                case FLOAT64 -> {
                    double[] a = new double[len];
                    MemorySegment.copy(seg, ValueLayout.JAVA_DOUBLE_UNALIGNED, pos, a, 0, len);
                    pos += 8L * len;
                    return a;
                }
                default -> throw fail("array '" + key + "' element type " + et + " is not readable");
            }
        }
    }
}
