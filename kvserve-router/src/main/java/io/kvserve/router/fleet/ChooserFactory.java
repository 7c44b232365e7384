package io.kvserve.router.fleet;

import io.kvserve.router.data.RoutingDataLoader;
import io.kvserve.router.data.RoutingDataset;
import io.kvserve.router.data.RoutingExample;
import io.kvserve.router.embed.Embedder;
import io.kvserve.router.embed.EmbeddingCache;
import io.kvserve.router.knn.ExactIndex;
import io.kvserve.router.knn.HnswIndex;
import io.kvserve.router.knn.KnnRouter;
import io.kvserve.router.knn.ModelChooser;
import io.kvserve.router.knn.VectorIndex;
import java.nio.file.Path;
import java.util.List;

/** Builds the serving kNN router from a routing data file. */
public final class ChooserFactory {
    /** Above this many stored prompts the HNSW index is used (exact search p99 grows linearly; see docs/ROUTING.md). */
    public static final int HNSW_THRESHOLD = 20_000;

    private ChooserFactory() {}

    public static ModelChooser build(Path data, Embedder embedder, int k, Path cacheDir) {
        RoutingDataset ds = RoutingDataLoader.load(data);
        List<float[]> emb = EmbeddingCache.embedAll(embedder, ds.examples().stream().map(RoutingExample::prompt).toList(), cacheDir, null);
        VectorIndex index = ds.size() > HNSW_THRESHOLD ? new HnswIndex(embedder.dimension(), Math.max(k, 100)) : new ExactIndex(embedder.dimension());
        KnnRouter r = new KnnRouter(index, ds.models().size(), k, KnnRouter.Weighting.UNIFORM);
        for (int i = 0; i < ds.size(); i++) r.add(emb.get(i), ds.examples().get(i).outcomes(), ds.examples().get(i).costs());
        return new ModelChooser(embedder, r, ds.models());
    }
}
