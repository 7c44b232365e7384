package io.kvserve.router.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads routing JSONL: one object per line with {@code prompt}, {@code task}, {@code outcomes} (model to score)
 * and optional {@code costs} (model to cost). The model set comes from the first line and must be the same on every
 * line. Without per-row costs, a cost proxy of price x estimated prompt tokens is used when a sibling
 * {@code <name>.models.json} lists per-model prices ({@code model}, {@code input_price} in $ per 1M tokens); otherwise
 * every call costs 1.
 */
public final class RoutingDataLoader {
    private static final ObjectMapper JSON = new ObjectMapper();

    private RoutingDataLoader() {}

    public static RoutingDataset load(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new RoutingDataException("routing data file " + file + " does not exist or is not a file: pass --data FILE");
        }
        Map<String, Double> prices = loadPrices(siblingModelsFile(file));
        try (BufferedReader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            return read(r, file.toString(), prices);
        } catch (IOException e) {
            throw new RoutingDataException("cannot read routing data " + file + ": " + e.getMessage(), e);
        }
    }

    static Path siblingModelsFile(Path file) {
        String name = file.getFileName().toString();
        String stem = name.endsWith(".jsonl") ? name.substring(0, name.length() - 6) : name;
        return file.resolveSibling(stem + ".models.json");
    }

    /** Per-model price in $ per 1M input tokens from a models.json list; empty map when the file is absent. */
    public static Map<String, Double> loadPrices(Path modelsJson) {
        Map<String, Double> prices = new LinkedHashMap<>();
        if (!Files.isRegularFile(modelsJson)) return prices;
        try {
            JsonNode root = JSON.readTree(modelsJson.toFile());
            Iterable<JsonNode> entries = root.isArray() ? root : root.path("models");
            for (JsonNode n : entries) {
                if (n.hasNonNull("model") && n.path("input_price").isNumber()) {
                    prices.put(n.get("model").asText(), n.get("input_price").asDouble());
                }
            }
            if (prices.isEmpty() && root.isObject()) {
                for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
                    var e = it.next();
                    if (e.getValue().path("input_price").isNumber()) prices.put(e.getKey(), e.getValue().get("input_price").asDouble());
                }
            }
        } catch (IOException e) {
            throw new RoutingDataException("cannot parse model prices " + modelsJson + ": " + e.getMessage(), e);
        }
        return prices;
    }

    /** Rough token count for cost proxies: about 4 characters per token, at least 1. */
    public static int estimateTokens(String text) {
        return Math.max(1, (text.length() + 3) / 4);
    }

    public static RoutingDataset read(Reader in, String source, Map<String, Double> prices) throws IOException {
        BufferedReader r = in instanceof BufferedReader b ? b : new BufferedReader(in);
        List<String> models = null;
        List<RoutingExample> rows = new ArrayList<>();
        boolean anyCosts = false;
        String line;
        int lineNo = 0;
        while ((line = r.readLine()) != null) {
            lineNo++;
            if (line.isBlank()) continue;
            String where = source + ":" + lineNo;
            JsonNode n;
            try {
                n = JSON.readTree(line);
            } catch (IOException e) {
                throw new RoutingDataException(where + ": not a JSON object (" + firstLine(e.getMessage()) + "): each line must be one JSON object");
            }
            if (n == null || !n.isObject()) throw new RoutingDataException(where + ": expected a JSON object per line");
            JsonNode prompt = n.get("prompt");
            if (prompt == null || !prompt.isTextual()) throw new RoutingDataException(where + ": missing string field 'prompt'");
            JsonNode outcomes = n.get("outcomes");
            if (outcomes == null || !outcomes.isObject() || outcomes.isEmpty()) {
                throw new RoutingDataException(where + ": missing object field 'outcomes' (model name -> score)");
            }
            List<String> names = new ArrayList<>();
            outcomes.fieldNames().forEachRemaining(names::add);
            if (models == null) {
                models = List.copyOf(names);
            } else if (!(names.size() == models.size() && models.containsAll(names))) {
                throw new RoutingDataException(where + ": outcomes name models " + names + " but line 1 named " + models + ": every line must carry the same model set");
            }
            double[] scores = new double[models.size()];
            double[] costs = new double[models.size()];
            JsonNode costNode = n.get("costs");
            if (costNode != null && !costNode.isNull() && !costNode.isObject()) throw new RoutingDataException(where + ": 'costs' must be an object (model name -> cost)");
            for (int m = 0; m < models.size(); m++) {
                String model = models.get(m);
                JsonNode v = outcomes.get(model);
                if (!v.isNumber() || !Double.isFinite(v.asDouble())) throw new RoutingDataException(where + ": outcome of '" + model + "' is " + v + ", expected a finite number");
                scores[m] = v.asDouble();
                if (costNode != null && costNode.isObject()) {
                    JsonNode c = costNode.get(model);
                    if (c == null || !c.isNumber() || c.asDouble() < 0) throw new RoutingDataException(where + ": cost of '" + model + "' is " + c + ", expected a number >= 0");
                    costs[m] = c.asDouble();
                    anyCosts = true;
                } else if (prices.containsKey(model)) {
                    costs[m] = prices.get(model) * estimateTokens(prompt.asText()) / 1e6;
                } else {
                    costs[m] = 1.0;
                }
            }
            String id = n.hasNonNull("id") ? n.get("id").asText() : "line-" + lineNo;
            String task = n.hasNonNull("task") ? n.get("task").asText() : "";
            rows.add(new RoutingExample(id, prompt.asText(), task, scores, costs));
        }
        if (rows.isEmpty()) throw new RoutingDataException(source + ": no rows: expected JSONL with fields prompt, task, outcomes, optional costs");
        String costSource = anyCosts ? "per-row costs" : (models.stream().allMatch(prices::containsKey) ? "price x estimated prompt tokens ($)" : "unit cost");
        return new RoutingDataset(models, rows, costSource);
    }

    private static String firstLine(String s) {
        if (s == null) return "parse error";
        int i = s.indexOf('\n');
        return i < 0 ? s : s.substring(0, i);
    }
}
