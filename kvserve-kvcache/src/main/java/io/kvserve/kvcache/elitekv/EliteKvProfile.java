package io.kvserve.kvcache.elitekv;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What EliteKV learns from calibration text, for every (layer, KV head): the RoPElite ranking of the
 * rotation pairs, and the second-moment matrix {@code sum x x^T} of {@code x = [unrotated key ; value]}
 * ({@code 2 * headDim} dims). Any budget of elite pairs and latent rank is derived from these: the
 * J-LRD projection for a set of elite pairs is the top eigenvectors of the moment matrix restricted to
 * the other key dims and the value dims. Also the model's RoPE pairs (head dims and angle per position),
 * so that the cache needs no model to apply it.
 *
 * @param first    first head dim of each rotation pair
 * @param second   second head dim of each rotation pair
 * @param invFreq  angle per position of each rotation pair (scaling included)
 * @param ranking  {@code [layer][kvHead]} every pair, in RoPElite's greedy order
 * @param moments  {@code [layer][kvHead]} {@code (2 headDim, 2 headDim)} row-major
 * @param tokens   calibration tokens the moments sum over
 */
public record EliteKvProfile(int layers, int kvHeads, int headDim, int[] first, int[] second, float[] invFreq,
                             int[][][] ranking, double[][][] moments, long tokens, Map<String, EliteKvCodec> codecs) {
    private static final String MAGIC = "kvserve-elitekv-profile 1";

    public EliteKvProfile(int layers, int kvHeads, int headDim, int[] first, int[] second, float[] invFreq,
                          int[][][] ranking, double[][][] moments, long tokens) {
        this(layers, kvHeads, headDim, first, second, invFreq, ranking, moments, tokens, new ConcurrentHashMap<>());
    }

    public int pairs() {
        return first.length;
    }

    /** Elite pairs a budget of {@code elite} keeps for (layer, kvHead): the first of its ranking. */
    public int[] elitePairs(int layer, int kvHead, int elite) {
        return Arrays.copyOf(ranking[layer][kvHead], elite);
    }

    /**
     * The codec of (layer, kvHead) for {@code elite} pairs and a latent of {@code rank} dims
     * ({@code 0}: full rank, {@code 2 headDim - 2 elite}, i.e. RoPElite alone).
     */
    public EliteKvCodec codec(int layer, int kvHead, int elite, int rank) {
        if (elite < 0 || elite > pairs()) throw new IllegalArgumentException("elite must be in [0, " + pairs() + "] rotation pairs, got " + elite);
        int full = 2 * headDim - 2 * elite;
        if (rank < 0 || rank > full) throw new IllegalArgumentException("rank must be in [1, " + full + "] with elite=" + elite + " (head dim " + headDim + "), got " + rank);
        int r = rank == 0 ? full : rank;
        return codecs.computeIfAbsent(layer + "/" + kvHead + "/" + elite + "/" + r, key -> {
            int[] pairs = elitePairs(layer, kvHead, elite);
            int[] nope = EliteKvCodec.nopeDims(headDim, pairs, first, second);
            int[] idx = new int[nope.length + headDim];
            System.arraycopy(nope, 0, idx, 0, nope.length);
            for (int i = 0; i < headDim; i++) idx[nope.length + i] = headDim + i;
            double[] m = moments[layer][kvHead];
            int n2 = 2 * headDim;
            double[][] sub = new double[idx.length][idx.length];
            for (int i = 0; i < idx.length; i++) for (int j = 0; j < idx.length; j++) sub[i][j] = m[idx[i] * n2 + idx[j]];
            SymmetricEigen eig = SymmetricEigen.of(sub);
            float[] up = new float[idx.length * r];
            for (int i = 0; i < idx.length; i++) for (int c = 0; c < r; c++) up[i * r + c] = (float) eig.vectors()[i][c];
            return new EliteKvCodec(headDim, pairs, first, second, invFreq, up, r);
        });
    }

    /** Share of the calibration energy of {@code [k_nope ; v]} the top {@code rank} directions keep (1 at full rank). */
    public double energyKept(int layer, int kvHead, int elite, int rank) {
        int[] nope = EliteKvCodec.nopeDims(headDim, elitePairs(layer, kvHead, elite), first, second);
        int n2 = 2 * headDim;
        int[] idx = new int[nope.length + headDim];
        System.arraycopy(nope, 0, idx, 0, nope.length);
        for (int i = 0; i < headDim; i++) idx[nope.length + i] = headDim + i;
        double[][] sub = new double[idx.length][idx.length];
        for (int i = 0; i < idx.length; i++) for (int j = 0; j < idx.length; j++) sub[i][j] = moments[layer][kvHead][idx[i] * n2 + idx[j]];
        double[] ev = SymmetricEigen.of(sub).values();
        double all = 0, kept = 0;
        for (int i = 0; i < ev.length; i++) {
            all += Math.max(0, ev[i]);
            if (rank == 0 || i < rank) kept += Math.max(0, ev[i]);
        }
        return all == 0 ? 1 : kept / all;
    }

    public void write(Path file) throws IOException {
        List<String> lines = new ArrayList<>();
        lines.add(MAGIC);
        lines.add("shape " + layers + " " + kvHeads + " " + headDim + " " + pairs() + " " + tokens);
        lines.add("first " + join(first));
        lines.add("second " + join(second));
        StringBuilder f = new StringBuilder("invfreq");
        for (float x : invFreq) f.append(' ').append(Float.toString(x));
        lines.add(f.toString());
        for (int l = 0; l < layers; l++) {
            for (int h = 0; h < kvHeads; h++) {
                lines.add("ranking " + l + " " + h + " " + join(ranking[l][h]));
                StringBuilder m = new StringBuilder("moments " + l + " " + h);
                for (double x : moments[l][h]) m.append(' ').append(Double.toString(x));
                lines.add(m.toString());
            }
        }
        Files.write(file, lines);
    }

    private static String join(int[] a) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < a.length; i++) b.append(i == 0 ? "" : " ").append(a[i]);
        return b.toString();
    }

    /** Reads a profile written by {@link #write}; a missing or malformed file is an {@link IllegalArgumentException} saying which. */
    public static EliteKvProfile read(Path file) {
        List<String> lines;
        try {
            lines = Files.readAllLines(file);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("EliteKV profile " + file + " does not exist: write one with `kvserve calibrate elitekv --model MODEL --out " + file + "`");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read EliteKV profile " + file, e);
        }
        try {
            if (lines.isEmpty() || !lines.get(0).equals(MAGIC)) throw bad(file, 1, "expected the first line '" + MAGIC + "'");
            long[] shape = numbers(file, lines, 1, "shape", 5);
            int layers = (int) shape[0], kvHeads = (int) shape[1], headDim = (int) shape[2], pairs = (int) shape[3];
            if (layers < 1 || kvHeads < 1 || headDim < 2 || pairs < 0 || 2 * pairs > headDim || layers * kvHeads > 1 << 20) {
                throw bad(file, 2, "impossible shape " + Arrays.toString(shape));
            }
            int[] first = ints(numbers(file, lines, 2, "first", pairs)), second = ints(numbers(file, lines, 3, "second", pairs));
            for (int p = 0; p < pairs; p++) {
                if (first[p] < 0 || first[p] >= headDim || second[p] < 0 || second[p] >= headDim) throw bad(file, 3, "pair " + p + " outside the head dim " + headDim);
            }
            String[] fr = fields(file, lines, 4, "invfreq", pairs);
            float[] invFreq = new float[pairs];
            for (int p = 0; p < pairs; p++) invFreq[p] = Float.parseFloat(fr[p + 1]);
            int[][][] ranking = new int[layers][kvHeads][];
            double[][][] moments = new double[layers][kvHeads][];
            int line = 5;
            for (int l = 0; l < layers; l++) {
                for (int h = 0; h < kvHeads; h++) {
                    long[] r = numbers(file, lines, line, "ranking", pairs + 2);
                    if (r[0] != l || r[1] != h) throw bad(file, line + 1, "expected the ranking of layer " + l + " head " + h);
                    ranking[l][h] = ints(Arrays.copyOfRange(r, 2, r.length));
                    boolean[] seen = new boolean[pairs];
                    for (int p : ranking[l][h]) {
                        if (p < 0 || p >= pairs || seen[p]) throw bad(file, line + 1, "the ranking is not a permutation of the " + pairs + " pairs");
                        seen[p] = true;
                    }
                    String[] m = fields(file, lines, line + 1, "moments", 2 + 4 * headDim * headDim);
                    moments[l][h] = new double[4 * headDim * headDim];
                    for (int i = 0; i < moments[l][h].length; i++) moments[l][h][i] = Double.parseDouble(m[i + 3]);
                    line += 2;
                }
            }
            return new EliteKvProfile(layers, kvHeads, headDim, first, second, invFreq, ranking, moments, shape[4]);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("EliteKV profile " + file + " holds a malformed number (" + e.getMessage() + "): write it again with `kvserve calibrate elitekv`");
        }
    }

    private static IllegalArgumentException bad(Path file, int line, String what) {
        return new IllegalArgumentException("EliteKV profile " + file + " line " + line + ": " + what + "; write it again with `kvserve calibrate elitekv`");
    }

    private static String[] fields(Path file, List<String> lines, int i, String key, int count) {
        if (i >= lines.size()) throw bad(file, i + 1, "the file ends early (truncated?), expected '" + key + "'");
        String[] f = lines.get(i).trim().split(" ");
        if (!f[0].equals(key) || f.length != count + 1) {
            throw bad(file, i + 1, "expected '" + key + "' with " + count + " numbers, found '" + f[0] + "' with " + (f.length - 1));
        }
        return f;
    }

    private static long[] numbers(Path file, List<String> lines, int i, String key, int count) {
        String[] f = fields(file, lines, i, key, count);
        long[] r = new long[count];
        for (int j = 0; j < count; j++) r[j] = Long.parseLong(f[j + 1]);
        return r;
    }

    private static int[] ints(long[] a) {
        int[] r = new int[a.length];
        for (int i = 0; i < a.length; i++) r[i] = Math.toIntExact(a[i]);
        return r;
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "EliteKvProfile[%d layers, %d KV heads, head dim %d, %d pairs, %d tokens]", layers, kvHeads, headDim, pairs(), tokens);
    }
}
