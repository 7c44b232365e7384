package io.kvserve.model.tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * The {@link StreamingDecoder} of every kvserve tokenizer: token pieces are appended as bytes and
 * only the prefix that ends on a character boundary is decoded; the rest (at most three bytes of
 * a started sequence) waits for the next token.
 */
final class Utf8StreamingDecoder implements StreamingDecoder {
    /** The bytes one token adds to the stream, given the token before it (-1 at the start). */
    @FunctionalInterface
    interface PieceSource {
        byte[] piece(int previousId, int id);
    }

    private final PieceSource source;
    private final ByteArrayOutputStream pending = new ByteArrayOutputStream();
    private int previousId = -1;

    Utf8StreamingDecoder(PieceSource source) {
        this.source = source;
    }

    @Override
    public String feed(int id) {
        byte[] piece = source.piece(previousId, id);
        previousId = id;
        pending.write(piece, 0, piece.length);
        byte[] buf = pending.toByteArray();
        int complete = completePrefix(buf);
        if (complete == 0) return "";
        pending.reset();
        pending.write(buf, complete, buf.length - complete);
        return new String(buf, 0, complete, StandardCharsets.UTF_8);
    }

    @Override
    public String flush() {
        String s = pending.toString(StandardCharsets.UTF_8);
        pending.reset();
        return s;
    }

    /** Length of the longest prefix that does not end inside a UTF-8 sequence that may still complete. */
    static int completePrefix(byte[] b) {
        int i = 0;
        while (i < b.length) {
            int need = sequenceLength(b[i] & 0xff);
            if (need == 1) {
                i++;
                continue;
            }
            int j = 1;
            while (j < need && i + j < b.length && (b[i + j] & 0xc0) == 0x80) j++;
            if (j == need) {
                i += need;
            } else if (i + j == b.length) {
                return i; // a valid start whose continuation has not arrived yet
            } else {
                i++; // broken sequence: the decoder renders the lead byte as U+FFFD
            }
        }
        return i;
    }

    /** Bytes in the sequence started by lead byte {@code b}; 1 for ASCII and for bytes that cannot start one. */
    private static int sequenceLength(int b) {
        if (b >= 0xc2 && b <= 0xdf) return 2;
        if (b >= 0xe0 && b <= 0xef) return 3;
        if (b >= 0xf0 && b <= 0xf4) return 4;
        return 1;
    }
}
