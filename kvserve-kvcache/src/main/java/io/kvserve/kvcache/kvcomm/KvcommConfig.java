package io.kvserve.kvcache.kvcomm;

/**
 * KVCOMM's hyper-parameters (Ye et al., "KVCOMM: online cross-context KV-cache communication for
 * efficient LLM-based multi-agent systems", NeurIPS 2025; FastMAS/KVCOMM {@code config.py}).
 *
 * @param gamma      entropy threshold: a message whose match entropy exceeds {@code gamma * log2(N)}
 *                   becomes an anchor (default 0.3)
 * @param maxAnchors anchors kept per placeholder slot (default 20)
 * @param window     the oldest {@code window} anchors are the eviction candidates (default 5)
 * @param tau        softmax temperature of the delta weights (default 1)
 * @param topP       nucleus of matched anchors whose activation counts grow (default 0.9)
 */
public record KvcommConfig(double gamma, int maxAnchors, int window, double tau, double topP) {
    public KvcommConfig {
        if (!(gamma >= 0) || Double.isInfinite(gamma)) throw new IllegalArgumentException("KVCOMM gamma must be a finite number >= 0, got " + gamma);
        if (maxAnchors < 1) throw new IllegalArgumentException("KVCOMM maxAnchors must be >= 1, got " + maxAnchors);
        if (window < 1) throw new IllegalArgumentException("KVCOMM window must be >= 1, got " + window);
        if (!(tau > 0) || Double.isInfinite(tau)) throw new IllegalArgumentException("KVCOMM tau must be a finite number > 0, got " + tau);
        if (!(topP > 0 && topP <= 1)) throw new IllegalArgumentException("KVCOMM topP must be in (0, 1], got " + topP);
    }

    public static KvcommConfig defaults() {
        return new KvcommConfig(0.3, 20, 5, 1.0, 0.9);
    }
}
