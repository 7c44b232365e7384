package io.kvserve.model.gguf;

import io.kvserve.kernels.GgmlType;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * One tensor of a GGUF file. {@code shape[0]} is the innermost (contiguous) dimension, as in ggml:
 * a weight matrix with {@code shape = [cols, rows]} stores {@code rows} rows of {@code cols} elements.
 * {@code data} is a slice of the file's mapping.
 */
public record GgufTensor(String name, GgmlType type, long[] shape, long fileOffset, MemorySegment data) {
    public long elementCount() {
        long n = 1;
        for (long d : shape) n = Math.multiplyExact(n, d);
        return n;
    }

    public long byteSize() {
        return data.byteSize();
    }

    public int dim(int i) {
        return i < shape.length ? Math.toIntExact(shape[i]) : 1;
    }

    @Override
    public String toString() {
        return name + " " + type + " " + Arrays.toString(shape);
    }
}
