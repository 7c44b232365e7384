package io.kvserve.router.embed;

import dev.langchain4j.data.segment.TextSegment;
import dev.langchain4j.model.embedding.onnx.allminilml6v2.AllMiniLmL6V2EmbeddingModel;
import java.util.ArrayList;
import java.util.List;

/**
 * all-MiniLM-L6-v2 (384 dimensions) through ONNX Runtime; the model ships inside the LangChain4j jar, so nothing is
 * downloaded. Mean pooling, L2-normalised.
 */
public final class MiniLmEmbedder implements Embedder {
    private final AllMiniLmL6V2EmbeddingModel model;

    public MiniLmEmbedder() {
        // Runnable::run: the caller decides the parallelism; the ONNX session has its own intra-op threads.
        this.model = new AllMiniLmL6V2EmbeddingModel(Runnable::run);
    }

    @Override
    public int dimension() {
        return 384;
    }

    @Override
    public float[] embed(String text) {
        return Embedder.normalize(model.embed(text.isBlank() ? "." : text).content().vector());
    }

    @Override
    public List<float[]> embedAll(List<String> texts) {
        List<float[]> out = new ArrayList<>(texts.size());
        for (int i = 0; i < texts.size(); i += 32) {
            List<TextSegment> batch = texts.subList(i, Math.min(texts.size(), i + 32)).stream()
                    .map(t -> TextSegment.from(t.isBlank() ? "." : t)).toList();
            for (var e : model.embedAll(batch).content()) out.add(Embedder.normalize(e.vector()));
        }
        return out;
    }

    @Override
    public String name() {
        return "all-MiniLM-L6-v2";
    }
}
