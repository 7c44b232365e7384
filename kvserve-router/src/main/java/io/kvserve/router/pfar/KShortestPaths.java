package io.kvserve.router.pfar;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.PriorityQueue;
import java.util.Set;

/** Yen's algorithm: the K loop-free shortest paths by link weight, shortest first. */
public final class KShortestPaths {
    private KShortestPaths() {}

    public static List<Path> yen(Network g, int s, int t, int k) {
        List<Path> result = new ArrayList<>();
        Path first = dijkstra(g, s, t, Set.of(), Set.of());
        if (first == null) return result;
        result.add(first);
        PriorityQueue<Path> candidates = new PriorityQueue<>((a, b) -> a.weight() != b.weight() ? Double.compare(a.weight(), b.weight()) : Integer.compare(a.links().size(), b.links().size()));
        Set<List<Integer>> seen = new HashSet<>();
        seen.add(first.links());
        while (result.size() < k) {
            Path last = result.getLast();
            for (int i = 0; i < last.nodes().size() - 1; i++) {
                int spur = last.nodes().get(i);
                List<Integer> rootLinks = last.links().subList(0, i);
                List<Integer> rootNodes = last.nodes().subList(0, i + 1);
                Set<Integer> bannedLinks = new HashSet<>();
                for (Path p : result) {
                    if (p.links().size() > i && p.links().subList(0, i).equals(rootLinks)) bannedLinks.add(p.links().get(i));
                }
                Set<Integer> bannedNodes = new HashSet<>(rootNodes.subList(0, rootNodes.size() - 1));
                Path spurPath = dijkstra(g, spur, t, bannedNodes, bannedLinks);
                if (spurPath == null) continue;
                List<Integer> links = new ArrayList<>(rootLinks);
                links.addAll(spurPath.links());
                List<Integer> nodes = new ArrayList<>(rootNodes.subList(0, rootNodes.size() - 1));
                nodes.addAll(spurPath.nodes());
                if (seen.add(links)) {
                    double w = 0;
                    for (int l : links) w += g.link(l).weight();
                    candidates.add(new Path(links, nodes, w));
                }
            }
            if (candidates.isEmpty()) break;
            result.add(candidates.poll());
        }
        return result;
    }

    static Path dijkstra(Network g, int s, int t, Set<Integer> bannedNodes, Set<Integer> bannedLinks) {
        int n = g.nodes();
        double[] dist = new double[n];
        int[] via = new int[n];
        Arrays.fill(dist, Double.POSITIVE_INFINITY);
        Arrays.fill(via, -1);
        dist[s] = 0;
        PriorityQueue<double[]> pq = new PriorityQueue<>((a, b) -> Double.compare(a[0], b[0]));
        pq.add(new double[] {0, s});
        while (!pq.isEmpty()) {
            double[] top = pq.poll();
            int u = (int) top[1];
            if (top[0] > dist[u]) continue;
            if (u == t) break;
            for (Link l : g.out(u)) {
                if (bannedLinks.contains(l.id()) || bannedNodes.contains(l.to())) continue;
                double d = dist[u] + l.weight();
                if (d < dist[l.to()]) {
                    dist[l.to()] = d;
                    via[l.to()] = l.id();
                    pq.add(new double[] {d, l.to()});
                }
            }
        }
        if (Double.isInfinite(dist[t])) return null;
        List<Integer> links = new ArrayList<>(), nodes = new ArrayList<>();
        for (int v = t; v != s; v = g.link(via[v]).from()) {
            links.addFirst(via[v]);
            nodes.addFirst(v);
        }
        nodes.addFirst(s);
        return new Path(links, nodes, dist[t]);
    }
}
