package io.kvserve.kvcache.press;

import io.kvserve.kvcache.KvStorage;
import io.kvserve.kvcache.PagedKvCache;
import io.kvserve.model.Model;
import io.kvserve.model.TestAssets;
import io.kvserve.model.WorkerPool;
import io.kvserve.model.generate.Generator;
import io.kvserve.model.generate.TokenChooser;
import io.kvserve.model.gguf.GgufFile;
import io.kvserve.model.synth.ModelShape;
import io.kvserve.model.synth.ModelSynthesizer;
import io.kvserve.model.synth.QuantRecipe;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every press of the registry under every wrapper (none, AdaKV per-head budgets, per-layer
 * budgets, decode-time compression, composition with quantisation, LESS's absorbing state), on stories260K (head dim 8)
 * and on a tiny synthesized Llama (head dim 16): a 48-token prompt is prefilled and 12 tokens
 * are generated. Stored counts hold their budgets, page counts match the stored tokens, the
 * allocator's books balance, and the bytes in use fall below the uncompressed cache's.
 */
class PressMatrixTest {
    @TempDir
    static Path dir;
    static Model stories, synth;
    static final int PROMPT = 48, DECODE = 12, PAGE = 4;

    @BeforeAll
    static void load() throws Exception {
        stories = Model.load(TestAssets.require("models/stories260K.gguf"), null);
        Path f = dir.resolve("tiny.gguf");
        try (GgufFile vocab = GgufFile.open(TestAssets.require("models/stories260K.gguf"))) {
            ModelSynthesizer.writer(ModelShape.custom("llama", 64, 2, 4, 2, 128, 16, 256, true), QuantRecipe.F32, vocab, 3).write(f);
        }
        synth = Model.load(f, null);
    }

    @AfterAll
    static void close() throws Exception {
        if (stories != null) stories.close();
        if (synth != null) synth.close();
    }

    static Stream<Arguments> matrix() {
        List<String> base = new ArrayList<>();
        for (String name : PressRegistry.BASELINES.keySet()) {
            if (!name.equals("quantize") && !name.equals("elitekv")) base.add(name + ":ratio=0.5");
        }
        List<Arguments> all = new ArrayList<>();
        for (String model : new String[] {"stories260K", "synth"}) {
            for (String b : base) {
                all.add(Arguments.of(model, b));
                all.add(Arguments.of(model, "adakv/" + b));
                all.add(Arguments.of(model, "perlayer:keep=0.6/" + b));
                all.add(Arguments.of(model, "decode:every=4/" + b));
                all.add(Arguments.of(model, b + ">quantize:type=q8_0"));
                all.add(Arguments.of(model, "kvcrush/" + b));
                all.add(Arguments.of(model, "less:map=random/" + b));
                all.add(Arguments.of(model, "less:map=random,rank=4/decode:every=4/" + b));
            }
            all.add(Arguments.of(model, "quantize:type=kivi2,residual=8"));
            all.add(Arguments.of(model, "elitekv:elite=1,rank=2"));
            all.add(Arguments.of(model, "elitekv"));
            all.add(Arguments.of(model, "decode:every=4/snapkv:ratio=0.5>elitekv:elite=2,rank=4"));
        }
        return all.stream();
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("matrix")
    void pressKeepsBudgetsPagesAndBooks(String modelName, String spec) {
        Model m = modelName.equals("synth") ? synth : stories;
        KvPress press = PressRegistry.parse(spec);
        assertThat(PressRegistry.parse(press.spec()).spec()).as("spec round trip").isEqualTo(press.spec());
        press = EliteKvPress.calibrateIfNeeded(press, () -> calibrate(m));
        long plain;
        try (PagedKvCache ref = run(m, null)) {
            plain = ref.bytesInUse();
        }
        PagedKvCache c = run(m, press);
        try {
            int seq = c.openSequences().getFirst();
            io.kvserve.kvcache.CacheInvariants.check(c);
            int length = c.length(seq);
            assertThat(length).isEqualTo(PROMPT + DECODE - 1);
            boolean quantizeOnly = press instanceof QuantizePress || press instanceof EliteKvPress;
            int grown = DECODE - 1;
            int perStream = spec.startsWith("perlayer") ? Math.round(0.6f * PROMPT) : PROMPT / 2;
            for (int l = 0; l < c.layers(); l++) {
                int layerTotal = 0;
                for (int h = 0; h < c.kvHeads(); h++) {
                    int stored = c.storedTokens(seq, l, h);
                    layerTotal += stored;
                    if (quantizeOnly) assertThat(stored).isEqualTo(length);
                    else if (press.decodeInterval() > 0) assertThat(stored).as("layer %d head %d", l, h).isLessThanOrEqualTo(PROMPT + press.decodeInterval());
                    else if (!spec.contains("adakv") && !perLayerBudgets(spec) && !spec.contains("kvzip")) {
                        assertThat(stored).as("layer %d head %d", l, h).isLessThanOrEqualTo(perStream + grown);
                    }
                    if (!spec.contains("quantize")) assertThat(c.pages(seq, l, h)).as("pages of layer %d head %d", l, h).hasSize((stored + PAGE - 1) / PAGE);
                }
                if (spec.startsWith("adakv") && !perLayerBudgets(spec)) assertThat(layerTotal).as("AdaKV layer %d budget", l).isLessThanOrEqualTo(c.kvHeads() * (perStream + grown));
                if (!quantizeOnly) assertThat(layerTotal).as("layer %d evicted something", l).isLessThan(c.kvHeads() * length);
            }
            if (spec.contains("kvzip")) { // one pool over all layers and heads: only the whole cache has a budget
                int all = 0;
                for (int l = 0; l < c.layers(); l++) for (int h = 0; h < c.kvHeads(); h++) all += c.storedTokens(seq, l, h);
                assertThat(all).as("KVzip whole-cache budget").isLessThanOrEqualTo(c.layers() * c.kvHeads() * (perStream + grown));
            }
            if (press instanceof LessPress) {
                long absorbed = 0;
                for (int l = 0; l < c.layers(); l++) for (int h = 0; h < c.kvHeads(); h++) absorbed += c.absorbedTokens(seq, l, h);
                long stored = 0;
                for (int l = 0; l < c.layers(); l++) for (int h = 0; h < c.kvHeads(); h++) stored += c.storedTokens(seq, l, h);
                assertThat(absorbed + stored).as("every token is either stored or absorbed, once").isEqualTo((long) c.layers() * c.kvHeads() * length);
            }
            assertThat(c.bytesInUse()).as("compression frees pages").isLessThan(plain);
            c.release(seq);
            assertThat(c.bytesInUse()).isZero();
        } finally {
            c.close();
        }
    }

    /** EliteKV calibrated on two short TinyStories-like prompts of the model's vocabulary. */
    private static io.kvserve.kvcache.elitekv.EliteKvProfile calibrate(Model m) {
        int[] a = new int[40], b = new int[56];
        a[0] = b[0] = 1;
        for (int i = 1; i < a.length; i++) a[i] = 300 + (i * 13) % 150;
        for (int i = 1; i < b.length; i++) b[i] = 270 + (i * 29) % 190;
        return io.kvserve.kvcache.elitekv.EliteKvCalibrator.calibrate(m.newForwardPass(16, WorkerPool.shared()), List.of(a, b), null);
    }

    /** Presses whose layers keep different shares (the per-stream bound holds only on average). */
    private static boolean perLayerBudgets(String spec) {
        return spec.contains("pyramidkv") || spec.contains("dynamickv") || spec.contains("prefixkv");
    }

    private static PagedKvCache run(Model m, KvPress press) {
        var cfg = m.config();
        PagedKvCache c = new PagedKvCache(cfg.nLayers(), cfg.nKvHeads(), cfg.headDim(), cfg.groupSize(), 256,
                KvStorage.of(io.kvserve.kvcache.KvElementType.F16), PAGE, 1L << 26, press);
        int[] prompt = new int[PROMPT];
        prompt[0] = 1;
        for (int i = 1; i < PROMPT; i++) prompt[i] = 260 + (i * 37) % 200;
        Generator g = new Generator(m, 16, WorkerPool.shared());
        int seq = c.open();
        g.generate(c, seq, prompt, 0, DECODE, TokenChooser.greedy(), t -> true, null);
        return c;
    }
}
