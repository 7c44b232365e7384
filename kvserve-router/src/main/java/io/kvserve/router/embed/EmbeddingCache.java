package io.kvserve.router.embed;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * Embeds a list of texts once and keeps the vectors in a file keyed by encoder name and the texts' SHA-256, so an
 * evaluation re-run does not pay for the encoder again. A stale or damaged cache is recomputed.
 */
public final class EmbeddingCache {
    private EmbeddingCache() {}

    public static List<float[]> embedAll(Embedder embedder, List<String> texts, Path cacheDir, java.util.function.IntConsumer progress) {
        String key = key(embedder, texts);
        Path file = cacheDir == null ? null : cacheDir.resolve("emb-" + key + ".bin");
        if (file != null && Files.isRegularFile(file)) {
            try {
                return read(file, texts.size(), embedder.dimension());
            } catch (IOException | RuntimeException e) {
                System.err.println("embedding cache " + file + " unreadable (" + e.getMessage() + "); recomputing");
            }
        }
        List<float[]> out = new ArrayList<>(texts.size());
        int chunk = 64;
        for (int i = 0; i < texts.size(); i += chunk) {
            out.addAll(embedder.embedAll(texts.subList(i, Math.min(texts.size(), i + chunk))));
            if (progress != null) progress.accept(out.size());
        }
        if (file != null) {
            try {
                Files.createDirectories(cacheDir);
                Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
                try (DataOutputStream o = new DataOutputStream(new BufferedOutputStream(Files.newOutputStream(tmp)))) {
                    o.writeInt(out.size());
                    o.writeInt(embedder.dimension());
                    for (float[] v : out) for (float x : v) o.writeFloat(x);
                }
                Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            } catch (IOException e) {
                System.err.println("cannot write embedding cache " + file + ": " + e.getMessage());
            }
        }
        return out;
    }

    private static List<float[]> read(Path file, int n, int dim) throws IOException {
        try (DataInputStream in = new DataInputStream(new BufferedInputStream(Files.newInputStream(file)))) {
            int cn = in.readInt(), cd = in.readInt();
            if (cn != n || cd != dim) throw new IOException("holds " + cn + "x" + cd + ", expected " + n + "x" + dim);
            List<float[]> out = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                float[] v = new float[dim];
                for (int j = 0; j < dim; j++) v[j] = in.readFloat();
                out.add(v);
            }
            return out;
        }
    }

    static String key(Embedder embedder, List<String> texts) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            md.update(embedder.name().getBytes(StandardCharsets.UTF_8));
            for (String t : texts) {
                md.update((byte) 0);
                md.update(t.getBytes(StandardCharsets.UTF_8));
            }
            return HexFormat.of().formatHex(md.digest(), 0, 12);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
