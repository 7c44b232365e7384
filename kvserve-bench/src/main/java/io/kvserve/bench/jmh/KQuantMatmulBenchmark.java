package io.kvserve.bench.jmh;

import io.kvserve.kernels.GgmlType;
import io.kvserve.kernels.KernelSupport;
import io.kvserve.kernels.ScalarKernels;
import io.kvserve.kernels.panama.PanamaKQuant;
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
 * K-quant matrix products, scalar specification vs Vector API, single thread, on Llama-sized
 * shapes (rows x cols): 2048x2048 (attention), 8192x2048 (FFN up), 2048x8192 (FFN down). Batch 1
 * is decode, batch 64 prefill. Weights live in a native segment, as when memory-mapped.
 *
 * <pre>
 * ./build mvn -q -o -pl kvserve-bench -am -DskipTests package dependency:build-classpath -Dmdep.outputFile=target/jmh.classpath
 * CP=kvserve-bench/target/classes:$(cat kvserve-bench/target/jmh.classpath)
 * java --add-modules jdk.incubator.vector -cp "$CP" org.openjdk.jmh.Main KQuantMatmulBenchmark
 * java --add-modules jdk.incubator.vector -cp "$CP" io.kvserve.bench.jmh.KQuantMatmulBenchmark   # CPU time
 * </pre>
 * The {@link #main} variant reports the calling thread's CPU time per operation (best of 5 after
 * warm-up) instead of wall time, which stays meaningful on a machine shared with other jobs.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xmx4g"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class KQuantMatmulBenchmark {
    @Param({"Q4_K", "Q5_K", "Q6_K"})
    public String type;

    /** rows x cols of the weight matrix. */
    @Param({"2048x2048", "8192x2048", "2048x8192"})
    public String shape;

    @Param({"1", "64"})
    public int batch;

    @Param({"vector", "scalar"})
    public String impl;

    private GgmlType t;
    private int rows, cols;
    private Arena arena;
    private MemorySegment w;
    private float[] x, out;
    private KernelSupport scalar;

    @Setup(Level.Trial)
    public void setup() {
        t = GgmlType.valueOf(type);
        String[] rc = shape.split("x");
        rows = Integer.parseInt(rc[0]);
        cols = Integer.parseInt(rc[1]);
        SplittableRandom r = new SplittableRandom(42);
        arena = Arena.ofShared();
        long rowBytes = t.bytesFor(cols);
        w = arena.allocate(rows * rowBytes, 64);
        // Random bytes with sane f16 scales decode like real weights and skip the slow reference encoder.
        for (long i = 0; i < w.byteSize(); i++) w.set(java.lang.foreign.ValueLayout.JAVA_BYTE, i, (byte) r.nextInt(256));
        short d = Float.floatToFloat16(1e-3f);
        for (long b = 0; b < w.byteSize(); b += t.typeSize) {
            if (t == GgmlType.Q6_K) {
                w.set(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, b + 208, d);
            } else {
                w.set(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, b, d);
                w.set(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, b + 2, d);
            }
        }
        x = new float[batch * cols];
        for (int i = 0; i < x.length; i++) x[i] = (float) (r.nextDouble() * 2 - 1);
        out = new float[batch * rows];
        scalar = new ScalarKernels();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        arena.close();
    }

    /** CPU-time variant of the whole parameter grid; prints one line per configuration and the vector/scalar ratio. */
    public static void main(String[] args) {
        java.lang.management.ThreadMXBean mx = java.lang.management.ManagementFactory.getThreadMXBean();
        for (String type : new String[]{"Q4_K", "Q5_K", "Q6_K"}) {
            for (String shape : new String[]{"2048x2048", "8192x2048", "2048x8192"}) {
                for (int batch : new int[]{1, 64}) {
                    double[] us = new double[2];
                    for (int k = 0; k < 2; k++) {
                        KQuantMatmulBenchmark b = new KQuantMatmulBenchmark();
                        b.type = type;
                        b.shape = shape;
                        b.batch = batch;
                        b.impl = k == 0 ? "vector" : "scalar";
                        b.setup();
                        int warm = k == 0 ? 30 : 2, runs = k == 0 ? 20 : 3;
                        for (int i = 0; i < warm; i++) b.matmul();
                        long best = Long.MAX_VALUE;
                        for (int i = 0; i < runs; i++) {
                            long t0 = mx.getCurrentThreadCpuTime();
                            b.matmul();
                            best = Math.min(best, mx.getCurrentThreadCpuTime() - t0);
                        }
                        us[k] = best / 1e3;
                        b.tearDown();
                    }
                    GgmlType t = GgmlType.valueOf(type);
                    String[] rc = shape.split("x");
                    long bytes = Long.parseLong(rc[0]) * t.bytesFor(Long.parseLong(rc[1]));
                    double flops = 2.0 * Long.parseLong(rc[0]) * Long.parseLong(rc[1]) * batch;
                    System.out.printf("%s %s batch %2d: vector %9.1f us (%5.2f GB/s, %5.1f GFLOP/s), scalar %10.1f us, x%.1f%n",
                            type, shape, batch, us[0], bytes / us[0] / 1e3, flops / us[0] / 1e3, us[1], us[1] / us[0]);
                }
            }
        }
    }

    @Benchmark
    public float[] matmul() {
        if (impl.equals("vector")) {
            PanamaKQuant.matmul(t, w, 0, cols, x, batch, out, rows, 0, rows);
        } else {
            scalar.matmul(t, w, 0, cols, x, batch, out, rows, 0, rows);
        }
        return out;
    }
}
