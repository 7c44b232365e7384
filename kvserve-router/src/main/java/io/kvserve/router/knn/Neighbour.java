package io.kvserve.router.knn;

/** A stored vector found by a search: its id and cosine similarity to the query. */
public record Neighbour(int id, float similarity) {}
