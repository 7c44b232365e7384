package io.kvserve.model.tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Objects;

/**
 * What every vocabulary-backed tokenizer shares: special-token splitting, BOS, and llama.cpp's
 * detokenizer built on one method, {@link #piece}, that renders a single token.
 */
abstract class AbstractTokenizer implements Tokenizer {
    static final byte[] NOTHING = new byte[0];

    final Vocabulary vocab;

    AbstractTokenizer(Vocabulary vocab) {
        this.vocab = vocab;
    }

    /**
     * The bytes of one token as llama.cpp's {@code token_to_piece(lstrip = 0)} renders it; with
     * {@code special} false, control and unknown tokens render as nothing.
     */
    abstract byte[] piece(int id, boolean special);

    /** Tokenizes the fragments left after special tokens were split out, appending to {@code out}. */
    abstract void encodeFragments(Iterable<Fragment> fragments, IntList out);

    /** Whether decoding drops one leading space of the first token (SentencePiece's dummy prefix). */
    abstract boolean addSpacePrefix();

    /** Whether decoding applies llama.cpp's {@code clean_spaces} passes (" ," to ",", " 's" to "'s", ...). */
    boolean cleanSpaces() {
        return false;
    }

    @Override
    public int[] encode(String text, boolean addBos, boolean parseSpecial) {
        Objects.requireNonNull(text, "text");
        IntList out = new IntList(text.length() / 3 + 2);
        if (addBos && vocab.bos >= 0) out.add(vocab.bos);
        encodeFragments(vocab.partition(text, parseSpecial), out);
        return out.toArray();
    }

    @Override
    public String decode(int[] ids) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(ids.length * 4);
        // llama.cpp clears remove_space after the first token even when that token renders as
        // nothing (a BOS), so [BOS, "▁Hello"] decodes to " Hello"
        boolean removeSpace = addSpacePrefix();
        for (int id : ids) {
            vocab.checkId(id);
            byte[] p = piece(id, false);
            int skip = removeSpace && p.length > 0 && p[0] == ' ' ? 1 : 0;
            out.write(p, skip, p.length - skip);
            removeSpace = false;
        }
        byte[] text = out.toByteArray();
        int n = cleanSpaces() ? cleanSpaces(text) : text.length;
        return new String(text, 0, n, StandardCharsets.UTF_8);
    }

    @Override
    public String tokenPiece(int id) {
        vocab.checkId(id);
        byte[] p = piece(id, true);
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(p)).toString();
        } catch (CharacterCodingException e) {
            return rawText(id);
        }
    }

    /** The token as written in the vocabulary. */
    String rawText(int id) {
        return vocab.texts[id];
    }

    @Override
    public byte[] tokenBytes(int id) {
        vocab.checkId(id);
        return piece(id, true).clone();
    }

    @Override
    public StreamingDecoder newStreamingDecoder() {
        return new Utf8StreamingDecoder((previous, id) -> {
            vocab.checkId(id);
            return piece(id, false);
        });
    }

    @Override
    public int vocabSize() {
        return vocab.size();
    }

    @Override
    public int bosId() {
        return vocab.bos;
    }

    @Override
    public int eosId() {
        return vocab.eos;
    }

    @Override
    public boolean addBosByDefault() {
        return vocab.addBos;
    }

    @Override
    public boolean isEndOfGeneration(int id) {
        return vocab.isEndOfGeneration(id);
    }

    /**
     * llama.cpp's three in-place {@code clean_spaces} passes over the detokenized bytes (from
     * Hugging Face's clean_up_tokenization); returns the new length. Kept byte for byte, including
     * the NUL it writes in the second pass, so that the output matches llama.cpp.
     */
    static int cleanSpaces(byte[] text) {
        int total = text.length;

        int total1 = total;
        total = total > 0 ? 1 : 0;
        for (int i = 1; i < total1; ++i) {
            byte x = text[i];
            if (text[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',')) total--;
            text[total++] = x;
        }

        int total2 = total;
        total = total > 0 ? 1 : 0;
        for (int i = 1; i < total2; ++i) {
            byte x = text[i];
            if (x == '\'' && i + 1 < total2 && text[i - 1] == ' ' && text[i + 1] == ' ') {
                total--;
                text[++i] = 0;
            }
            text[total++] = x;
        }

        int total3 = total;
        total = total > 0 ? 1 : 0;
        for (int i = 1; i < total3; ++i) {
            byte x = text[i];
            if (text[i - 1] == ' ' && x == '\'' && i + 1 < total3) {
                byte x1 = text[i + 1];
                if (x1 == 's' || x1 == 'm') {
                    total--;
                } else if (x1 != 't' && x1 != 'd' && i + 2 < total3) {
                    byte x2 = text[i + 2];
                    if ((x1 == 'r' && x2 == 'e') || (x1 == 'v' && x2 == 'e')) total--;
                }
            }
            text[total++] = x;
        }
        return total;
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
