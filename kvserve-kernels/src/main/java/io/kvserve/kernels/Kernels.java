package io.kvserve.kernels;

import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * The facade every caller uses: checks arguments, then delegates to one {@link KernelSupport}
 * chosen once at start-up. The scalar implementation is the specification; the Panama one is used
 * when the {@code jdk.incubator.vector} module is present. System property
 * {@code kvserve.vector.bits} forces the vector width: 0 (scalar), 128, 256 or 512.
 */
public final class Kernels {
    private static final KernelSupport IMPL = choose();

    private Kernels() {}

    /** The implementation in use. */
    public static KernelSupport impl() {
        return IMPL;
    }

    private static KernelSupport choose() {
        String forced = System.getProperty("kvserve.vector.bits", "").trim();
        int bits = -1;
        if (!forced.isEmpty()) {
            try {
                bits = Integer.parseInt(forced);
            } catch (NumberFormatException e) {
                bits = -2;
            }
            if (bits != 0 && bits != 128 && bits != 256 && bits != 512) {
                System.err.println("kvserve: kvserve.vector.bits=" + forced + " is not one of 0, 128, 256, 512; using the default");
                bits = -1;
            }
        }
        if (bits == 0) return new ScalarKernels();
        try {
            Class<?> c = Class.forName("io.kvserve.kernels.panama.PanamaKernels");
            return (KernelSupport) c.getConstructor(int.class).newInstance(bits);
        } catch (Throwable e) {
            Throwable cause = e instanceof java.lang.reflect.InvocationTargetException ite && ite.getCause() != null ? ite.getCause() : e;
            System.err.println("kvserve: WARNING: the Vector API is not available (" + cause
                    + "), using scalar kernels, which are several times slower. Fix: run with --add-modules jdk.incubator.vector (the ./kvserve launcher does).");
            return new ScalarKernels();
        }
    }

    /** Batched matrix product, see {@link KernelSupport#matmul}. */
    public static void matmul(GgmlType type, MemorySegment w, long wOff, int cols,
                              float[] x, int batch, float[] out, int outStride, int row0, int row1) {
        checkMatmul(type, w, wOff, cols, x, batch, out, outStride, row0, row1);
        IMPL.matmul(type, w, wOff, cols, x, batch, out, outStride, row0, row1);
    }

    private static void checkMatmul(GgmlType type, MemorySegment w, long wOff, int cols,
                                    float[] x, int batch, float[] out, int outStride, int row0, int row1) {
        Objects.requireNonNull(type);
        if (!type.supported) throw new UnsupportedTensorTypeException(type);
        if (cols <= 0 || cols % type.blockSize != 0) throw new IllegalArgumentException("cols " + cols + " is not a positive multiple of " + type.blockSize);
        if (batch <= 0 || row0 < 0 || row1 < row0 || row1 > outStride) throw new IllegalArgumentException("bad rows [" + row0 + ", " + row1 + ") for outStride " + outStride + ", batch " + batch);
        if ((long) batch * cols > x.length) throw new IllegalArgumentException("x holds " + x.length + " floats, needs " + (long) batch * cols);
        if ((long) (batch - 1) * outStride + row1 > out.length) throw new IllegalArgumentException("out holds " + out.length + " floats, too few");
        long rowBytes = type.bytesFor(cols);
        if (wOff < 0 || row1 > row0 && wOff + rowBytes * row1 > w.byteSize()) throw new IllegalArgumentException("weight rows end past the segment");
    }

    /** See {@link KernelSupport#packedRows}: 0 unless this type and batch run through packed eight-row dots. */
    public static int packedRows(GgmlType type, int batch) {
        return IMPL.packedRows(Objects.requireNonNull(type), batch);
    }

    /** See {@link KernelSupport#packActivations}. */
    public static void packActivations(float[] x, int rows, int cols, float[] dst) {
        if (rows < 0 || rows % 8 != 0) throw new IllegalArgumentException("rows " + rows + " is not a multiple of 8");
        if (cols <= 0 || cols % 32 != 0) throw new IllegalArgumentException("cols " + cols + " is not a positive multiple of 32");
        if ((long) rows * cols > x.length || (long) rows * cols > dst.length) throw new IllegalArgumentException("x or dst holds fewer than " + (long) rows * cols + " floats");
        if (rows > 0) IMPL.packActivations(x, rows, cols, dst);
    }

    /**
     * {@link #matmul(GgmlType, MemorySegment, long, int, float[], int, float[], int, int, int)} with the
     * activations also packed ({@code xPacked} from {@link #packActivations} of {@code x} for
     * {@link #packedRows} rows, or {@code null}): for a product split into parallel parts that share one input.
     */
    public static void matmul(GgmlType type, MemorySegment w, long wOff, int cols, float[] x, float[] xPacked,
                              int batch, float[] out, int outStride, int row0, int row1) {
        if (xPacked == null) {
            matmul(type, w, wOff, cols, x, batch, out, outStride, row0, row1);
            return;
        }
        if ((long) packedRows(type, batch) * cols > xPacked.length) throw new IllegalArgumentException("xPacked holds " + xPacked.length + " floats, needs " + (long) packedRows(type, batch) * cols);
        checkMatmul(type, w, wOff, cols, x, batch, out, outStride, row0, row1);
        IMPL.matmul(type, w, wOff, cols, x, xPacked, batch, out, outStride, row0, row1);
    }

    public static float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        Objects.checkFromIndexSize(aOff, n, a.length);
        Objects.checkFromIndexSize(bOff, n, b.length);
        return IMPL.dot(a, aOff, b, bOff, n);
    }

    public static void axpy(float a, float[] x, int xOff, float[] y, int yOff, int n) {
        Objects.checkFromIndexSize(xOff, n, x.length);
        Objects.checkFromIndexSize(yOff, n, y.length);
        IMPL.axpy(a, x, xOff, y, yOff, n);
    }

    /**
     * Attention scores of one query against {@code n} key rows of {@code hd} floats stored back to back
     * from {@code kOff}: {@code out[outOff + t] = scale * q . k_t}. Several keys per pass, so each query
     * vector load serves four keys.
     */
    public static void attentionScores(float[] q, int qOff, float[] k, int kOff, int n, int hd, float scale, float[] out, int outOff) {
        if (n < 0 || hd <= 0) throw new IllegalArgumentException("bad attention shape: " + n + " keys of " + hd);
        Objects.checkFromIndexSize(qOff, hd, q.length);
        Objects.checkFromIndexSize(kOff, (long) n * hd, k.length);
        Objects.checkFromIndexSize(outOff, n, out.length);
        IMPL.attentionScores(q, qOff, k, kOff, n, hd, scale, out, outOff);
    }

    /**
     * {@code out[outOff + c] += sum_t p[pOff + t] * v[vOff + t * hd + c]}: the attention output over
     * {@code n} value rows stored back to back. Four rows per pass over the output, which stays in L1.
     */
    public static void weightedRowSum(float[] p, int pOff, int n, float[] v, int vOff, int hd, float[] out, int outOff) {
        if (n < 0 || hd <= 0) throw new IllegalArgumentException("bad attention shape: " + n + " values of " + hd);
        Objects.checkFromIndexSize(pOff, n, p.length);
        Objects.checkFromIndexSize(vOff, (long) n * hd, v.length);
        Objects.checkFromIndexSize(outOff, hd, out.length);
        IMPL.weightedRowSum(p, pOff, n, v, vOff, hd, out, outOff);
    }

    public static void dequantizeRow(GgmlType type, MemorySegment src, long off, float[] dst, int dstOff, int n) {
        if (!type.supported) throw new UnsupportedTensorTypeException(type);
        Objects.checkFromIndexSize(dstOff, n, dst.length);
        Objects.checkFromIndexSize(off, type.bytesFor(n), src.byteSize());
        IMPL.dequantizeRow(type, src, off, dst, dstOff, n);
    }

    public static void quantizeRow(GgmlType type, float[] src, int srcOff, MemorySegment dst, long off, int n) {
        if (!type.supported) throw new UnsupportedTensorTypeException(type);
        Objects.checkFromIndexSize(srcOff, n, src.length);
        Objects.checkFromIndexSize(off, type.bytesFor(n), dst.byteSize());
        IMPL.quantizeRow(type, src, srcOff, dst, off, n);
    }

    /** Decodes one KV-cache row (format codes of {@link io.kvserve.kernels.kv.KvFormats}). */
    public static void kvDecodeRow(int fmt, MemorySegment s, long off, float[] y, int yOff, int n) {
        Objects.checkFromIndexSize(yOff, n, y.length);
        Objects.checkFromIndexSize(off, io.kvserve.kernels.kv.KvFormats.rowBytes(fmt, n), s.byteSize());
        IMPL.kvDecodeRow(fmt, s, off, y, yOff, n);
    }

    /**
     * Attention scores of one query against the first {@code count} tokens of a KIVI key group (fused
     * dequantisation); {@code meta} is the bytes of each scale and minimum ({@code KvFormats.META_F16} or {@code META_Q8}).
     */
    public static void kiviKeyScores(MemorySegment s, long off, int n, int g, int bits, int meta, float[] q, int qOff, float scale,
                                     float[] out, int outOff, int count) {
        if (bits != 2 && bits != 4 && bits != 8) throw new IllegalArgumentException("KIVI key bits must be 2, 4 or 8, got " + bits);
        if (count < 0 || count > g || g % (8 / bits) != 0) throw new IllegalArgumentException("count " + count + " / group " + g);
        Objects.checkFromIndexSize(off, io.kvserve.kernels.kv.KvFormats.keyGroupBytes(n, g, bits, meta), s.byteSize());
        Objects.checkFromIndexSize(qOff, n, q.length);
        Objects.checkFromIndexSize(outOff, count, out.length);
        IMPL.kiviKeyScores(s, off, n, g, bits, meta, q, qOff, scale, out, outOff, count);
    }

    /** Decodes one KIVI value row of {@code n} channels ({@code meta}: bytes of each scale and minimum). */
    public static void kiviDecodeValue(MemorySegment s, long off, int n, int bits, int meta, float[] y, int yOff) {
        if (bits != 2 && bits != 4 && bits != 8) throw new IllegalArgumentException("KIVI value bits must be 2, 4 or 8, got " + bits);
        Objects.checkFromIndexSize(off, io.kvserve.kernels.kv.KvFormats.valueRowBytes(n, bits, meta), s.byteSize());
        Objects.checkFromIndexSize(yOff, n, y.length);
        IMPL.kiviDecodeValue(s, off, n, bits, meta, y, yOff);
    }

    /** {@code x[i] = x[i] / rms(x) * weight[i]} over {@code n} elements starting at {@code off}, written to out. */
    public static void rmsNorm(float[] out, int outOff, float[] x, int xOff, float[] weight, int n, float eps) {
        float ss = dot(x, xOff, x, xOff, n);
        float scale = (float) (1.0 / Math.sqrt(ss / n + eps));
        for (int i = 0; i < n; i++) out[outOff + i] = weight[i] * (scale * x[xOff + i]);
    }

    /** SwiGLU's gate: {@code g[i] = silu(g[i]) * u[i]} for i in [off, off+n), silu(a) = a / (1 + e^-a). */
    public static void siluMul(float[] g, float[] u, int off, int n) {
        Objects.checkFromIndexSize(off, n, g.length);
        Objects.checkFromIndexSize(off, n, u.length);
        IMPL.siluMul(g, u, off, n);
    }

    /** The scalar SiLU-times-up: the specification of {@link KernelSupport#siluMul}. */
    static void siluMulScalar(float[] g, float[] u, int off, int n) {
        for (int i = off; i < off + n; i++) {
            float a = g[i];
            g[i] = a / (1f + (float) Math.exp(-a)) * u[i];
        }
    }

    /** In-place softmax over {@code x[off, off+n)}. */
    public static void softmax(float[] x, int off, int n) {
        Objects.checkFromIndexSize(off, n, x.length);
        IMPL.softmax(x, off, n);
    }

    /** The scalar softmax: the specification of {@link KernelSupport#softmax}. */
    static void softmaxScalar(float[] x, int off, int n) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) max = Math.max(max, x[off + i]);
        float sum = 0f;
        for (int i = 0; i < n; i++) {
            float e = (float) Math.exp(x[off + i] - max);
            x[off + i] = e;
            sum += e;
        }
        float inv = 1f / sum;
        for (int i = 0; i < n; i++) x[off + i] *= inv;
    }
}
