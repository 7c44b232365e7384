package io.kvserve.bench.jmh;

import io.kvserve.kernels.GgmlType;
import io.kvserve.kernels.KernelSupport;
import io.kvserve.kernels.Kernels;
import io.kvserve.kernels.ScalarKernels;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.SplittableRandom;

/**
 * A quick companion of {@link MatmulBenchmark} for tuning on a shared machine: reports the best wall
 * time and the thread CPU time per call (CPU time ignores the time the thread waited for a core).
 * Usage: {@code java --add-modules jdk.incubator.vector -cp benchmarks.jar io.kvserve.bench.jmh.MatmulProbe TYPE ROWSxCOLS BATCH [vector|scalar] [seconds]}
 */
public final class MatmulProbe {
    /**
     * The weights copied into a temporary file mapped read-only in a shared arena, as a model's are ({@code -Dprobe.mapped=true}):
     * C2 treats slices of a mapped segment differently from native ones (it did not scalar-replace them in
     * the model), so a kernel tuned on native memory alone can mislead.
     */
    static MemorySegment mapped(MemorySegment w, Arena arena) {
        try {
            java.nio.file.Path f = java.nio.file.Files.createTempFile("kvserve-probe", ".bin");
            f.toFile().deleteOnExit();
            try (var ch = java.nio.channels.FileChannel.open(f, java.nio.file.StandardOpenOption.READ, java.nio.file.StandardOpenOption.WRITE)) {
                MemorySegment m = ch.map(java.nio.channels.FileChannel.MapMode.READ_WRITE, 0, w.byteSize(), arena);
                MemorySegment.copy(w, 0, m, 0, w.byteSize());
                // read-only in a shared arena, as GgufFile maps a model
                return ch.map(java.nio.channels.FileChannel.MapMode.READ_ONLY, 0, w.byteSize(), Arena.ofShared());
            }
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /**
     * Runs the matmul of other weight types first ({@code -Dprobe.poly=true}), so that the kernel call sites
     * see several formats, on native memory; with {@code -Dprobe.polySameType=true} only the measured format
     * (on native memory, before measuring it on mapped memory with {@code -Dprobe.mapped=true}): the
     * Vector API's segment intrinsics then see two segment classes (see docs/KERNELS.md).
     */
    static void warmOtherTypes(GgmlType measured, int cols, int batch) {
        boolean sameTypeOnly = Boolean.getBoolean("probe.polySameType");
        for (GgmlType o : new GgmlType[] {GgmlType.F32, GgmlType.F16, GgmlType.Q8_0, GgmlType.Q4_0}) {
            if (sameTypeOnly ? o != measured : o == measured) continue;
            try (Arena a = Arena.ofConfined()) {
                int rows = 64;
                long rb = o.bytesFor(cols);
                MemorySegment w = a.allocate(rb * rows, 64);
                float[] row = new float[cols];
                for (int r = 0; r < rows; r++) Kernels.quantizeRow(o, row, 0, w, r * rb, cols);
                float[] x = new float[batch * cols], out = new float[batch * rows];
                for (long until = System.nanoTime() + 1_500_000_000L; System.nanoTime() < until; ) Kernels.matmul(o, w, 0, cols, x, batch, out, rows, 0, rows);
            }
        }
    }

    public static void main(String[] args) {
        GgmlType t = GgmlType.valueOf(args[0]);
        String[] rc = args[1].split("x");
        int rows = Integer.parseInt(rc[0]), cols = Integer.parseInt(rc[1]);
        int batch = Integer.parseInt(args[2]);
        KernelSupport k = args.length > 3 && args[3].equals("scalar") ? new ScalarKernels() : Kernels.impl();
        double seconds = args.length > 4 ? Double.parseDouble(args[4]) : 5;
        long rowBytes = t.bytesFor(cols), matrixBytes = rowBytes * rows;
        int copies = (int) Math.max(1, MatmulBenchmark.STREAM_BYTES / matrixBytes);
        var rnd = new SplittableRandom(42);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment w = arena.allocate(matrixBytes * copies, 64);
            float[] row = new float[cols];
            for (int r = 0; r < rows; r++) {
                for (int i = 0; i < cols; i++) row[i] = (float) rnd.nextGaussian() * 0.02f;
                Kernels.quantizeRow(t, row, 0, w, r * rowBytes, cols);
            }
            for (int c = 1; c < copies; c++) MemorySegment.copy(w, 0, w, c * matrixBytes, matrixBytes);
            if (Boolean.getBoolean("probe.mapped")) w = mapped(w, arena);
            float[] x = new float[batch * cols], out = new float[batch * rows];
            for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
            if (Boolean.getBoolean("probe.poly")) warmOtherTypes(t, cols, batch);
            // warm the JIT on a 16-row slice first: interpreted Vector API code takes seconds per full call
            for (long until = System.nanoTime() + Long.getLong("probe.warmMillis", 8000) * 1_000_000L; System.nanoTime() < until; ) {
                k.matmul(t, w, 0, cols, x, batch, out, rows, 0, Math.min(rows, 16));
            }
            ThreadMXBean mx = ManagementFactory.getThreadMXBean();
            long end = System.nanoTime() + (long) (seconds * 1e9), warm = System.nanoTime() + (long) (seconds * 0.1e9);
            long best = Long.MAX_VALUE, cpuSum = 0, n = 0;
            int next = 0;
            while (System.nanoTime() < end) {
                long c0 = mx.getCurrentThreadCpuTime(), t0 = System.nanoTime();
                k.matmul(t, w, next * matrixBytes, cols, x, batch, out, rows, 0, rows);
                long t1 = System.nanoTime(), c1 = mx.getCurrentThreadCpuTime();
                next = next + 1 == copies ? 0 : next + 1;
                if (t0 > warm) {
                    best = Math.min(best, t1 - t0);
                    cpuSum += c1 - c0;
                    n++;
                }
            }
            double cpu = (double) cpuSum / n;
            double flop = 2.0 * rows * cols * batch;
            System.out.printf("%s %s %s batch=%d: best %.3f ms (%.1f GFLOP/s, %.2f GB/s), cpu %.3f ms (%.1f GFLOP/s, %.2f GB/s), %d calls%n",
                    k.name(), t, args[1], batch, best / 1e6, flop / best, matrixBytes / (double) best, cpu / 1e6, flop / cpu, matrixBytes / cpu, n);
        }
    }
}
