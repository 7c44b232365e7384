package io.kvserve.bench.jmh;

import io.kvserve.kernels.GgmlType;
import io.kvserve.kernels.KernelSupport;
import io.kvserve.kernels.Kernels;
import io.kvserve.kernels.ScalarKernels;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * One thread's share of a matrix product at real model dimensions, scalar vs vector.
 * Shapes are rows x cols of Llama-3.2-1B (2048x2048 q/o, 512x2048 k/v, 8192x2048 gate/up,
 * 2048x8192 down) and SmolLM2-135M (576x576, 1536x576). batch 1 is decode, 64 is prefill.
 *
 * <p>The weights are replicated until they exceed {@value #STREAM_BYTES} bytes and each invocation
 * uses the next copy, so decode reads them from DRAM as a real model does, not from L3.
 * GFLOP/s = 2 * rows * cols * batch * ops/s; weight GB/s = rowBytes * rows * ops/s.
 * K-quants: add their names to {@code type} once their kernels exist.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xmx2g"})
public class MatmulBenchmark {
    static final long STREAM_BYTES = 160L << 20;
    static final long WARM_NANOS = Long.getLong("kvserve.bench.warmMillis", 6000) * 1_000_000L;

    @Param({"Q8_0", "Q4_0", "F16", "F32"})
    public String type;

    @Param({"2048x2048", "512x2048", "8192x2048", "2048x8192", "576x576", "1536x576"})
    public String shape;

    @Param({"1", "64"})
    public int batch;

    @Param({"vector", "scalar"})
    public String impl;

    private KernelSupport kernels;
    private GgmlType t;
    private int rows, cols;
    private Arena arena;
    private MemorySegment weights;
    private long matrixBytes;
    private int copies, next;
    private float[] x, out;

    @Setup(Level.Trial)
    public void setUp() {
        t = GgmlType.valueOf(type);
        String[] rc = shape.split("x");
        rows = Integer.parseInt(rc[0]);
        cols = Integer.parseInt(rc[1]);
        kernels = impl.equals("scalar") ? new ScalarKernels() : Kernels.impl();
        if (impl.equals("vector") && !kernels.name().startsWith("panama")) {
            throw new IllegalStateException("vector benchmark but Kernels chose " + kernels.name() + ": run with --add-modules jdk.incubator.vector");
        }
        var rnd = new SplittableRandom(42);
        long rowBytes = t.bytesFor(cols);
        matrixBytes = rowBytes * rows;
        copies = (int) Math.max(1, STREAM_BYTES / matrixBytes);
        arena = Arena.ofShared();
        weights = arena.allocate(matrixBytes * copies, 64);
        float[] row = new float[cols];
        for (int r = 0; r < rows; r++) {
            for (int k = 0; k < cols; k++) row[k] = (float) rnd.nextGaussian() * 0.02f;
            Kernels.quantizeRow(t, row, 0, weights, r * rowBytes, cols);
        }
        for (int c = 1; c < copies; c++) MemorySegment.copy(weights, 0, weights, c * matrixBytes, matrixBytes);
        x = new float[batch * cols];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
        out = new float[batch * rows];
        // Interpreted Vector API code takes seconds per full call, so a 1 s warmup iteration would
        // measure the interpreter: compile the kernels first on a 16-row slice.
        for (long until = System.nanoTime() + WARM_NANOS; System.nanoTime() < until; ) {
            kernels.matmul(t, weights, 0, cols, x, batch, out, rows, 0, Math.min(rows, 16));
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        arena.close();
    }

    @Benchmark
    public float matmul() {
        long off = next * matrixBytes;
        next = next + 1 == copies ? 0 : next + 1;
        kernels.matmul(t, weights, off, cols, x, batch, out, rows, 0, rows);
        return out[0];
    }
}
