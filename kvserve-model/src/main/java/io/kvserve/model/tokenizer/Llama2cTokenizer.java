package io.kvserve.model.tokenizer;

import io.kvserve.model.ModelFileException;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.PriorityQueue;

/**
 * The tokenizer of llama2.c ({@code tokenizer.bin}, {@code tok512.bin}): int32 max_token_length,
 * then per token float32 score, int32 length and that many bytes. Encoding reproduces run.c's
 * {@code encode()}: BOS (id 1), a dummy-prefix space token when the text is not empty, one token
 * per UTF-8 character (bytes as id {@code byte + 3} when the character is not a token), then
 * repeatedly the adjacent pair whose concatenation has the highest score is merged (ties: leftmost).
 * run.c rescans all pairs per merge; a priority queue gives the same result in O(n log n).
 *
 * <p>Decoding follows run.c's {@code decode()}: a piece right after BOS loses its leading space.
 * Ids 0, 1 and 2 ({@code <unk>}, BOS, EOS) render as nothing; BOS also ends generation, because
 * run.c stops there.
 */
final class Llama2cTokenizer extends AbstractTokenizer {
    static final int BOS = 1;
    static final int EOS = 2;
    private static final int BYTE_OFFSET = 3;

    /** Token texts as ISO-8859-1 strings, one char per byte, so lookups compare bytes as run.c's strcmp. */
    private final String[] byteTexts;
    private final byte[][] pieces;

    private Llama2cTokenizer(Vocabulary vocab, String[] byteTexts) {
        super(vocab);
        this.byteTexts = byteTexts;
        pieces = new byte[byteTexts.length][];
        for (int id = 0; id < byteTexts.length; id++) {
            int b = SentencePieceBpe.byteValue(byteTexts[id]);
            pieces[id] = vocab.types[id] == TokenType.BYTE ? new byte[] {(byte) b} : byteTexts[id].getBytes(StandardCharsets.ISO_8859_1);
        }
    }

    static Llama2cTokenizer read(Path path, int vocabSize) {
        if (vocabSize < BYTE_OFFSET + 256) {
            throw new IllegalArgumentException("vocabSize " + vocabSize + " is too small for a llama2.c tokenizer: it needs <unk>, BOS, EOS and 256 byte tokens (at least 259)");
        }
        byte[] data;
        try {
            data = Files.readAllBytes(path);
        } catch (NoSuchFileException e) {
            throw new ModelFileException("llama2.c tokenizer file " + path + " not found: pass the tokenizer .bin that belongs to the model");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read llama2.c tokenizer file " + path + ": " + e.getMessage(), e);
        }
        ByteBuffer bb = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
        if (bb.remaining() < 4) throw new ModelFileException(path + ": " + data.length + " bytes is too short for a llama2.c tokenizer (it starts with int32 max_token_length)");
        int maxTokenLength = bb.getInt();
        if (maxTokenLength <= 0 || maxTokenLength > data.length) {
            throw new ModelFileException(path + ": max_token_length is " + maxTokenLength + ", expected 1.." + data.length + ": this is not a llama2.c tokenizer file");
        }
        String[] texts = new String[vocabSize];
        float[] scores = new float[vocabSize];
        for (int i = 0; i < vocabSize; i++) {
            int at = bb.position();
            if (bb.remaining() < 8) {
                throw new ModelFileException(path + " (at byte " + at + "): token " + i + " of " + vocabSize
                        + " is past the end of the file: the file is truncated, or the model's vocab_size does not belong to this tokenizer");
            }
            scores[i] = bb.getFloat();
            int len = bb.getInt();
            if (len < 0 || len > bb.remaining()) {
                throw new ModelFileException(path + " (at byte " + at + "): token " + i + " claims " + Integer.toUnsignedString(len) + " bytes but "
                        + bb.remaining() + " remain: the file is truncated or not a llama2.c tokenizer");
            }
            byte[] b = new byte[len];
            bb.get(b);
            texts[i] = new String(b, StandardCharsets.ISO_8859_1);
        }
        TokenType[] types = new TokenType[vocabSize];
        for (int i = 0; i < vocabSize; i++) {
            if (i == 0) types[i] = TokenType.UNKNOWN;
            else if (i == BOS || i == EOS) types[i] = TokenType.CONTROL;
            else if (SentencePieceBpe.byteValue(texts[i]) >= 0) types[i] = TokenType.BYTE;
            else types[i] = TokenType.NORMAL;
        }
        Vocabulary v = Vocabulary.of(texts, scores, types, BOS, EOS, 0, true, BOS, EOS);
        return new Llama2cTokenizer(v, texts);
    }

    @Override
    byte[] piece(int id, boolean special) {
        if (!special && vocab.types[id].isSpecial()) return NOTHING;
        return pieces[id];
    }

    @Override
    String rawText(int id) {
        return new String(byteTexts[id].getBytes(StandardCharsets.ISO_8859_1), StandardCharsets.UTF_8);
    }

    @Override
    boolean addSpacePrefix() {
        return false; // run.c strips the space after BOS instead, see decode
    }

    /** run.c has no special-token parsing; {@code parseSpecial} is ignored. */
    @Override
    public int[] encode(String text, boolean addBos, boolean parseSpecial) {
        byte[] s = text.getBytes(StandardCharsets.UTF_8);
        IntList tokens = new IntList(s.length + 2);
        if (addBos) tokens.add(BOS);
        if (s.length > 0) {
            int dummyPrefix = vocab.id(" ");
            if (dummyPrefix >= 0) tokens.add(dummyPrefix);
        }
        byte[] buf = new byte[4];
        int len = 0;
        for (int c = 0; c < s.length; c++) {
            if ((s[c] & 0xC0) != 0x80) len = 0;
            buf[len++] = s[c];
            if (c + 1 < s.length && (s[c + 1] & 0xC0) == 0x80 && len < 4) continue;
            int id = vocab.id(new String(buf, 0, len, StandardCharsets.ISO_8859_1));
            if (id >= 0) {
                tokens.add(id);
            } else {
                for (int i = 0; i < len; i++) tokens.add((buf[i] & 0xff) + BYTE_OFFSET);
            }
            len = 0;
        }
        return merge(tokens.toArray());
    }

    @Override
    void encodeFragments(Iterable<Fragment> fragments, IntList out) {
        throw new UnsupportedOperationException("llama2.c encodes whole texts");
    }

    /** A candidate merge; the versions detect that either symbol changed after it was queued. */
    private record Pair(float score, int left, int right, int leftVersion, int rightVersion, int merged) {}

    private static int order(Pair a, Pair b) {
        if (a.score > b.score) return -1;
        if (a.score < b.score) return 1;
        return Integer.compare(a.left, b.left);
    }

    private int[] merge(int[] tok) {
        int n = tok.length;
        if (n < 2) return tok;
        int[] prev = new int[n], next = new int[n], version = new int[n];
        boolean[] alive = new boolean[n];
        for (int i = 0; i < n; i++) {
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
            alive[i] = true;
        }
        PriorityQueue<Pair> queue = new PriorityQueue<>(n, Llama2cTokenizer::order);
        for (int i = 0; i + 1 < n; i++) offer(tok, version, i, i + 1, queue);
        while (!queue.isEmpty()) {
            Pair p = queue.poll();
            if (!alive[p.left] || !alive[p.right] || next[p.left] != p.right
                    || version[p.left] != p.leftVersion || version[p.right] != p.rightVersion) {
                continue;
            }
            tok[p.left] = p.merged;
            version[p.left]++;
            alive[p.right] = false;
            next[p.left] = next[p.right];
            if (next[p.right] >= 0) prev[next[p.right]] = p.left;
            if (prev[p.left] >= 0) offer(tok, version, prev[p.left], p.left, queue);
            if (next[p.left] >= 0) offer(tok, version, p.left, next[p.left], queue);
        }
        IntList out = new IntList(n);
        for (int i = 0; i != -1; i = next[i]) out.add(tok[i]);
        return out.toArray();
    }

    private void offer(int[] tok, int[] version, int left, int right, PriorityQueue<Pair> queue) {
        int id = vocab.id(byteTexts[tok[left]] + byteTexts[tok[right]]);
        // run.c starts from best_score = -1e10 and needs a strictly better score
        if (id >= 0 && vocab.scores[id] > -1e10f) {
            queue.add(new Pair(vocab.scores[id], left, right, version[left], version[right], id));
        }
    }

    @Override
    public String decode(int[] ids) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(ids.length * 4);
        int previous = -1;
        for (int id : ids) {
            byte[] p = streamPiece(previous, id);
            out.write(p, 0, p.length);
            previous = id;
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    @Override
    public StreamingDecoder newStreamingDecoder() {
        return new Utf8StreamingDecoder(this::streamPiece);
    }

    private byte[] streamPiece(int previous, int id) {
        vocab.checkId(id);
        byte[] p = piece(id, false);
        // run.c: "following BOS (1) token, sentencepiece decoder strips any leading whitespace"
        if (previous == BOS && p.length > 0 && p[0] == ' ') return Arrays.copyOfRange(p, 1, p.length);
        return p;
    }
}
