package io.kvserve.kernels;

/** A tensor type that kvserve's kernels cannot compute with. */
public final class UnsupportedTensorTypeException extends RuntimeException {
    public UnsupportedTensorTypeException(GgmlType type) {
        super("tensor type " + type + " is not supported (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K, Q5_K, Q6_K)");
    }
}
