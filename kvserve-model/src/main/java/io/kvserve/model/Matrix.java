package io.kvserve.model;

import io.kvserve.kernels.GgmlType;
import io.kvserve.kernels.Kernels;

import java.lang.foreign.MemorySegment;

/** A row-major weight matrix of {@code rows} rows of {@code cols} elements of one type, in (mapped) memory. */
public record Matrix(String name, GgmlType type, MemorySegment data, int rows, int cols) {
    public Matrix {
        long need = Math.multiplyExact(type.bytesFor(cols), (long) rows);
        if (data.byteSize() < need) {
            throw new ModelFileException("tensor '" + name + "' holds " + data.byteSize() + " bytes, " + rows + "x" + cols + " " + type + " needs " + need);
        }
        if (!type.supported) throw new ModelFileException("tensor '" + name + "' has type " + type + ", which kvserve does not support (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K, Q5_K, Q6_K)");
    }

    public long rowBytes() {
        return type.bytesFor(cols);
    }

    /** Decodes row {@code r} into {@code dst[dstOff, dstOff + cols)}. */
    public void row(int r, float[] dst, int dstOff) {
        Kernels.dequantizeRow(type, data, r * rowBytes(), dst, dstOff, cols);
    }
}
