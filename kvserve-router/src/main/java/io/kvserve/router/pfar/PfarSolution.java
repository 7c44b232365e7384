package io.kvserve.router.pfar;

/**
 * A PFAR answer.
 *
 * @param choice    per flow: 0 rejected, i &gt; 0 routed on its i-th candidate path
 * @param objective priority-weighted admitted demand
 * @param seconds   wall time spent
 * @param optimal   true when the solver proved optimality
 * @param bound     best known upper bound on the objective (equal to objective when optimal)
 */
public record PfarSolution(int[] choice, double objective, double seconds, boolean optimal, double bound) {
    public int admitted() {
        int n = 0;
        for (int c : choice) if (c > 0) n++;
        return n;
    }
}
