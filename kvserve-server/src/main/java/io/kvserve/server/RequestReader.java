package io.kvserve.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.kvserve.engine.Engine;
import io.kvserve.model.chat.ChatMessage;
import io.kvserve.model.chat.ChatTemplate;
import io.kvserve.model.chat.ChatTemplateException;
import io.kvserve.model.sampling.SamplerConfig;
import io.kvserve.model.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;

/**
 * Checks an OpenAI request body field by field and turns it into {@link Params}. Every problem is a
 * 400 that names the field, what was expected and what came. Unknown fields are ignored (as vLLM and
 * llama.cpp do, so clients that send newer fields keep working) and listed in {@link Params#ignored()}.
 */
final class RequestReader {
    enum Kind { CHAT, COMPLETION }

    /** kvserve's extensions of the request body. */
    static final Set<String> EXTENSIONS = Set.of("priority", "tenant", "kv_press", "kv_type", "ignore_eos");
    /** Element types a request may name: the server's own (per-request re-encoding is the press {@code quantize:type=...}). */
    static final Set<String> KV_TYPES = Set.of("f32");
    /** A press parameter that names a file: only the operator's {@code --kv-press} may make the server read files. */
    private static final java.util.regex.Pattern FILE_PARAMETER = java.util.regex.Pattern.compile("(?i)(^|[:,/>])\\s*profile\\s*=");

    private static final Set<String> CHAT_FIELDS = Set.of("model", "messages", "stream", "stream_options", "n", "max_tokens",
            "max_completion_tokens", "temperature", "top_p", "stop", "seed", "logprobs", "top_logprobs", "frequency_penalty",
            "presence_penalty", "user", "priority", "tenant", "kv_press", "kv_type", "ignore_eos");
    private static final Set<String> COMPLETION_FIELDS = Set.of("model", "prompt", "stream", "stream_options", "n", "max_tokens",
            "temperature", "top_p", "stop", "seed", "logprobs", "frequency_penalty", "presence_penalty", "user", "echo", "best_of",
            "suffix", "priority", "tenant", "kv_press", "kv_type", "ignore_eos");

    /**
     * A checked request.
     *
     * @param topLogprobs -1 for no log-probabilities
     */
    record Params(Kind kind, String model, int[] prompt, int n, int maxTokens, SamplerConfig sampling, List<String> stop,
                  int topLogprobs, boolean stream, boolean includeUsage, int priority, String tenant, boolean ignoreEos, List<String> ignored,
                  String kvPress) {}

    private final Tokenizer tokenizer;
    private final ChatTemplate template;
    private final int context;
    private final Set<String> kvTypes;

    RequestReader(Tokenizer tokenizer, ChatTemplate template, int context) {
        this(tokenizer, template, context, KV_TYPES);
    }

    /** @param kvTypes element types a request may name in {@code kv_type}: the server's */
    RequestReader(Tokenizer tokenizer, ChatTemplate template, int context, Set<String> kvTypes) {
        this.tokenizer = tokenizer;
        this.template = template;
        this.context = context;
        this.kvTypes = Set.copyOf(kvTypes);
    }

    Params read(Kind kind, JsonNode body) {
        if (!(body instanceof ObjectNode obj)) throw ApiException.invalid("the request body must be a JSON object, got " + typeName(body), null);
        List<String> ignored = new ArrayList<>();
        Set<String> known = kind == Kind.CHAT ? CHAT_FIELDS : COMPLETION_FIELDS;
        for (Iterator<String> it = obj.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!known.contains(f)) ignored.add(f);
        }
        String model = optString(obj, "model");
        int[] prompt = kind == Kind.CHAT ? chatPrompt(obj) : completionPrompt(obj);
        if (prompt.length >= context) {
            throw ApiException.invalid("the prompt has " + prompt.length + " tokens but the model's context holds " + context
                    + " (prompt plus at least one generated token): shorten the prompt", kind == Kind.CHAT ? "messages" : "prompt");
        }
        int room = context - prompt.length;
        int n = optInt(obj, "n", 1, 1, 16);
        Integer maxTokens = null;
        if (kind == Kind.CHAT && has(obj, "max_completion_tokens")) maxTokens = optInt(obj, "max_completion_tokens", 0, 1, Integer.MAX_VALUE);
        else if (has(obj, "max_tokens")) maxTokens = optInt(obj, "max_tokens", 0, 1, Integer.MAX_VALUE);
        int max = maxTokens == null ? (kind == Kind.CHAT ? room : Math.min(16, room)) : Math.min(maxTokens, room);
        float temperature = (float) optNumber(obj, "temperature", 1.0, 0, 2);
        float topP = (float) optNumber(obj, "top_p", 1.0, 0, 1);
        if (topP == 0f) topP = Float.MIN_VALUE;   // OpenAI accepts 0: only the most likely token
        float freq = (float) optNumber(obj, "frequency_penalty", 0, -2, 2);
        float presence = (float) optNumber(obj, "presence_penalty", 0, -2, 2);
        long seed = Engine.RANDOM_SEED;
        if (has(obj, "seed")) {
            JsonNode s = obj.get("seed");
            if (!s.isIntegralNumber() || !s.canConvertToLong()) throw ApiException.invalid("'seed' must be an integer, got " + typeName(s), "seed");
            seed = s.asLong();
            if (seed == Engine.RANDOM_SEED) seed = Long.MAX_VALUE;   // -1 is the engine's "draw one"; keep the request reproducible
        }
        SamplerConfig sampling = new SamplerConfig(temperature, 0, topP, 0f, 1f, 64, freq, presence, seed);
        List<String> stop = stop(obj);
        int topLogprobs = -1;
        if (kind == Kind.CHAT) {
            boolean lp = optBool(obj, "logprobs", false);
            if (has(obj, "top_logprobs")) {
                int t = optInt(obj, "top_logprobs", 0, 0, 20);
                if (!lp) throw ApiException.invalid("'top_logprobs' needs 'logprobs': true", "top_logprobs");
                topLogprobs = t;
            } else if (lp) {
                topLogprobs = 0;
            }
        } else if (has(obj, "logprobs")) {
            topLogprobs = optInt(obj, "logprobs", 0, 0, 5);
        }
        if (kind == Kind.COMPLETION) {
            if (optBool(obj, "echo", false)) throw ApiException.invalid("'echo' is not supported by kvserve", "echo");
            if (has(obj, "best_of") && optInt(obj, "best_of", 1, 1, 16) != n) throw ApiException.invalid("'best_of' other than n is not supported by kvserve", "best_of");
            if (has(obj, "suffix")) throw ApiException.invalid("'suffix' is not supported by kvserve", "suffix");
        }
        boolean stream = optBool(obj, "stream", false);
        boolean includeUsage = false;
        if (has(obj, "stream_options")) {
            JsonNode so = obj.get("stream_options");
            if (!so.isObject()) throw ApiException.invalid("'stream_options' must be an object, got " + typeName(so), "stream_options");
            if (!stream) throw ApiException.invalid("'stream_options' is only allowed when 'stream' is true", "stream_options");
            includeUsage = optBool((ObjectNode) so, "include_usage", false);
        }
        if (has(obj, "user")) optString(obj, "user");
        int priority = optInt(obj, "priority", 0, -1_000_000, 1_000_000);
        String tenant = optString(obj, "tenant");
        String press = optString(obj, "kv_press");
        if (press != null) {
            if (press.isBlank()) throw ApiException.invalid("'kv_press' is empty: give a press spec such as snapkv:ratio=0.5, or none", "kv_press");
            if (press.length() > 256) throw ApiException.invalid("'kv_press' has " + press.length() + " characters; at most 256", "kv_press");
            if (FILE_PARAMETER.matcher(press).find()) {
                throw ApiException.invalid("'kv_press' may not name a file (profile=): a calibrated press is set for the whole server with"
                        + " kvserve serve --kv-press", "kv_press");
            }
        }
        String kvType = optString(obj, "kv_type");
        if (kvType != null && !kvTypes.contains(kvType)) {
            throw ApiException.invalid("'kv_type' '" + kvType + "' is not this server's KV element type " + kvTypes
                    + " (kvserve serve --kv-type sets it); to re-encode one request's KV use e.g. \"kv_press\": \"quantize:type=q8_0\"", "kv_type");
        }
        return new Params(kind, model, prompt, n, max, sampling, stop, topLogprobs, stream, includeUsage, priority,
                tenant == null ? "" : tenant, optBool(obj, "ignore_eos", false), ignored, press);
    }

    private int[] chatPrompt(ObjectNode obj) {
        JsonNode msgs = obj.get("messages");
        if (msgs == null || msgs.isNull()) throw ApiException.invalid("'messages' is required", "messages");
        if (!msgs.isArray() || msgs.isEmpty()) throw ApiException.invalid("'messages' must be a non-empty array, got " + typeName(msgs), "messages");
        List<ChatMessage> messages = new ArrayList<>();
        for (int i = 0; i < msgs.size(); i++) {
            JsonNode m = msgs.get(i);
            String where = "messages[" + i + "]";
            if (!m.isObject()) throw ApiException.invalid("'" + where + "' must be an object, got " + typeName(m), where);
            JsonNode role = m.get("role");
            if (role == null || !role.isTextual()) throw ApiException.invalid("'" + where + ".role' must be a string", where + ".role");
            String r = role.asText();
            if (!Set.of("system", "developer", "user", "assistant", "tool").contains(r)) {
                throw ApiException.invalid("'" + where + ".role' must be one of system, developer, user, assistant, tool; got '" + r + "'", where + ".role");
            }
            messages.add(new ChatMessage(r.equals("developer") ? "system" : r, content(m.get("content"), where + ".content")));
        }
        String rendered;
        try {
            rendered = template.render(messages, true);
        } catch (ChatTemplateException e) {
            throw ApiException.invalid("the model's chat template rejected the messages: " + e.getMessage(), "messages");
        }
        String bos = tokenizer.bosId() >= 0 ? tokenizer.tokenPiece(tokenizer.bosId()) : "";
        boolean addBos = tokenizer.addBosByDefault() && (bos.isEmpty() || !rendered.startsWith(bos));
        return tokenizer.encode(rendered, addBos, true);
    }

    private static String content(JsonNode c, String where) {
        if (c == null || c.isNull()) return "";
        if (c.isTextual()) return c.asText();
        if (c.isArray()) {
            StringBuilder sb = new StringBuilder();
            for (int j = 0; j < c.size(); j++) {
                JsonNode part = c.get(j);
                JsonNode type = part.get("type");
                if (!part.isObject() || type == null || !"text".equals(type.asText()) || !part.path("text").isTextual()) {
                    throw ApiException.invalid("'" + where + "[" + j + "]' must be a {\"type\": \"text\", \"text\": ...} part (kvserve serves text models)", where);
                }
                sb.append(part.get("text").asText());
            }
            return sb.toString();
        }
        throw ApiException.invalid("'" + where + "' must be a string or an array of text parts, got " + typeName(c), where);
    }

    private int[] completionPrompt(ObjectNode obj) {
        JsonNode p = obj.get("prompt");
        if (p == null || p.isNull()) throw ApiException.invalid("'prompt' is required", "prompt");
        if (p.isTextual()) return encode(p.asText());
        if (p.isArray() && p.size() == 1 && p.get(0).isTextual()) return encode(p.get(0).asText());
        if (p.isArray() && !p.isEmpty() && p.get(0).isIntegralNumber()) {
            int[] ids = new int[p.size()];
            for (int i = 0; i < ids.length; i++) {
                JsonNode t = p.get(i);
                if (!t.isIntegralNumber() || t.asLong() < 0 || t.asLong() >= tokenizer.vocabSize()) {
                    throw ApiException.invalid("'prompt[" + i + "]' must be a token id in [0, " + tokenizer.vocabSize() + "), got " + t, "prompt");
                }
                ids[i] = t.asInt();
            }
            return ids;
        }
        if (p.isArray() && p.size() > 1) throw ApiException.invalid("'prompt' with several prompts is not supported: send one request per prompt", "prompt");
        throw ApiException.invalid("'prompt' must be a string, an array of one string or an array of token ids, got " + typeName(p), "prompt");
    }

    private int[] encode(String text) {
        int[] ids = tokenizer.encode(text, tokenizer.addBosByDefault(), false);
        if (ids.length == 0) throw ApiException.invalid("'prompt' is empty and the model has no BOS token to start from", "prompt");
        return ids;
    }

    private static List<String> stop(ObjectNode obj) {
        if (!has(obj, "stop")) return List.of();
        JsonNode s = obj.get("stop");
        List<String> out = new ArrayList<>();
        if (s.isTextual()) out.add(s.asText());
        else if (s.isArray()) {
            if (s.size() > 4) throw ApiException.invalid("'stop' holds at most 4 strings, got " + s.size(), "stop");
            for (JsonNode e : s) {
                if (!e.isTextual()) throw ApiException.invalid("'stop' must hold strings, got " + typeName(e), "stop");
                out.add(e.asText());
            }
        } else throw ApiException.invalid("'stop' must be a string or an array of strings, got " + typeName(s), "stop");
        for (String x : out) if (x.isEmpty()) throw ApiException.invalid("'stop' strings must be non-empty", "stop");
        return out;
    }

    static boolean has(ObjectNode obj, String f) {
        JsonNode v = obj.get(f);
        return v != null && !v.isNull();
    }

    static String optString(ObjectNode obj, String f) {
        if (!has(obj, f)) return null;
        JsonNode v = obj.get(f);
        if (!v.isTextual()) throw ApiException.invalid("'" + f + "' must be a string, got " + typeName(v), f);
        return v.asText();
    }

    static boolean optBool(ObjectNode obj, String f, boolean def) {
        if (!has(obj, f)) return def;
        JsonNode v = obj.get(f);
        if (!v.isBoolean()) throw ApiException.invalid("'" + f + "' must be a boolean, got " + typeName(v), f);
        return v.asBoolean();
    }

    static int optInt(ObjectNode obj, String f, int def, int min, int max) {
        if (!has(obj, f)) return def;
        JsonNode v = obj.get(f);
        if (!v.isIntegralNumber() && !(v.isNumber() && v.asDouble() == Math.rint(v.asDouble()))) {
            throw ApiException.invalid("'" + f + "' must be an integer, got " + typeName(v), f);
        }
        long x = v.asLong();
        if (!v.canConvertToLong() || x < min || x > max) {
            throw ApiException.invalid("'" + f + "' must be in [" + min + ", " + max + "], got " + v.asText(), f);
        }
        return (int) x;
    }

    static double optNumber(ObjectNode obj, String f, double def, double min, double max) {
        if (!has(obj, f)) return def;
        JsonNode v = obj.get(f);
        if (!v.isNumber()) throw ApiException.invalid("'" + f + "' must be a number, got " + typeName(v), f);
        double x = v.asDouble();
        if (!(x >= min && x <= max)) throw ApiException.invalid("'" + f + "' must be in [" + min + ", " + max + "], got " + v.asText(), f);
        return x;
    }

    static String typeName(JsonNode v) {
        if (v == null || v.isNull()) return "null";
        if (v.isTextual()) return "a string";
        if (v.isBoolean()) return "a boolean";
        if (v.isNumber()) return "a number";
        if (v.isArray()) return "an array";
        if (v.isObject()) return "an object";
        return v.getNodeType().toString().toLowerCase();
    }
}
