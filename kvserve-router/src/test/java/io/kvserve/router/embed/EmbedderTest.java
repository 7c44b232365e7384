package io.kvserve.router.embed;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.data.Offset.offset;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EmbedderTest {
    static double dot(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * b[i];
        return s;
    }

    @Test
    void miniLmPutsParaphrasesCloserThanUnrelatedText() {
        MiniLmEmbedder e = new MiniLmEmbedder();
        float[] a = e.embed("How do I compute the derivative of x squared?");
        float[] b = e.embed("What is the derivative of x^2?");
        float[] c = e.embed("Write a short poem about autumn leaves.");
        assertThat(a).hasSize(384);
        assertThat(dot(a, a)).isCloseTo(1.0, offset(1e-4));
        assertThat(dot(a, b)).isGreaterThan(0.6).isGreaterThan(dot(a, c) + 0.3);
        List<float[]> batch = e.embedAll(List.of("What is the derivative of x^2?", ""));
        assertThat(dot(batch.get(0), b)).isCloseTo(1.0, offset(1e-4)); // batching does not change the vector
        assertThat(batch.get(1)).hasSize(384);
    }

    @Test
    void hashingEmbedderIsDeterministicAndNormalised() {
        HashingEmbedder h = new HashingEmbedder(64);
        float[] a = h.embed("the quick brown fox");
        assertThat(a).containsExactly(h.embed("The quick, brown fox!"));
        assertThat(dot(a, a)).isCloseTo(1.0, offset(1e-5));
        assertThat(dot(a, h.embed("completely different words here"))).isLessThan(0.5);
    }

    @Test
    void cacheReturnsTheSameVectorsWithoutCallingTheEncoderAgain(@TempDir Path dir) {
        AtomicInteger calls = new AtomicInteger();
        Embedder counting = new Embedder() {
            final HashingEmbedder inner = new HashingEmbedder(32);

            public int dimension() {
                return 32;
            }

            public float[] embed(String t) {
                calls.incrementAndGet();
                return inner.embed(t);
            }

            public String name() {
                return inner.name();
            }
        };
        List<String> texts = List.of("a b", "c d", "e f");
        List<float[]> first = EmbeddingCache.embedAll(counting, texts, dir, null);
        List<float[]> second = EmbeddingCache.embedAll(counting, texts, dir, null);
        assertThat(calls.get()).isEqualTo(3);
        for (int i = 0; i < 3; i++) assertThat(second.get(i)).containsExactly(first.get(i));
        // other texts get another key; a damaged file is recomputed
        EmbeddingCache.embedAll(counting, List.of("x"), dir, null);
        assertThat(calls.get()).isEqualTo(4);
        try (var files = Files.list(dir)) {
            for (Path f : files.toList()) Files.write(f, new byte[] {1, 2});
        } catch (java.io.IOException ex) {
            throw new AssertionError(ex);
        }
        assertThat(EmbeddingCache.embedAll(counting, texts, dir, null).get(0)).containsExactly(first.get(0));
        assertThat(calls.get()).isEqualTo(7);
    }
}
