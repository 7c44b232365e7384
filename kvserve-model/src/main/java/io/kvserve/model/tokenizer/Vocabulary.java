package io.kvserve.model.tokenizer;

import io.kvserve.model.ModelFileException;
import io.kvserve.model.gguf.GgufFile;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A GGUF vocabulary as llama.cpp's {@code llama_vocab::impl::load} reads it: token texts, scores and
 * types, the special ids, the end-of-generation set and the list of tokens that are split out of raw
 * text before tokenization. Immutable, so one instance serves every thread.
 */
final class Vocabulary {
    // llama.cpp (2026) finds these tokens by their text, because converters do not always write their ids
    private static final List<String> EOT_TEXTS = List.of("<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>",
            "<|endoftext|>", "<|end_of_text|>", "<EOT>", "_<EOT>", "[EOT]", "<end_of_utterance>");
    private static final List<String> EOM_TEXTS = List.of("<|eom_id|>");
    private static final List<String> FIM_PRE_TEXTS = List.of("<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<PRE>", "<|code_prefix|>", "<|prefix|>");
    private static final List<String> FIM_SUF_TEXTS = List.of("<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<SUF>", "<|code_suffix|>", "<|suffix|>");
    private static final List<String> FIM_MID_TEXTS = List.of("<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<MID>", "<|code_middle|>", "<|middle|>");
    private static final List<String> FIM_PAD_TEXTS = List.of("<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]");
    private static final List<String> FIM_REP_TEXTS = List.of("<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>");
    private static final List<String> FIM_SEP_TEXTS = List.of("<|file_sep|>");
    /** End of generation by text; "</s>" came with PaddleOCR and also catches vocabularies where it is plain text (Qwen). */
    private static final List<String> EOG_TEXTS = List.of("<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>",
            "<|flush|>", "<|calls|>", "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]",
            "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>");
    /** gpt-oss (harmony) markers that llama.cpp always renders. */
    private static final List<String> ALWAYS_RENDERED = List.of("<|channel|>", "<|message|>", "<|start|>", "<|constrain|>");

    final String[] texts;
    final float[] scores;
    final TokenType[] types;
    private final Map<String, Integer> ids;
    final int bos;
    final int eos;
    final int unk;
    final boolean addBos;
    private final boolean[] endOfGeneration;
    /** Control, user-defined and unknown tokens, longest UTF-8 text first, as llama.cpp's cache_special_tokens. */
    private final int[] splitTokens;
    /** Tokens that swallow the whitespace before (lstrip) or after (rstrip) them when split out of text. */
    private final boolean[] lstrip;
    private final boolean[] rstrip;

    private Vocabulary(String[] texts, float[] scores, TokenType[] types, Map<String, Integer> ids,
                       int bos, int eos, int unk, boolean addBos, boolean[] endOfGeneration, boolean[] lstrip, boolean[] rstrip) {
        this.texts = texts;
        this.scores = scores;
        this.types = types;
        this.ids = ids;
        this.bos = bos;
        this.eos = eos;
        this.unk = unk;
        this.addBos = addBos;
        this.endOfGeneration = endOfGeneration;
        this.splitTokens = splitTokens(texts, types);
        this.lstrip = lstrip;
        this.rstrip = rstrip;
    }

    /**
     * Reads {@code tokenizer.ggml.*} from a GGUF file. The defaults are those llama.cpp uses for the
     * tokenizer model; a special id in the file that is out of range is ignored, as llama.cpp does.
     */
    static Vocabulary fromGguf(GgufFile f, int defaultBos, int defaultEos, int defaultUnk, boolean defaultAddBos) {
        String[] texts = f.getStringArray("tokenizer.ggml.tokens");
        if (texts == null) throw new ModelFileException(f.path() + ": metadata 'tokenizer.ggml.tokens' is missing: the file has no vocabulary (convert it again with the tokenizer)");
        int n = texts.length;
        if (n == 0) throw new ModelFileException(f.path() + ": 'tokenizer.ggml.tokens' is empty: the vocabulary is corrupted");
        float[] scores = f.getFloatArray("tokenizer.ggml.scores");
        if (scores != null && scores.length != n) {
            throw new ModelFileException(f.path() + ": 'tokenizer.ggml.scores' has " + scores.length + " entries but there are " + n + " tokens: the vocabulary is corrupted");
        }
        int[] rawTypes = f.getIntArray("tokenizer.ggml.token_type");
        if (rawTypes != null && rawTypes.length != n) {
            throw new ModelFileException(f.path() + ": 'tokenizer.ggml.token_type' has " + rawTypes.length + " entries but there are " + n + " tokens: the vocabulary is corrupted");
        }
        texts = texts.clone();
        TokenType[] types = new TokenType[n];
        Map<String, Integer> ids = HashMap.newHashMap(n);
        for (int i = 0; i < n; i++) {
            if (texts[i].isEmpty()) texts[i] = "[EMPTY_" + i + "]"; // as llama.cpp, so that no token matches everywhere
            ids.put(texts[i], i); // a duplicate text maps to its last id, as llama.cpp's token_to_id
            types[i] = rawTypes == null ? TokenType.NORMAL : TokenType.fromGguf(rawTypes[i]);
        }
        float[] sc = scores == null ? new float[n] : scores.clone();

        int bos = specialId(f, "tokenizer.ggml.bos_token_id", defaultBos, n);
        int eos = specialId(f, "tokenizer.ggml.eos_token_id", defaultEos, n);
        int unk = specialId(f, "tokenizer.ggml.unknown_token_id", defaultUnk, n);
        int eot = specialId(f, "tokenizer.ggml.eot_token_id", -1, n);
        int eom = specialId(f, "tokenizer.ggml.eom_token_id", -1, n);
        int fimPad = specialId(f, "tokenizer.ggml.fim_pad_token_id", -1, n);
        int fimRep = specialId(f, "tokenizer.ggml.fim_rep_token_id", -1, n);
        int fimSep = specialId(f, "tokenizer.ggml.fim_sep_token_id", -1, n);
        boolean addBos = f.getBool("tokenizer.ggml.add_bos_token", defaultAddBos);

        // llama.cpp detects these by text and forces them to CONTROL, which changes how text is split
        if (eot < 0) eot = findAndMarkControl(EOT_TEXTS, ids, types);
        if (eom < 0) eom = findAndMarkControl(EOM_TEXTS, ids, types);
        if (specialId(f, "tokenizer.ggml.fim_pre_token_id", -1, n) < 0 && specialId(f, "tokenizer.ggml.prefix_token_id", -1, n) < 0) {
            findAndMarkControl(FIM_PRE_TEXTS, ids, types);
        }
        if (specialId(f, "tokenizer.ggml.fim_suf_token_id", -1, n) < 0 && specialId(f, "tokenizer.ggml.suffix_token_id", -1, n) < 0) {
            findAndMarkControl(FIM_SUF_TEXTS, ids, types);
        }
        if (specialId(f, "tokenizer.ggml.fim_mid_token_id", -1, n) < 0 && specialId(f, "tokenizer.ggml.middle_token_id", -1, n) < 0) {
            findAndMarkControl(FIM_MID_TEXTS, ids, types);
        }
        if (fimPad < 0) fimPad = findAndMarkControl(FIM_PAD_TEXTS, ids, types);
        if (fimRep < 0) fimRep = findAndMarkControl(FIM_REP_TEXTS, ids, types);
        if (fimSep < 0) fimSep = findAndMarkControl(FIM_SEP_TEXTS, ids, types);

        boolean[] eog = new boolean[n];
        for (int id : new int[] {fimPad, fimRep, fimSep}) {
            if (id >= 0) eog[id] = true;
        }
        for (String t : EOG_TEXTS) {
            Integer id = ids.get(t);
            if (id != null) {
                eog[id] = true;
                types[id] = TokenType.CONTROL;
            }
        }
        for (String t : ALWAYS_RENDERED) {
            Integer id = ids.get(t);
            if (id != null) types[id] = TokenType.USER_DEFINED;
        }
        for (int id : new int[] {eos, eot, eom}) {
            if (id >= 0) eog[id] = true;
        }
        // harmony and solar-open end a message with <|end|> but a turn with <|return|> / <|call|>
        int end = ids.getOrDefault("<|end|>", -1);
        if (end >= 0 && eog[end]) {
            boolean hasReturn = isEog(eog, ids, "<|return|>"), hasCall = isEog(eog, ids, "<|call|>") || isEog(eog, ids, "<|calls|>");
            if ((hasReturn && hasCall) || (hasCall && isEog(eog, ids, "<|flush|>"))) {
                eog[end] = false;
                types[end] = TokenType.USER_DEFINED;
            }
        }
        // Gemma 4 has </s> as text
        int closeS = ids.getOrDefault("</s>", -1);
        if (closeS >= 0 && eog[closeS] && isEog(eog, ids, "<|tool_response>")) {
            eog[closeS] = false;
            types[closeS] = TokenType.NORMAL;
        }
        Vocabulary v = new Vocabulary(texts, sc, types, ids, bos, eos, unk, addBos, eog, new boolean[n], new boolean[n]);
        v.applyStripRules(f.getString("general.name", ""), f.getString("tokenizer.ggml.pre", ""));
        return v;
    }

    /**
     * llama.cpp's per-model token attributes, which GGUF does not store: Phi-3's special tokens eat
     * the whitespace after them, jina-v2's {@code <mask>} the whitespace before it.
     */
    private void applyStripRules(String modelName, String pre) {
        String name = modelName.toLowerCase(java.util.Locale.ROOT);
        if (pre.contains("jina-v2-de") || pre.contains("jina-v2-es") || pre.contains("jina-v2-code")) {
            int mask = id("<mask>");
            if (mask >= 0) lstrip[mask] = true;
        } else if (name.contains("phi-3") || name.contains("phi3")) {
            for (int id : splitTokens) rstrip[id] = true;
            int eosText = id("</s>");
            if (eosText >= 0) rstrip[eosText] = true;
            for (String t : List.of("<unk>", "<s>", "<|endoftext|>")) {
                int id = id(t);
                if (id >= 0) rstrip[id] = false;
            }
        }
    }

    /** A vocabulary built in memory (llama2.c files, tests). */
    static Vocabulary of(String[] texts, float[] scores, TokenType[] types, int bos, int eos, int unk, boolean addBos, int... endOfGeneration) {
        Map<String, Integer> ids = HashMap.newHashMap(texts.length);
        for (int i = 0; i < texts.length; i++) ids.putIfAbsent(texts[i], i);
        boolean[] eog = new boolean[texts.length];
        for (int id : endOfGeneration) if (id >= 0) eog[id] = true;
        return new Vocabulary(texts, scores, types, ids, bos, eos, unk, addBos, eog, new boolean[texts.length], new boolean[texts.length]);
    }

    private static boolean isEog(boolean[] eog, Map<String, Integer> ids, String text) {
        Integer id = ids.get(text);
        return id != null && eog[id];
    }

    /** The first token whose text is in {@code candidates} (in list order), forced to CONTROL; -1 when none. */
    private static int findAndMarkControl(List<String> candidates, Map<String, Integer> ids, TokenType[] types) {
        for (String t : candidates) {
            Integer id = ids.get(t);
            if (id != null) {
                types[id] = TokenType.CONTROL;
                return id;
            }
        }
        return -1;
    }

    private static int specialId(GgufFile f, String key, int dflt, int n) {
        if (!f.has(key)) return dflt;
        long v = f.getLong(key);
        // llama.cpp reads these as uint32 and keeps the default when out of range (e.g. 0xFFFFFFFF = "none")
        if (v < 0 || v >= n) return dflt;
        return (int) v;
    }

    private static int[] splitTokens(String[] texts, TokenType[] types) {
        List<Integer> list = new ArrayList<>();
        for (int i = 0; i < texts.length; i++) {
            TokenType t = types[i];
            if (t == TokenType.CONTROL || t == TokenType.USER_DEFINED || t == TokenType.UNKNOWN) list.add(i);
        }
        int[] byteLength = new int[texts.length];
        for (int id : list) byteLength[id] = texts[id].getBytes(StandardCharsets.UTF_8).length;
        list.sort(Comparator.comparingInt((Integer id) -> byteLength[id]).reversed());
        return list.stream().mapToInt(Integer::intValue).toArray();
    }

    int size() {
        return texts.length;
    }

    /** The id of a token text, or -1. */
    int id(String text) {
        Integer id = ids.get(text);
        return id == null ? -1 : id;
    }

    boolean isEndOfGeneration(int id) {
        return id >= 0 && id < endOfGeneration.length && endOfGeneration[id];
    }

    void checkId(int id) {
        if (id < 0 || id >= texts.length) {
            throw new IllegalArgumentException("token id " + id + " is outside the vocabulary (0.." + (texts.length - 1) + ")");
        }
    }

    /**
     * Splits special tokens out of raw text, as llama.cpp's {@code tokenizer_st_partition}: each
     * token, longest first, is searched in every remaining text fragment. User-defined tokens are
     * always split out; control and unknown tokens only when {@code parseSpecial}.
     */
    List<Fragment> partition(String text, boolean parseSpecial) {
        List<Fragment> frags = new ArrayList<>();
        if (text.isEmpty()) return frags;
        frags.add(Fragment.ofText(text));
        // a token whose first char is nowhere in the text cannot match: skip it without searching
        BitSet present = new BitSet(128);
        for (int i = 0; i < text.length(); i++) present.set(text.charAt(i));
        for (int id : splitTokens) {
            if (!parseSpecial && types[id].isSpecial()) continue;
            String s = texts[id];
            if (!present.get(s.charAt(0))) continue;
            List<Fragment> next = null;
            for (int i = 0; i < frags.size(); i++) {
                Fragment f = frags.get(i);
                int at = f.isText() ? f.text().indexOf(s) : -1;
                if (at < 0) {
                    if (next != null) next.add(f);
                    continue;
                }
                if (next == null) next = new ArrayList<>(frags.subList(0, i));
                String t = f.text();
                int from = 0;
                while (at >= 0) {
                    int leftEnd = at;
                    if (lstrip[id]) while (leftEnd > from && isCSpace(t.charAt(leftEnd - 1))) leftEnd--;
                    if (leftEnd > from) next.add(Fragment.ofText(t.substring(from, leftEnd)));
                    next.add(Fragment.ofToken(id));
                    from = at + s.length();
                    if (rstrip[id]) while (from < t.length() && isCSpace(t.charAt(from))) from++;
                    at = t.indexOf(s, from);
                }
                if (from < t.length()) next.add(Fragment.ofText(t.substring(from)));
            }
            if (next != null) frags = next;
        }
        return frags;
    }

    /** C's isspace in the "C" locale, which llama.cpp uses for lstrip/rstrip. */
    private static boolean isCSpace(char c) {
        return c == ' ' || (c >= '\t' && c <= '\r');
    }

    @Override
    public String toString() {
        return "Vocabulary[" + texts.length + " tokens, bos " + bos + ", eos " + eos + ", first " + Arrays.toString(Arrays.copyOf(texts, Math.min(3, texts.length))) + "]";
    }
}
