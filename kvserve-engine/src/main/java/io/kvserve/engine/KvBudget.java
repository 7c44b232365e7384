package io.kvserve.engine;

/**
 * Room for the next step.
 *
 * @param freePages     KV pages free, counting evictable prefix-cache pages
 * @param freeSlots     batch slots free (running sequences below the limit)
 */
public record KvBudget(int totalPages, int freePages, int freeSlots) {}
