package io.kvserve.model;

import io.kvserve.model.gguf.GgufFile;
import io.kvserve.model.kv.ContiguousKvCache;
import io.kvserve.model.kv.KvCache;
import io.kvserve.model.llama2c.Llama2cLoader;
import io.kvserve.model.tokenizer.Tokenizer;
import io.kvserve.model.transformer.ForwardPass;
import io.kvserve.model.transformer.GgufModelLoader;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * A loaded model: hyper-parameters, weights (slices of the file's mapping), tokenizer and chat
 * template. Closing it unmaps the file.
 *
 * @param chatTemplate the Jinja chat template of the file, or null
 * @param gguf         the GGUF file for metadata access, or null for llama2.c checkpoints
 */
public record Model(String name, Path path, ModelConfig config, ModelWeights weights, Tokenizer tokenizer,
                    String chatTemplate, GgufFile gguf, AutoCloseable resources) implements AutoCloseable {

    /**
     * Loads a GGUF file, or a llama2.c checkpoint (.bin) with its tokenizer ({@code tokenizerPath},
     * or else {@code tokenizer.bin} / {@code tok<vocab>.bin} beside the checkpoint).
     */
    public static Model load(Path path, Path tokenizerPath) throws IOException {
        if (!Files.exists(path)) throw new NoSuchFileException(path.toString(), null, "model file not found (give --model PATH or set KVSERVE_MODEL)");
        if (Files.isDirectory(path)) throw new ModelFileException(path + " is a directory; give the path of a .gguf or llama2.c .bin file");
        if (Files.size(path) >= 4 && isGguf(path)) return GgufModelLoader.load(path);
        if (path.getFileName().toString().endsWith(".gguf")) return GgufModelLoader.load(path); // let the GGUF reader explain
        return Llama2cLoader.load(path, tokenizerPath);
    }

    private static boolean isGguf(Path path) throws IOException {
        try (var in = Files.newInputStream(path)) {
            byte[] b = in.readNBytes(4);
            return b.length == 4 && b[0] == 'G' && b[1] == 'G' && b[2] == 'U' && b[3] == 'F';
        }
    }

    /** A forward pass with its own scratch buffers for batches of up to {@code maxBatch} tokens. */
    public ForwardPass newForwardPass(int maxBatch, WorkerPool pool) {
        return new ForwardPass(config, weights, maxBatch, pool);
    }

    /** A contiguous F32 cache for up to {@code maxPositions} positions per sequence. */
    public KvCache newContiguousCache(int maxPositions) {
        return new ContiguousKvCache(config.nLayers(), config.nKvHeads(), config.headDim(), Math.min(maxPositions, config.contextLength()));
    }

    @Override
    public void close() throws Exception {
        if (resources != null) resources.close();
    }
}
