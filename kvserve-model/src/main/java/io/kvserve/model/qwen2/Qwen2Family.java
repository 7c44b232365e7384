package io.kvserve.model.qwen2;

import io.kvserve.model.ModelFamily;
import io.kvserve.model.RopeLayout;

/** Qwen2 and Qwen2.5: NeoX-halves RoPE and biases on the q, k and v projections. */
public record Qwen2Family() implements ModelFamily {
    @Override public String architecture() { return "qwen2"; }
    @Override public RopeLayout ropeLayout() { return RopeLayout.NEOX_HALVES; }
    @Override public boolean attentionBiases() { return true; }
    @Override public boolean perHeadQkNorm() { return false; }
}
