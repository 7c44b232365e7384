package io.kvserve.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.kvserve.kernels.GgmlType;
import io.kvserve.model.gguf.GgufFile;
import io.kvserve.model.gguf.GgufTensor;
import io.kvserve.model.gguf.GgufValueType;
import io.kvserve.model.gguf.LlamaFileType;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.lang.reflect.Array;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code kvserve inspect}: what a GGUF file holds, without loading the weights. */
@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = "Print a GGUF file's header, metadata and tensor table, with totals.")
public final class InspectCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "PATH", description = "The GGUF file.")
    Path model;

    @Option(names = "--json", paramLabel = "FILE", description = "Also write the report as JSON to FILE ('-' for standard output, which then replaces the text).")
    String json;

    @Option(names = "--items", paramLabel = "N", defaultValue = "8", description = "Array elements shown before '...' (default ${DEFAULT-VALUE}).")
    int items;

    @Option(names = "--no-tensors", description = "Leave out the tensor table (totals are still printed).")
    boolean noTensors;

    private static final int MAX_STRING_CHARS = 96;

    @Override
    public Integer call() throws IOException {
        if (items < 0) throw new IllegalArgumentException("--items must be at least 0, got " + items);
        try (GgufFile f = GgufFile.open(model)) {
            Totals totals = Totals.of(f);
            if (!"-".equals(json)) printText(f, totals, spec.commandLine().getOut());
            if (json != null) writeJson(f, totals);
        }
        return 0;
    }

    // ---- text ----

    private void printText(GgufFile f, Totals totals, PrintWriter out) {
        out.printf(Locale.ROOT, "file       %s (%,d bytes)%n", f.path(), f.fileSize());
        out.printf(Locale.ROOT, "GGUF       version %d, alignment %d, tensor data at byte %,d%n", f.version(), f.alignment(), f.dataStart());
        out.printf(Locale.ROOT, "metadata   %d keys%n", f.metadata().size());
        int keyWidth = 8;
        for (String k : f.metadata().keySet()) keyWidth = Math.max(keyWidth, Math.min(k.length(), 48));
        for (String k : f.metadata().keySet()) {
            out.printf(Locale.ROOT, "  %-" + keyWidth + "s  %-10s %s%n", k, typeName(f, k), valueText(f, k));
        }
        out.printf(Locale.ROOT, "tensors    %d%n", f.tensors().size());
        if (!noTensors && !f.tensors().isEmpty()) {
            int nameWidth = 4;
            for (String n : f.tensors().keySet()) nameWidth = Math.max(nameWidth, n.length());
            String row = "  %-" + nameWidth + "s  %-6s %-22s %15s %15s%n";
            out.printf(Locale.ROOT, row, "name", "type", "shape", "file offset", "bytes");
            for (GgufTensor t : f.tensors().values()) {
                out.printf(Locale.ROOT, row, t.name(), t.type(), Arrays.toString(t.shape()), String.format(Locale.ROOT, "%,d", t.fileOffset()), String.format(Locale.ROOT, "%,d", t.byteSize()));
            }
        }
        out.printf(Locale.ROOT, "totals     %,d parameters (%s), %,d bytes of tensor data (%s)%n",
                totals.params, humanCount(totals.params), totals.bytes, humanBytes(totals.bytes));
        for (Map.Entry<GgmlType, long[]> e : totals.byType.entrySet()) {
            long[] v = e.getValue();
            out.printf(Locale.ROOT, "  %-6s %5d tensors %,18d parameters %,18d bytes%n", e.getKey(), v[0], v[1], v[2]);
        }
        out.flush();
    }

    private static String typeName(GgufFile f, String key) {
        GgufValueType t = f.valueType(key);
        if (t == GgufValueType.ARRAY) return "[" + f.arrayElementType(key).name().toLowerCase(Locale.ROOT) + "]";
        return t.name().toLowerCase(Locale.ROOT);
    }

    private String valueText(GgufFile f, String key) {
        Object v = f.metadata().get(key);
        GgufValueType t = f.valueType(key);
        if (t == GgufValueType.ARRAY) {
            GgufValueType et = f.arrayElementType(key);
            int n = Array.getLength(v);
            StringBuilder sb = new StringBuilder().append(n).append(": [");
            for (int i = 0; i < Math.min(n, items); i++) {
                if (i > 0) sb.append(", ");
                sb.append(scalarText(et, element(et, v, i)));
            }
            if (n > items) sb.append(n > 0 && items > 0 ? ", ..." : "...");
            return sb.append(']').toString();
        }
        String text = scalarText(t, v);
        if (key.equals("general.file_type") && v instanceof Number num) {
            LlamaFileType ft = LlamaFileType.byId(num.longValue());
            if (ft != null) text += " (" + ft.shortName() + ")";
        }
        return text;
    }

    /** Element {@code i} of an array value, in the Java type the scalar of that type would have. */
    private static Object element(GgufValueType et, Object array, int i) {
        return switch (et) {
            case UINT8 -> ((byte[]) array)[i] & 0xff;
            case BOOL -> ((byte[]) array)[i] != 0;
            case UINT16 -> ((short[]) array)[i] & 0xffff;
            case UINT32 -> ((int[]) array)[i] & 0xffffffffL;
            default -> Array.get(array, i);
        };
    }

    private static String scalarText(GgufValueType t, Object v) {
        return switch (t) {
            case STRING -> quote((String) v);
            case UINT64 -> Long.toUnsignedString((Long) v);
            default -> String.valueOf(v);
        };
    }

    private static String quote(String s) {
        StringBuilder sb = new StringBuilder("\"");
        int shown = 0;
        for (int i = 0; i < s.length() && shown < MAX_STRING_CHARS; i++, shown++) {
            char c = s.charAt(i);
            switch (c) {
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                default -> {
                    if (c < 0x20) sb.append(String.format("\\u%04x", (int) c));
                    else sb.append(c);
                }
            }
        }
        sb.append('"');
        if (s.length() > MAX_STRING_CHARS) sb.append("... (").append(s.length()).append(" chars)");
        return sb.toString();
    }

    // ---- JSON ----

    private void writeJson(GgufFile f, Totals totals) throws IOException {
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("file", f.path().toString());
        root.put("fileSize", f.fileSize());
        root.put("version", f.version());
        root.put("alignment", f.alignment());
        root.put("dataStart", f.dataStart());
        Map<String, Object> meta = new LinkedHashMap<>();
        for (String k : f.metadata().keySet()) {
            Map<String, Object> e = new LinkedHashMap<>();
            GgufValueType t = f.valueType(k);
            Object v = f.metadata().get(k);
            e.put("type", t.name().toLowerCase(Locale.ROOT));
            if (t == GgufValueType.ARRAY) {
                GgufValueType et = f.arrayElementType(k);
                int n = Array.getLength(v);
                e.put("elementType", et.name().toLowerCase(Locale.ROOT));
                e.put("length", n);
                List<Object> head = new ArrayList<>();
                for (int i = 0; i < Math.min(n, items); i++) head.add(jsonScalar(et, element(et, v, i)));
                e.put(n > items ? "head" : "value", head);
            } else {
                e.put("value", jsonScalar(t, v));
            }
            meta.put(k, e);
        }
        root.put("metadata", meta);
        List<Map<String, Object>> tensors = new ArrayList<>();
        for (GgufTensor t : f.tensors().values()) {
            Map<String, Object> e = new LinkedHashMap<>();
            e.put("name", t.name());
            e.put("type", t.type().name());
            e.put("shape", t.shape());
            e.put("offset", t.fileOffset());
            e.put("bytes", t.byteSize());
            tensors.add(e);
        }
        root.put("tensors", tensors);
        Map<String, Object> tot = new LinkedHashMap<>();
        tot.put("tensors", f.tensors().size());
        tot.put("params", totals.params);
        tot.put("bytes", totals.bytes);
        Map<String, Object> types = new LinkedHashMap<>();
        for (Map.Entry<GgmlType, long[]> e : totals.byType.entrySet()) {
            types.put(e.getKey().name(), Map.of("tensors", e.getValue()[0], "params", e.getValue()[1], "bytes", e.getValue()[2]));
        }
        tot.put("types", types);
        root.put("totals", tot);
        ObjectMapper mapper = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        if ("-".equals(json)) {
            PrintWriter out = spec.commandLine().getOut();
            out.println(mapper.writeValueAsString(root));
            out.flush();
        } else {
            mapper.writeValue(Path.of(json).toFile(), root);
        }
    }

    private static Object jsonScalar(GgufValueType t, Object v) {
        if (t == GgufValueType.UINT64) return new java.math.BigInteger(Long.toUnsignedString((Long) v));
        if (v instanceof Float x && !Float.isFinite(x)) return x.toString();
        if (v instanceof Double x && !Double.isFinite(x)) return x.toString();
        return v;
    }

    // ---- totals ----

    /** Parameter and byte counts, overall and per tensor type (largest first). */
    record Totals(long params, long bytes, Map<GgmlType, long[]> byType) {
        static Totals of(GgufFile f) {
            long params = 0, bytes = 0;
            Map<GgmlType, long[]> byType = new LinkedHashMap<>();
            for (GgufTensor t : f.tensors().values()) {
                params += t.elementCount();
                bytes += t.byteSize();
                long[] v = byType.computeIfAbsent(t.type(), k -> new long[3]);
                v[0]++;
                v[1] += t.elementCount();
                v[2] += t.byteSize();
            }
            Map<GgmlType, long[]> sorted = new LinkedHashMap<>();
            byType.entrySet().stream().sorted(Comparator.comparingLong((Map.Entry<GgmlType, long[]> e) -> -e.getValue()[2]))
                    .forEach(e -> sorted.put(e.getKey(), e.getValue()));
            return new Totals(params, bytes, sorted);
        }
    }

    static String humanCount(long n) {
        if (n >= 1_000_000_000L) return String.format(Locale.ROOT, "%.2fB", n / 1e9);
        if (n >= 1_000_000L) return String.format(Locale.ROOT, "%.1fM", n / 1e6);
        if (n >= 1_000L) return String.format(Locale.ROOT, "%.1fK", n / 1e3);
        return Long.toString(n);
    }

    static String humanBytes(long n) {
        if (n >= 1L << 30) return String.format(Locale.ROOT, "%.2f GiB", n / (double) (1L << 30));
        if (n >= 1L << 20) return String.format(Locale.ROOT, "%.1f MiB", n / (double) (1L << 20));
        if (n >= 1L << 10) return String.format(Locale.ROOT, "%.1f KiB", n / 1024.0);
        return n + " B";
    }
}
