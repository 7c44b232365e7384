package io.kvserve.kvcache.press;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;
import java.util.function.Function;

/**
 * Every press by name, for the command line, the evaluation harness and the test matrix.
 *
 * <p>Grammar: {@code spec := chain ('>' chain)*} (composition, in order);
 * {@code chain := press ('/' chain)?} (a wrapper and the press it wraps);
 * {@code press := name (':' key=value (',' key=value)*)?}. {@code none} is no press. Examples:
 * {@code snapkv:ratio=0.5}, {@code adakv/snapkv:ratio=0.5}, {@code decode:every=16/h2o:ratio=0.5},
 * {@code perlayer:keep=0.9;0.7;0.5;0.4;0.3/knorm}, {@code streamingllm:ratio=0.5>quantize:type=q8_0},
 * {@code less:rank=8/decode:every=16/h2o:ratio=0.5} (LESS outermost: it absorbs what the chain inside evicts).
 */
public final class PressRegistry {
    private PressRegistry() {}

    /** Presses that stand alone: name to parser. */
    public static final Map<String, Function<PressParams, KvPress>> BASELINES = new LinkedHashMap<>();
    /** Presses that wrap a scoring press: name to constructor. */
    public static final Map<String, BiFunction<PressParams, ScorerPress, KvPress>> WRAPPERS = new LinkedHashMap<>();

    static {
        BASELINES.put("streamingllm", StreamingLlmPress::parse);
        BASELINES.put("h2o", H2oPress::parse);
        BASELINES.put("snapkv", SnapKvPress::parse);
        BASELINES.put("tova", TovaPress::parse);
        BASELINES.put("knorm", KeyNormPress::parse);
        BASELINES.put("pyramidkv", PyramidKvPress::parse);
        BASELINES.put("random", RandomPress::parse);
        BASELINES.put("quantize", QuantizePress::parse);
        BASELINES.put("lagkv", LagKvPress::parse);
        BASELINES.put("dynamickv", DynamicKvPress::parse);
        BASELINES.put("prefixkv", PrefixKvPress::parse);
        BASELINES.put("elitekv", EliteKvPress::parse);
        BASELINES.put("fastkv", FastKvPress::parse);
        BASELINES.put("kvzip", KvzipPress::parse);
        WRAPPERS.put("adakv", (p, in) -> new AdaKvPress(in, p.real("safeguard", 0.2)));
        WRAPPERS.put("perlayer", (p, in) -> new PerLayerBudgetPress(in, p.reals("keep")));
        WRAPPERS.put("decode", (p, in) -> new DecodePress(in, p.integer("every", 16)));
        WRAPPERS.put("kvcrush", (p, in) -> new KvCrushPress(in, p.real("crush", 0.1), p.string("anchor", "mean")));
        WRAPPERS.put("less", LessPress::parse);
    }

    /** Every name the parser accepts. */
    public static List<String> names() {
        List<String> all = new ArrayList<>(BASELINES.keySet());
        all.addAll(WRAPPERS.keySet());
        all.add("none");
        return all;
    }

    /** The press a spec names, or null for {@code none}. Bad names and parameters are an {@link IllegalArgumentException}. */
    public static KvPress parse(String spec) {
        if (spec == null || spec.isBlank()) throw new IllegalArgumentException("empty press spec; give e.g. snapkv:ratio=0.5 or none");
        String s = spec.trim();
        if (s.equals("none")) return null;
        String[] parts = s.split(">");
        if (parts.length == 1) return chain(s, spec);
        List<KvPress> presses = new ArrayList<>();
        for (String part : parts) {
            KvPress p = chain(part.trim(), spec);
            if (p != null) presses.add(p);
        }
        return presses.size() == 1 ? presses.get(0) : new ComposedPress(presses);
    }

    private static KvPress chain(String s, String whole) {
        if (s.isEmpty()) throw new IllegalArgumentException("empty press in '" + whole + "'");
        if (s.equals("none")) return null;
        int slash = s.indexOf('/');
        int colon0 = s.indexOf(':');
        // a press that wraps nothing may have '/' in its parameters (prefixkv:profile=/tmp/p.json)
        if (colon0 >= 0 && slash > colon0 && !WRAPPERS.containsKey(s.substring(0, colon0).trim().toLowerCase(java.util.Locale.ROOT))) slash = -1;
        String head = slash < 0 ? s : s.substring(0, slash);
        int colon = head.indexOf(':');
        String name = (colon < 0 ? head : head.substring(0, colon)).trim().toLowerCase(java.util.Locale.ROOT);
        PressParams params = new PressParams(name, colon < 0 ? null : head.substring(colon + 1));
        KvPress press;
        if (WRAPPERS.containsKey(name)) {
            if (slash < 0) throw new IllegalArgumentException("'" + name + "' wraps another press: write " + name + "/snapkv:ratio=0.5");
            KvPress inner = chain(s.substring(slash + 1), whole);
            if (!(inner instanceof ScorerPress sp)) {
                throw new IllegalArgumentException("'" + name + "' wraps a scoring press (one of " + scorerNames() + "), not '" + s.substring(slash + 1) + "'");
            }
            press = WRAPPERS.get(name).apply(params, sp);
        } else if (BASELINES.containsKey(name)) {
            if (slash >= 0) throw new IllegalArgumentException("'" + name + "' does not wrap another press; wrappers are " + WRAPPERS.keySet());
            press = BASELINES.get(name).apply(params);
        } else {
            throw new IllegalArgumentException("unknown press '" + name + "' in '" + whole + "'; known presses: " + String.join(", ", names()));
        }
        params.done();
        return press;
    }

    private static String scorerNames() {
        return String.join(", ", BASELINES.keySet().stream().filter(n -> !n.equals("quantize") && !n.equals("elitekv")).toList());
    }
}
