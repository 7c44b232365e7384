package io.kvserve.model.qwen3;

import io.kvserve.model.ModelFamily;
import io.kvserve.model.RopeLayout;

/** Qwen3 (dense): NeoX-halves RoPE, no biases, per-head RMSNorm of queries and keys before RoPE. */
public record Qwen3Family() implements ModelFamily {
    @Override public String architecture() { return "qwen3"; }
    @Override public RopeLayout ropeLayout() { return RopeLayout.NEOX_HALVES; }
    @Override public boolean attentionBiases() { return false; }
    @Override public boolean perHeadQkNorm() { return true; }
}
