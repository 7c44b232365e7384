package io.kvserve.engine;

/**
 * The engine's load as admission control sees it when a request arrives.
 *
 * @param queued       requests waiting (not running)
 * @param running      sequences holding KV and a batch slot
 * @param maxRunning   batch slots
 * @param freePages    KV pages free now, counting prefix-cache pages that can be evicted
 * @param totalPages   the KV budget
 * @param pagesNeeded  pages the new request needs at most (prompt plus max tokens)
 */
public record EngineLoad(int queued, int running, int maxRunning, int freePages, int totalPages, int pagesNeeded) {}
