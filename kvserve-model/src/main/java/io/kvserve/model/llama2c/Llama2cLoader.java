package io.kvserve.model.llama2c;

import io.kvserve.kernels.GgmlType;
import io.kvserve.model.LayerWeights;
import io.kvserve.model.Matrix;
import io.kvserve.model.Model;
import io.kvserve.model.ModelConfig;
import io.kvserve.model.ModelFileException;
import io.kvserve.model.ModelWeights;
import io.kvserve.model.RopeLayout;
import io.kvserve.model.tokenizer.Tokenizer;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * Karpathy's llama2.c checkpoints: the legacy fp32 export (version 0, a bare 7-int header), the
 * fp32 version 1 export and the int8 version 2 export ({@code runq.c}, group-quantised). fp32 weights
 * stay slices of the mapping; version 2 weights are dequantised to F32 at load, because their group
 * size (often 8) has no ggml block type. llama2.c uses adjacent-pair RoPE with theta 10000.
 */
public final class Llama2cLoader {
    private static final int MAGIC = 0x616b3432; // "ak42"
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;

    private Llama2cLoader() {}

    public static Model load(Path path, Path tokenizerPath) throws IOException {
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 28) throw new ModelFileException(path + ": " + size + " bytes is too short for a llama2.c checkpoint (or any model file)");
            MemorySegment file = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            Model m = parse(path, tokenizerPath, file, arena);
            return m;
        } catch (IOException | RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    private static Model parse(Path path, Path tokenizerPath, MemorySegment file, Arena arena) throws IOException {
        int first = file.get(I32, 0);
        int version;
        long pos;
        int[] h = new int[7];
        boolean shared;
        int groupSize = 0;
        if (first == MAGIC) {
            version = file.get(I32, 4);
            if (version != 1 && version != 2) throw new ModelFileException(path + ": llama2.c export version " + version + " is not supported (0, 1 and 2 are)");
            for (int i = 0; i < 7; i++) h[i] = file.get(I32, 8 + 4L * i);
            shared = file.get(ValueLayout.JAVA_BYTE, 36) != 0;
            if (version == 2) groupSize = file.get(I32, 37);
            pos = 256;
        } else {
            version = 0;
            for (int i = 0; i < 7; i++) h[i] = file.get(I32, 4L * i);
            shared = h[5] > 0;
            h[5] = Math.abs(h[5]);
            pos = 28;
        }
        int dim = h[0], hidden = h[1], layers = h[2], heads = h[3], kvHeads = h[4], vocab = h[5], seqLen = h[6];
        String bad = null;
        if (dim <= 0 || hidden <= 0 || layers <= 0 || heads <= 0 || kvHeads <= 0 || vocab <= 0 || seqLen <= 0) bad = "non-positive dimensions";
        else if (dim > 65536 || hidden > 262144 || layers > 1024 || vocab > 1 << 22 || seqLen > 1 << 22) bad = "implausibly large dimensions";
        else if (dim % heads != 0 || heads % kvHeads != 0) bad = "dim not divisible by heads, or heads by kv heads";
        else if (version == 2 && (groupSize <= 0 || dim % groupSize != 0 || hidden % groupSize != 0)) bad = "group size " + groupSize + " does not divide the dimensions";
        if (bad != null) {
            throw new ModelFileException(String.format("%s is not a model file kvserve reads: it has no GGUF magic, and as a llama2.c checkpoint its header is invalid (%s: dim=%d hidden=%d layers=%d heads=%d kv_heads=%d vocab=%d seq_len=%d)",
                    path, bad, dim, hidden, layers, heads, kvHeads, vocab, seqLen));
        }
        int headSize = dim / heads;
        int kvDim = kvHeads * headSize;
        ModelConfig config = new ModelConfig("llama", dim, layers, heads, kvHeads, headSize, hidden, vocab, seqLen, 1e-5f,
                10000f, headSize, RopeLayout.ADJACENT_PAIRS, null, 1f);
        Reader r = new Reader(path, file, pos, arena);
        ModelWeights weights;
        if (version == 2) {
            float[][] rmsAtt = r.vectors(layers, dim), rmsFfn = r.vectors(layers, dim);
            float[] rmsFinal = r.vector(dim);
            Matrix emb = r.q8("tok_embeddings", vocab, dim, groupSize);
            Matrix[] wq = r.q8s("wq", layers, dim, dim, groupSize), wk = r.q8s("wk", layers, kvDim, dim, groupSize),
                    wv = r.q8s("wv", layers, kvDim, dim, groupSize), wo = r.q8s("wo", layers, dim, dim, groupSize),
                    w1 = r.q8s("w1", layers, hidden, dim, groupSize), w2 = r.q8s("w2", layers, dim, hidden, groupSize),
                    w3 = r.q8s("w3", layers, hidden, dim, groupSize);
            Matrix out = shared ? emb : r.q8("output", vocab, dim, groupSize);
            weights = assemble(rmsAtt, wq, wk, wv, wo, rmsFfn, w1, w2, w3, emb, rmsFinal, out);
        } else if (version == 1) {
            float[][] rmsAtt = r.vectors(layers, dim), rmsFfn = r.vectors(layers, dim);
            float[] rmsFinal = r.vector(dim);
            Matrix emb = r.f32("tok_embeddings", vocab, dim);
            Matrix[] wq = r.f32s("wq", layers, dim, dim), wk = r.f32s("wk", layers, kvDim, dim), wv = r.f32s("wv", layers, kvDim, dim),
                    wo = r.f32s("wo", layers, dim, dim), w1 = r.f32s("w1", layers, hidden, dim), w2 = r.f32s("w2", layers, dim, hidden),
                    w3 = r.f32s("w3", layers, hidden, dim);
            Matrix out = shared ? emb : r.f32("output", vocab, dim);
            weights = assemble(rmsAtt, wq, wk, wv, wo, rmsFfn, w1, w2, w3, emb, rmsFinal, out);
        } else {
            Matrix emb = r.f32("tok_embeddings", vocab, dim);
            float[][] rmsAtt = r.vectors(layers, dim);
            Matrix[] wq = r.f32s("wq", layers, dim, dim), wk = r.f32s("wk", layers, kvDim, dim), wv = r.f32s("wv", layers, kvDim, dim),
                    wo = r.f32s("wo", layers, dim, dim);
            float[][] rmsFfn = r.vectors(layers, dim);
            Matrix[] w1 = r.f32s("w1", layers, hidden, dim), w2 = r.f32s("w2", layers, dim, hidden), w3 = r.f32s("w3", layers, hidden, dim);
            float[] rmsFinal = r.vector(dim);
            r.skip("freq_cis", 2L * seqLen * (headSize / 2) * 4);
            Matrix out = shared ? emb : r.f32("output", vocab, dim);
            weights = assemble(rmsAtt, wq, wk, wv, wo, rmsFfn, w1, w2, w3, emb, rmsFinal, out);
        }
        Path tokPath = tokenizerPath != null ? tokenizerPath : findTokenizer(path, vocab);
        if (!Files.exists(tokPath)) throw new NoSuchFileException(tokPath.toString(), null, "llama2.c tokenizer file not found (give --tokenizer PATH)");
        Tokenizer tok = Tokenizer.fromLlama2c(tokPath, vocab);
        String name = path.getFileName().toString().replaceFirst("\\.bin$", "");
        return new Model(name, path, config, weights, tok, null, null, arena::close);
    }

    private static Path findTokenizer(Path model, int vocab) {
        Path dir = model.toAbsolutePath().getParent();
        Path generic = dir.resolve("tokenizer.bin");
        Path sized = dir.resolve("tok" + vocab + ".bin");
        return Files.exists(sized) ? sized : generic;
    }

    private static ModelWeights assemble(float[][] rmsAtt, Matrix[] wq, Matrix[] wk, Matrix[] wv, Matrix[] wo, float[][] rmsFfn,
                                         Matrix[] w1, Matrix[] w2, Matrix[] w3, Matrix emb, float[] rmsFinal, Matrix out) {
        List<LayerWeights> layers = new ArrayList<>();
        for (int l = 0; l < rmsAtt.length; l++) {
            layers.add(new LayerWeights(rmsAtt[l], wq[l], wk[l], wv[l], wo[l], null, null, null, null, null, rmsFfn[l], w1[l], w3[l], w2[l]));
        }
        return new ModelWeights(emb, List.copyOf(layers), rmsFinal, out);
    }

    /** Sequential reader that checks every tensor against the file size. */
    private static final class Reader {
        final Path path;
        final MemorySegment file;
        final Arena arena;
        long pos;

        Reader(Path path, MemorySegment file, long pos, Arena arena) {
            this.path = path;
            this.file = file;
            this.pos = pos;
            this.arena = arena;
        }

        MemorySegment take(String what, long bytes) {
            long end = Math.addExact(pos, bytes);
            if (end > file.byteSize()) {
                throw new ModelFileException(String.format("%s: tensor '%s' [offset %d, %d bytes] ends past the file (size %d): the model is corrupted or incomplete",
                        path, what, pos, bytes, file.byteSize()));
            }
            MemorySegment s = file.asSlice(pos, bytes);
            pos = end;
            return s;
        }

        void skip(String what, long bytes) {
            take(what, bytes);
        }

        float[] vector(int n) {
            MemorySegment s = take("rms weights", 4L * n);
            float[] v = new float[n];
            MemorySegment.copy(s, F32, 0, v, 0, n);
            return v;
        }

        float[][] vectors(int count, int n) {
            float[][] r = new float[count][];
            for (int i = 0; i < count; i++) r[i] = vector(n);
            return r;
        }

        Matrix f32(String name, int rows, int cols) {
            return new Matrix(name, GgmlType.F32, take(name, Math.multiplyExact(4L * rows, cols)), rows, cols);
        }

        Matrix[] f32s(String name, int layers, int rows, int cols) {
            Matrix[] m = new Matrix[layers];
            for (int l = 0; l < layers; l++) m[l] = f32("layers." + l + "." + name, rows, cols);
            return m;
        }

        /** int8 values then one fp32 scale per group, dequantised into an F32 matrix. */
        Matrix q8(String name, int rows, int cols, int group) {
            long n = (long) rows * cols;
            MemorySegment q = take(name + " (int8)", n);
            MemorySegment s = take(name + " (scales)", 4 * (n / group));
            MemorySegment dst = arena.allocate(4 * n, 64);
            for (long i = 0; i < n; i++) {
                float scale = s.get(F32, 4 * (i / group));
                dst.set(F32, 4 * i, q.get(ValueLayout.JAVA_BYTE, i) * scale);
            }
            return new Matrix(name, GgmlType.F32, dst, rows, cols);
        }

        Matrix[] q8s(String name, int layers, int rows, int cols, int group) {
            Matrix[] m = new Matrix[layers];
            for (int l = 0; l < layers; l++) m[l] = q8("layers." + l + "." + name, rows, cols, group);
            return m;
        }
    }
}
