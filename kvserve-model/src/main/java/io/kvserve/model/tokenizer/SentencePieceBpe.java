package io.kvserve.model.tokenizer;

import io.kvserve.model.ModelFileException;
import io.kvserve.model.gguf.GgufFile;

import java.nio.charset.StandardCharsets;
import java.util.PriorityQueue;

/**
 * SentencePiece BPE with byte fallback, for GGUF vocabularies with {@code tokenizer.ggml.model =
 * llama} (Llama 1/2, Mistral, TinyLlama, llama2.c exports). A port of llama.cpp's
 * {@code llm_tokenizer_spm}: spaces become U+2581, a space is prefixed to text at the start and after
 * each special token ({@code add_space_prefix}), then the highest-scoring adjacent pair of symbols
 * present in the vocabulary is merged until none is left (ties: leftmost first); symbols that are
 * not tokens become {@code <0xXX>} byte tokens.
 */
final class SentencePieceBpe extends AbstractTokenizer {
    private static final char SPACE_MARK = '\u2581';

    private final boolean addSpacePrefix;
    private final int[] byteTokens = new int[256];
    private final byte[][] pieces;

    SentencePieceBpe(Vocabulary vocab, boolean addSpacePrefix) {
        super(vocab);
        this.addSpacePrefix = addSpacePrefix;
        for (int b = 0; b < 256; b++) {
            int id = vocab.id(String.format("<0x%02X>", b));
            // llama.cpp falls back to the byte itself as a one-character token
            if (id < 0 && b < 0x80) id = vocab.id(String.valueOf((char) b));
            byteTokens[b] = id;
        }
        pieces = new byte[vocab.size()][];
        for (int id = 0; id < vocab.size(); id++) pieces[id] = render(id);
    }

    static SentencePieceBpe fromGguf(GgufFile f) {
        // llama.cpp's defaults for SPM: BOS 1, EOS 2, UNK 0, add BOS, add a space prefix
        Vocabulary v = Vocabulary.fromGguf(f, 1, 2, 0, true);
        boolean prefix = f.getBool("tokenizer.ggml.add_space_prefix", true);
        for (int id = 0; id < v.size(); id++) {
            if (v.types[id] == TokenType.BYTE && byteValue(v.texts[id]) < 0) {
                throw new ModelFileException(f.path() + ": token " + id + " is a byte token but its text is '" + v.texts[id]
                        + "', expected <0xXX>: the vocabulary is corrupted");
            }
        }
        return new SentencePieceBpe(v, prefix);
    }

    /** The byte of a {@code <0xXX>} token text, or -1. */
    static int byteValue(String text) {
        if (text.length() != 6 || !text.startsWith("<0x") || text.charAt(5) != '>') return -1;
        int hi = Character.digit(text.charAt(3), 16), lo = Character.digit(text.charAt(4), 16);
        return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
    }

    private byte[] render(int id) {
        String text = vocab.texts[id];
        return switch (vocab.types[id]) {
            case CONTROL, UNKNOWN, USER_DEFINED -> utf8(text);
            case NORMAL -> utf8(text.replace(SPACE_MARK, ' '));
            case BYTE -> new byte[] {(byte) byteValue(text)};
            case UNUSED, UNDEFINED -> NOTHING;
        };
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
    void encodeFragments(Iterable<Fragment> fragments, IntList out) {
        boolean previousWasSpecial = true;
        for (Fragment f : fragments) {
            if (f.isText()) {
                String text = addSpacePrefix && previousWasSpecial ? " " + f.text() : f.text();
                tokenize(text.replace(' ', SPACE_MARK), out);
                previousWasSpecial = false;
            } else {
                out.add(f.token());
                previousWasSpecial = true;
            }
        }
    }

    /** A candidate merge of two adjacent symbols; {@code size} detects that either has changed since. */
    private record Bigram(float score, int left, int right, int size) {}

    private static int order(Bigram a, Bigram b) {
        // highest score first, then leftmost (llama.cpp's comparator, with plain float comparison)
        if (a.score > b.score) return -1;
        if (a.score < b.score) return 1;
        return Integer.compare(a.left, b.left);
    }

    /** {@code llm_tokenizer_spm_session::tokenize}: one symbol per code point, then merges from a priority queue. */
    private void tokenize(String text, IntList out) {
        int n = text.codePointCount(0, text.length());
        if (n == 0) return;
        // symbol i covers text[start[i], start[i] + len[i]); len 0 means merged into its left neighbour
        int[] start = new int[n], len = new int[n], prev = new int[n], next = new int[n];
        for (int i = 0, pos = 0; i < n; i++) {
            start[i] = pos;
            len[i] = Character.charCount(text.codePointAt(pos));
            pos += len[i];
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
        }
        PriorityQueue<Bigram> queue = new PriorityQueue<>(Math.max(1, n), SentencePieceBpe::order);
        for (int i = 1; i < n; i++) tryAddBigram(text, start, len, i - 1, i, queue);
        while (!queue.isEmpty()) {
            Bigram b = queue.poll();
            if (len[b.left] == 0 || len[b.right] == 0 || len[b.left] + len[b.right] != b.size) continue;
            len[b.left] += len[b.right];
            len[b.right] = 0;
            next[b.left] = next[b.right];
            if (next[b.right] >= 0) prev[next[b.right]] = b.left;
            tryAddBigram(text, start, len, prev[b.left], b.left, queue);
            tryAddBigram(text, start, len, b.left, next[b.left], queue);
        }
        // every merged symbol is a vocabulary token by construction, so llama.cpp's rev_merge
        // re-segmentation never triggers: only single code points can be missing, and they become bytes
        for (int i = 0; i != -1; i = next[i]) {
            String symbol = text.substring(start[i], start[i] + len[i]);
            int id = vocab.id(symbol);
            if (id >= 0) {
                out.add(id);
            } else {
                for (byte b : symbol.getBytes(StandardCharsets.UTF_8)) out.add(byteToken(b & 0xff));
            }
        }
    }

    private void tryAddBigram(String text, int[] start, int[] len, int left, int right, PriorityQueue<Bigram> queue) {
        if (left < 0 || right < 0) return;
        int size = len[left] + len[right];
        int id = vocab.id(text.substring(start[left], start[left] + size));
        if (id < 0) return;
        queue.add(new Bigram(vocab.scores[id], left, right, size));
    }

    private int byteToken(int b) {
        int id = byteTokens[b];
        if (id >= 0) return id;
        if (vocab.unk >= 0) return vocab.unk;
        throw new IllegalStateException(String.format("the vocabulary has no byte token <0x%02X> and no <unk> token, so this text cannot be encoded", b));
    }
}
