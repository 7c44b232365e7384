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
 * ./build mvn -q -o -pl kvserve-bench -am -DskipTests package
 * java --add-modules jdk.incubator.vector -cp "$(cat kvserve-bench/target/jmh.classpath)" \
 *     org.openjdk.jmh.Main KQuantMatmulBenchmark
 * </pre>
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
