package io.kvserve.model.tokenizer;

import io.kvserve.model.ModelFileException;
import io.kvserve.model.gguf.GgufFile;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Byte-level BPE, for GGUF vocabularies with {@code tokenizer.ggml.model = gpt2} (GPT-2, Llama 3,
 * Qwen2/3, SmolLM). A port of llama.cpp's {@code llm_tokenizer_bpe_session}: the text is split by the
 * {@link PreTokenizer} of {@code tokenizer.ggml.pre}, each pre-token's UTF-8 bytes are written with
 * the {@link ByteUnicodeMap}, and the adjacent pair with the lowest merge rank
 * ({@code tokenizer.ggml.merges}) is merged until none is left (ties: leftmost first).
 * Pre-tokens repeat a lot in real text, so their ids are cached.
 */
final class ByteLevelBpe extends AbstractTokenizer {
    private static final int CACHE_LIMIT = 1 << 16;

    private final PreTokenizer preTokenizer;
    private final boolean addSpacePrefix;
    /** Merge rank by {@code "left right"}, the form the merges are stored in. */
    private final Map<String, Integer> ranks;
    private final byte[][] pieces;
    private final ConcurrentHashMap<String, int[]> cache = new ConcurrentHashMap<>();

    ByteLevelBpe(Vocabulary vocab, PreTokenizer preTokenizer, String[] merges, boolean addSpacePrefix) {
        super(vocab);
        this.preTokenizer = preTokenizer;
        this.addSpacePrefix = addSpacePrefix;
        ranks = HashMap.newHashMap(merges.length);
        for (int i = 0; i < merges.length; i++) {
            // llama.cpp splits at the first space after the first character; the first rank of a pair wins
            if (merges[i].indexOf(' ', 1) > 0) ranks.putIfAbsent(merges[i], i);
        }
        pieces = new byte[vocab.size()][];
        for (int id = 0; id < vocab.size(); id++) pieces[id] = render(id);
    }

    static ByteLevelBpe fromGguf(GgufFile f) {
        String[] merges = f.getStringArray("tokenizer.ggml.merges");
        if (merges == null) {
            throw new ModelFileException(f.path() + ": metadata 'tokenizer.ggml.merges' is missing: a gpt2 (byte-level BPE) vocabulary needs its merges; convert the model again");
        }
        PreTokenizer pre;
        try {
            pre = PreTokenizer.forName(f.getString("tokenizer.ggml.pre", null));
        } catch (ModelFileException e) {
            throw new ModelFileException(f.path() + ": " + e.getMessage(), e);
        }
        // llama.cpp's BPE defaults are BOS = EOS = 11; kvserve says "none" instead when the file has no ids
        Vocabulary v = Vocabulary.fromGguf(f, -1, -1, -1, pre.addBos());
        // llama.cpp reads add_space_prefix for every vocabulary; for BPE it only affects decoding
        return new ByteLevelBpe(v, pre, merges, f.getBool("tokenizer.ggml.add_space_prefix", false));
    }

    PreTokenizer preTokenizer() {
        return preTokenizer;
    }

    private byte[] render(int id) {
        String text = vocab.texts[id];
        return switch (vocab.types[id]) {
            case CONTROL, UNKNOWN, USER_DEFINED -> utf8(text);
            case NORMAL -> decodeBytes(text);
            case BYTE, UNUSED, UNDEFINED -> NOTHING;
        };
    }

    /** {@code llama_decode_text}: each character back to its byte; foreign characters are flagged, as llama.cpp does. */
    static byte[] decodeBytes(String text) {
        byte[] fast = new byte[text.length()];
        for (int i = 0; i < fast.length; i++) {
            int b = ByteUnicodeMap.decode(text.charAt(i));
            if (b < 0) return decodeBytesSlowly(text);
            fast[i] = (byte) b;
        }
        return fast;
    }

    private static byte[] decodeBytesSlowly(String text) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(text.length());
        text.codePoints().forEach(cp -> {
            int b = ByteUnicodeMap.decode(cp);
            if (b >= 0) {
                out.write(b);
            } else {
                StringBuilder sb = new StringBuilder("[UNK_BYTE_0x");
                for (byte x : new String(Character.toChars(cp)).getBytes(StandardCharsets.UTF_8)) sb.append(String.format("%02x", x & 0xff));
                sb.append(text).append(']');
                out.writeBytes(utf8(sb.toString()));
            }
        });
        return out.toByteArray();
    }

    @Override
    byte[] piece(int id, boolean special) {
        if (!special && vocab.types[id].isSpecial()) return NOTHING;
        return pieces[id];
    }

    @Override
    boolean addSpacePrefix() {
        return addSpacePrefix;
    }

    @Override
    boolean cleanSpaces() {
        return preTokenizer.cleanSpaces();
    }

    @Override
    void encodeFragments(Iterable<Fragment> fragments, IntList out) {
        for (Fragment f : fragments) {
            if (!f.isText()) {
                out.add(f.token());
                continue;
            }
            for (String word : preTokenizer.split(f.text())) {
                String mapped = ByteUnicodeMap.encode(word);
                int[] ids = cache.get(mapped);
                if (ids == null) {
                    ids = tokenizeWord(mapped);
                    if (cache.size() >= CACHE_LIMIT) cache.clear();
                    cache.put(mapped, ids);
                }
                out.addAll(ids);
            }
        }
    }

    private record Bigram(int rank, int left, int right, int size) {}

    private static int order(Bigram a, Bigram b) {
        return a.rank != b.rank ? Integer.compare(a.rank, b.rank) : Integer.compare(a.left, b.left);
    }

    /** BPE of one byte-mapped pre-token; every char is one byte, so symbols are chars. */
    int[] tokenizeWord(String word) {
        if (preTokenizer.ignoreMerges()) {
            int id = vocab.id(word);
            if (id >= 0) return new int[] {id};
        }
        int n = word.length();
        int[] len = new int[n], prev = new int[n], next = new int[n];
        for (int i = 0; i < n; i++) {
            len[i] = 1;
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
        }
        PriorityQueue<Bigram> queue = new PriorityQueue<>(Math.max(1, n), ByteLevelBpe::order);
        for (int i = 1; i < n; i++) addBigram(word, len, i - 1, i, queue);
        while (!queue.isEmpty()) {
            Bigram b = queue.poll();
            // symbols start where they always started, so "same text" is "same total length"
            if (len[b.left] == 0 || len[b.right] == 0 || len[b.left] + len[b.right] != b.size) continue;
            len[b.left] += len[b.right];
            len[b.right] = 0;
            next[b.left] = next[b.right];
            if (next[b.right] >= 0) prev[next[b.right]] = b.left;
            addBigram(word, len, prev[b.left], b.left, queue);
            addBigram(word, len, b.left, next[b.left], queue);
        }
        IntList out = new IntList(4);
        for (int i = 0; i < n; i++) {
            if (len[i] == 0) continue;
            String symbol = word.substring(i, i + len[i]);
            int id = vocab.id(symbol);
            if (id >= 0) {
                out.add(id);
            } else {
                // llama.cpp looks up each UTF-8 byte of the symbol as a one-byte token and drops misses
                for (byte b : symbol.getBytes(StandardCharsets.UTF_8)) {
                    int single = b >= 0 ? vocab.id(String.valueOf((char) b)) : -1;
                    if (single >= 0) out.add(single);
                }
            }
        }
        return out.toArray();
    }

    private void addBigram(String word, int[] len, int left, int right, PriorityQueue<Bigram> queue) {
        if (left < 0 || right < 0) return;
        Integer rank = ranks.get(word.substring(left, left + len[left]) + ' ' + word.substring(right, right + len[right]));
        if (rank == null) return;
        queue.add(new Bigram(rank, left, right, len[left] + len[right]));
    }
}
