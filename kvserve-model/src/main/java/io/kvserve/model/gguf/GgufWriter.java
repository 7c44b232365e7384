package io.kvserve.model.gguf;

import io.kvserve.kernels.GgmlType;
import io.kvserve.kernels.Kernels;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Writes a GGUF version 3 file: metadata of every value type, tensor infos, alignment padding, then
 * the tensor data. Tensors are not held in memory: each is produced row by row by a callback when
 * {@link #write} runs and streamed to the file in chunks of a few MiB, so a multi-GB model needs
 * only a bounded heap. Rows given as floats are encoded with {@link Kernels#quantizeRow}, in
 * parallel over rows when {@link #threads} is above 1.
 *
 * <p>Metadata values use the Java types {@link GgufFile#metadata()} returns, so a value read from
 * one file can be written to another with the type {@link GgufFile#valueType} reports.
 */
public final class GgufWriter {
    /** Produces row {@code row} (0-based, rows counted over all dimensions but the first) as floats; called from several threads at once for different rows. */
    @FunctionalInterface
    public interface RowSource {
        void fill(long row, float[] dst);
    }

    /** Produces row {@code row} already encoded: {@code dst} is exactly one row's bytes. Called from one thread. */
    @FunctionalInterface
    public interface RawRowSource {
        void fill(long row, MemorySegment dst);
    }

    /** Told after every chunk how many tensor-data bytes of all tensors have been written. */
    @FunctionalInterface
    public interface Progress {
        void update(String tensor, long bytesDone, long bytesTotal);
    }

    private static final int MAX_DIMS = 4;
    private static final long CHUNK_BYTES = 4L << 20;

    private record Value(GgufValueType type, GgufValueType elementType, Object value) {}

    private record Pending(String name, GgmlType type, long[] shape, long rows, long rowBytes, long bytes,
                           RowSource floats, RawRowSource raw) {}

    private final Map<String, Value> metadata = new LinkedHashMap<>();
    private final List<Pending> tensors = new ArrayList<>();
    private final Set<String> tensorNames = new HashSet<>();
    private int threads = 1;

    /** Number of threads encoding rows (default 1). */
    public GgufWriter threads(int n) {
        if (n < 1) throw new IllegalArgumentException("threads must be at least 1, got " + n);
        this.threads = n;
        return this;
    }

    // ---- metadata ----

    public GgufWriter putString(String key, String v) { return put(key, GgufValueType.STRING, v); }
    public GgufWriter putBool(String key, boolean v) { return put(key, GgufValueType.BOOL, v); }
    public GgufWriter putUInt8(String key, int v) { return put(key, GgufValueType.UINT8, v); }
    public GgufWriter putInt8(String key, int v) { return put(key, GgufValueType.INT8, v); }
    public GgufWriter putUInt16(String key, int v) { return put(key, GgufValueType.UINT16, v); }
    public GgufWriter putInt16(String key, int v) { return put(key, GgufValueType.INT16, v); }
    public GgufWriter putUInt32(String key, long v) { return put(key, GgufValueType.UINT32, v); }
    public GgufWriter putInt32(String key, int v) { return put(key, GgufValueType.INT32, v); }
    public GgufWriter putUInt64(String key, long v) { return put(key, GgufValueType.UINT64, v); }
    public GgufWriter putInt64(String key, long v) { return put(key, GgufValueType.INT64, v); }
    public GgufWriter putFloat32(String key, float v) { return put(key, GgufValueType.FLOAT32, v); }
    public GgufWriter putFloat64(String key, double v) { return put(key, GgufValueType.FLOAT64, v); }
    public GgufWriter putStringArray(String key, String... v) { return putArray(key, GgufValueType.STRING, v); }
    public GgufWriter putInt32Array(String key, int... v) { return putArray(key, GgufValueType.INT32, v); }
    public GgufWriter putFloat32Array(String key, float... v) { return putArray(key, GgufValueType.FLOAT32, v); }

    /**
     * A scalar value: a {@link Number} for the numeric types (range-checked), a Boolean for BOOL, a
     * String for STRING. Replaces an earlier value of the same key.
     */
    public GgufWriter put(String key, GgufValueType type, Object v) {
        checkKey(key);
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(v, "value");
        if (type == GgufValueType.ARRAY) throw new IllegalArgumentException("metadata '" + key + "': use putArray for arrays");
        metadata.put(key, new Value(type, null, checkScalar(key, type, v)));
        return this;
    }

    /**
     * An array value. The Java array type must match the element type as {@link GgufFile} returns it:
     * String[] for STRING, float[] FLOAT32, double[] FLOAT64, int[] INT32/UINT32, long[] INT64/UINT64,
     * short[] INT16/UINT16, byte[] INT8/UINT8/BOOL.
     */
    public GgufWriter putArray(String key, GgufValueType elementType, Object array) {
        checkKey(key);
        Objects.requireNonNull(elementType, "elementType");
        Objects.requireNonNull(array, "array");
        Class<?> expected = switch (elementType) {
            case STRING -> String[].class;
            case FLOAT32 -> float[].class;
            case FLOAT64 -> double[].class;
            case INT32, UINT32 -> int[].class;
            case INT64, UINT64 -> long[].class;
            case INT16, UINT16 -> short[].class;
            case INT8, UINT8, BOOL -> byte[].class;
            case ARRAY -> throw new IllegalArgumentException("metadata '" + key + "': nested arrays are not supported");
        };
        if (array.getClass() != expected) {
            throw new IllegalArgumentException("metadata '" + key + "': an array of " + elementType + " must be a " + expected.getSimpleName() + ", got " + array.getClass().getSimpleName());
        }
        if (array instanceof String[] a) for (String s : a) Objects.requireNonNull(s, "null string in array '" + key + "'");
        metadata.put(key, new Value(GgufValueType.ARRAY, elementType, array));
        return this;
    }

    /** Copies one metadata value, with its on-disk type, from an open file. */
    public GgufWriter copy(GgufFile from, String key) {
        GgufValueType t = from.valueType(key);
        if (t == null) throw new IllegalArgumentException(from.path() + " has no metadata '" + key + "'");
        Object v = from.metadata().get(key);
        return t == GgufValueType.ARRAY ? putArray(key, from.arrayElementType(key), v) : put(key, t, v);
    }

    public boolean has(String key) {
        return metadata.containsKey(key);
    }

    private static void checkKey(String key) {
        if (key == null || key.isEmpty()) throw new IllegalArgumentException("metadata key must not be empty");
    }

    private static Object checkScalar(String key, GgufValueType type, Object v) {
        return switch (type) {
            case STRING -> {
                if (!(v instanceof String)) throw wrongType(key, type, v);
                yield v;
            }
            case BOOL -> {
                if (!(v instanceof Boolean)) throw wrongType(key, type, v);
                yield v;
            }
            case FLOAT32 -> {
                if (!(v instanceof Number n)) throw wrongType(key, type, v);
                yield n.floatValue();
            }
            case FLOAT64 -> {
                if (!(v instanceof Number n)) throw wrongType(key, type, v);
                yield n.doubleValue();
            }
            case UINT64, INT64 -> {
                if (!(v instanceof Integer || v instanceof Long || v instanceof Short || v instanceof Byte)) throw wrongType(key, type, v);
                yield ((Number) v).longValue();
            }
            default -> {
                if (!(v instanceof Integer || v instanceof Long || v instanceof Short || v instanceof Byte)) throw wrongType(key, type, v);
                long x = ((Number) v).longValue();
                long lo = switch (type) {
                    case INT8 -> Byte.MIN_VALUE;
                    case INT16 -> Short.MIN_VALUE;
                    case INT32 -> Integer.MIN_VALUE;
                    default -> 0;
                };
                long hi = switch (type) {
                    case UINT8 -> 0xff;
                    case INT8 -> Byte.MAX_VALUE;
                    case UINT16 -> 0xffff;
                    case INT16 -> Short.MAX_VALUE;
                    case UINT32 -> 0xffffffffL;
                    default -> Integer.MAX_VALUE;
                };
                if (x < lo || x > hi) throw new IllegalArgumentException("metadata '" + key + "' = " + x + " is out of range for " + type + " [" + lo + ", " + hi + "]");
                yield x;
            }
        };
    }

    private static IllegalArgumentException wrongType(String key, GgufValueType type, Object v) {
        return new IllegalArgumentException("metadata '" + key + "' of type " + type + " cannot hold a " + v.getClass().getSimpleName());
    }

    // ---- tensors ----

    /**
     * A tensor whose rows are produced as floats and encoded to {@code type}. {@code shape} is in
     * ggml order: {@code shape[0]} is the row length (columns).
     */
    public GgufWriter addTensor(String name, GgmlType type, long[] shape, RowSource rows) {
        Objects.requireNonNull(rows, "rows");
        if (!type.supported) throw new IllegalArgumentException("tensor '" + name + "': kvserve cannot encode type " + type);
        return add(name, type, shape, rows, null);
    }

    /** A tensor whose rows are produced already encoded (for example copied from another file). */
    public GgufWriter addRawTensor(String name, GgmlType type, long[] shape, RawRowSource rows) {
        Objects.requireNonNull(rows, "rows");
        return add(name, type, shape, null, rows);
    }

    private GgufWriter add(String name, GgmlType type, long[] shape, RowSource floats, RawRowSource raw) {
        if (name == null || name.isEmpty()) throw new IllegalArgumentException("tensor name must not be empty");
        Objects.requireNonNull(type, "type");
        if (shape.length < 1 || shape.length > MAX_DIMS) throw new IllegalArgumentException("tensor '" + name + "' has " + shape.length + " dimensions, expected 1 to " + MAX_DIMS);
        long rows = 1;
        for (int d = 0; d < shape.length; d++) {
            if (shape[d] < 1) throw new IllegalArgumentException("tensor '" + name + "' has dimension " + d + " = " + shape[d] + ", must be at least 1");
            if (d > 0) rows = Math.multiplyExact(rows, shape[d]);
        }
        if (shape[0] > Integer.MAX_VALUE - 8) throw new IllegalArgumentException("tensor '" + name + "' row length " + shape[0] + " is too long");
        if (shape[0] % type.blockSize != 0) {
            throw new IllegalArgumentException("tensor '" + name + "' of type " + type + " has row length " + shape[0] + ", not a multiple of the block size " + type.blockSize);
        }
        if (!tensorNames.add(name)) throw new IllegalArgumentException("duplicate tensor name '" + name + "'");
        long rowBytes = type.bytesFor(shape[0]);
        tensors.add(new Pending(name, type, shape.clone(), rows, rowBytes, Math.multiplyExact(rows, rowBytes), floats, raw));
        return this;
    }

    /** The alignment the file will use: {@code general.alignment} if set, else 32. */
    public int alignment() {
        Value v = metadata.get("general.alignment");
        if (v == null) return GgufFile.DEFAULT_ALIGNMENT;
        if (v.type == GgufValueType.STRING || v.type == GgufValueType.BOOL || v.type == GgufValueType.ARRAY
                || v.type == GgufValueType.FLOAT32 || v.type == GgufValueType.FLOAT64) {
            throw new IllegalArgumentException("general.alignment must be an integer, got " + v.type);
        }
        long a = ((Number) v.value).longValue();
        if (a <= 0 || a > (1 << 20) || Long.bitCount(a) != 1) throw new IllegalArgumentException("general.alignment " + a + " is not a power of two up to 1 MiB");
        return (int) a;
    }

    /** Total bytes of tensor data, padding included. */
    public long dataBytes() {
        long a = alignment(), total = 0;
        for (Pending t : tensors) total = GgufFile.alignUp(Math.addExact(total, t.bytes), a);
        return total;
    }

    // ---- writing ----

    /** Writes the file (first to a sibling {@code .part} file, moved into place when complete). */
    public void write(Path out) throws IOException {
        write(out, null);
    }

    public void write(Path out, Progress progress) throws IOException {
        int alignment = alignment();
        checkEncodable();
        ByteBuffer header = header(alignment);
        Path part = out.resolveSibling(out.getFileName() + ".part");
        boolean done = false;
        ExecutorService pool = threads > 1 ? Executors.newFixedThreadPool(threads - 1, daemon("gguf-encoder")) : null;
        // one thread writes chunk i while the others encode chunk i + 1 into the second buffer
        ExecutorService io = Executors.newSingleThreadExecutor(daemon("gguf-writer"));
        try (FileChannel ch = FileChannel.open(part, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING);
             Arena arena = Arena.ofShared()) {
            OrderedWrites writes = new OrderedWrites(ch, io);
            writes.submit(header);
            long total = dataBytes(), doneBytes = 0;
            if (!tensors.isEmpty()) writes.zeros(GgufFile.alignUp(header.limit(), alignment) - header.limit());
            long maxRowBytes = 0;
            for (Pending t : tensors) maxRowBytes = Math.max(maxRowBytes, t.rowBytes);
            long bufBytes = Math.max(CHUNK_BYTES, maxRowBytes);
            MemorySegment[] bufs = tensors.isEmpty() ? new MemorySegment[0]
                    : new MemorySegment[]{arena.allocate(bufBytes, 64), arena.allocate(bufBytes, 64)};
            int cur = 0;
            for (Pending t : tensors) {
                long rowsPerChunk = Math.max(1, bufBytes / t.rowBytes);
                for (long r0 = 0; r0 < t.rows; r0 += rowsPerChunk) {
                    long r1 = Math.min(t.rows, r0 + rowsPerChunk);
                    MemorySegment chunk = bufs[cur].asSlice(0, (r1 - r0) * t.rowBytes);
                    fill(t, r0, r1, chunk, pool);
                    writes.submit(chunk.asByteBuffer());
                    cur ^= 1;
                    doneBytes += chunk.byteSize();
                    if (progress != null) progress.update(t.name, doneBytes, total);
                }
                long pad = GgufFile.alignUp(t.bytes, alignment) - t.bytes;
                writes.zeros(pad);
                doneBytes += pad;
            }
            writes.await();
            long expected = tensors.isEmpty() ? header.limit() : Math.addExact(GgufFile.alignUp(header.limit(), alignment), total);
            if (ch.position() != expected) throw new IllegalStateException("wrote " + ch.position() + " bytes, expected " + expected);
            ch.force(false);
            done = true;
        } finally {
            if (pool != null) pool.shutdownNow();
            io.shutdownNow();
            if (!done) Files.deleteIfExists(part);
        }
        Files.move(part, out, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** Fails before anything is written if this build cannot encode one of the tensor types. */
    private void checkEncodable() {
        Set<GgmlType> seen = new HashSet<>();
        for (Pending t : tensors) {
            if (t.floats == null || !seen.add(t.type)) continue;
            float[] block = new float[t.type.blockSize];
            try (Arena a = Arena.ofConfined()) {
                Kernels.quantizeRow(t.type, block, 0, a.allocate(t.type.typeSize), 0, block.length);
            } catch (RuntimeException e) {
                throw new IllegalArgumentException("cannot encode tensor '" + t.name + "' as " + t.type + " in this build (" + e.getMessage() + "); choose another type", e);
            }
        }
    }

    private static java.util.concurrent.ThreadFactory daemon(String name) {
        return r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            return t;
        };
    }

    /** Channel writes in submission order on one thread; at most one in flight. */
    private static final class OrderedWrites {
        private final FileChannel ch;
        private final ExecutorService io;
        private Future<?> pending;

        OrderedWrites(FileChannel ch, ExecutorService io) {
            this.ch = ch;
            this.io = io;
        }

        void submit(ByteBuffer bb) throws IOException {
            await();
            pending = io.submit(() -> {
                writeFully(ch, bb);
                return null;
            });
        }

        void zeros(long n) throws IOException {
            if (n > 0) submit(ByteBuffer.allocate((int) n));
        }

        void await() throws IOException {
            if (pending == null) return;
            try {
                pending.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while writing", e);
            } catch (ExecutionException e) {
                if (e.getCause() instanceof IOException ioe) throw ioe;
                if (e.getCause() instanceof RuntimeException re) throw re;
                throw new IOException(e.getCause());
            } finally {
                pending = null;
            }
        }
    }

    private void fill(Pending t, long r0, long r1, MemorySegment chunk, ExecutorService pool) throws IOException {
        if (t.raw != null) {
            for (long r = r0; r < r1; r++) t.raw.fill(r, chunk.asSlice((r - r0) * t.rowBytes, t.rowBytes));
            return;
        }
        int parts = pool == null ? 1 : (int) Math.min(threads, r1 - r0);
        if (parts <= 1) {
            encodeRows(t, r0, r1, r0, chunk);
            return;
        }
        List<Future<?>> futures = new ArrayList<>(parts - 1);
        long n = r1 - r0;
        for (int p = 1; p < parts; p++) {
            long a = r0 + n * p / parts, b = r0 + n * (p + 1) / parts;
            futures.add(pool.submit(() -> encodeRows(t, a, b, r0, chunk)));
        }
        encodeRows(t, r0, r0 + n / parts, r0, chunk);
        for (Future<?> f : futures) {
            try {
                f.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while writing tensor '" + t.name + "'", e);
            } catch (ExecutionException e) {
                Throwable c = e.getCause();
                if (c instanceof RuntimeException re) throw re;
                if (c instanceof Error err) throw err;
                throw new UncheckedIOException(new IOException(c));
            }
        }
    }

    private static void encodeRows(Pending t, long a, long b, long chunkRow0, MemorySegment chunk) {
        int cols = (int) t.shape[0];
        float[] row = new float[cols];
        for (long r = a; r < b; r++) {
            t.floats.fill(r, row);
            Kernels.quantizeRow(t.type, row, 0, chunk, (r - chunkRow0) * t.rowBytes, cols);
        }
    }

    private ByteBuffer header(int alignment) {
        LeBuffer b = new LeBuffer();
        b.u32(GgufFile.MAGIC);
        b.u32(3);
        b.u64(tensors.size());
        b.u64(metadata.size());
        for (Map.Entry<String, Value> e : metadata.entrySet()) {
            b.string(e.getKey());
            Value v = e.getValue();
            b.u32(v.type.id());
            if (v.type == GgufValueType.ARRAY) {
                b.u32(v.elementType.id());
                array(b, v.elementType, v.value);
            } else {
                scalar(b, v.type, v.value);
            }
        }
        long offset = 0;
        for (Pending t : tensors) {
            b.string(t.name);
            b.u32(t.shape.length);
            for (long d : t.shape) b.u64(d);
            b.u32(t.type.id);
            b.u64(offset);
            offset = GgufFile.alignUp(Math.addExact(offset, t.bytes), alignment);
        }
        return b.done();
    }

    private static void scalar(LeBuffer b, GgufValueType type, Object v) {
        switch (type) {
            case UINT8, INT8 -> b.u8(((Number) v).intValue());
            case BOOL -> b.u8((Boolean) v ? 1 : 0);
            case UINT16, INT16 -> b.u16(((Number) v).intValue());
            case UINT32, INT32 -> b.u32(((Number) v).intValue());
            case FLOAT32 -> b.u32(Float.floatToRawIntBits(((Number) v).floatValue()));
            case UINT64, INT64 -> b.u64(((Number) v).longValue());
            case FLOAT64 -> b.u64(Double.doubleToRawLongBits(((Number) v).doubleValue()));
            case STRING -> b.string((String) v);
            case ARRAY -> throw new IllegalStateException();
        }
    }

    private static void array(LeBuffer b, GgufValueType et, Object v) {
        switch (v) {
            case String[] a -> { b.u64(a.length); for (String s : a) b.string(s); }
            case float[] a -> { b.u64(a.length); for (float x : a) b.u32(Float.floatToRawIntBits(x)); }
            case double[] a -> { b.u64(a.length); for (double x : a) b.u64(Double.doubleToRawLongBits(x)); }
            case int[] a -> { b.u64(a.length); for (int x : a) b.u32(x); }
            case long[] a -> { b.u64(a.length); for (long x : a) b.u64(x); }
            case short[] a -> { b.u64(a.length); for (short x : a) b.u16(x); }
            case byte[] a -> { b.u64(a.length); for (byte x : a) b.u8(x); }
            default -> throw new IllegalStateException("array of " + et + " as " + v.getClass());
        }
    }

    private static void writeFully(FileChannel ch, ByteBuffer bb) throws IOException {
        while (bb.hasRemaining()) ch.write(bb);
    }

    /** A growable little-endian byte buffer for the header. */
    private static final class LeBuffer {
        private ByteBuffer bb = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);

        private void ensure(int n) {
            if (bb.remaining() >= n) return;
            long cap = Math.max((long) bb.capacity() * 2, (long) bb.position() + n);
            if (cap > Integer.MAX_VALUE - 8) throw new IllegalArgumentException("GGUF header larger than 2 GiB");
            ByteBuffer nb = ByteBuffer.allocate((int) cap).order(ByteOrder.LITTLE_ENDIAN);
            bb.flip();
            nb.put(bb);
            bb = nb;
        }

        void u8(int v) { ensure(1); bb.put((byte) v); }
        void u16(int v) { ensure(2); bb.putShort((short) v); }
        void u32(int v) { ensure(4); bb.putInt(v); }
        void u64(long v) { ensure(8); bb.putLong(v); }

        void string(String s) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            u64(b.length);
            ensure(b.length);
            bb.put(b);
        }

        ByteBuffer done() {
            return bb.flip();
        }
    }
}
