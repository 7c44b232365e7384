package io.kvserve.model;

/** What distinguishes one architecture of the Llama family from another in the forward pass. */
public interface ModelFamily {
    /** The {@code general.architecture} value of GGUF files of this family. */
    String architecture();

    RopeLayout ropeLayout();

    /** Whether q, k and v projections carry biases ({@code blk.N.attn_q.bias} ...). */
    boolean attentionBiases();

    /** Whether queries and keys get a per-head RMSNorm before RoPE ({@code blk.N.attn_q_norm.weight}). */
    boolean perHeadQkNorm();
}
