package io.kvserve.model.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * GPT-2's reversible byte-to-unicode mapping ({@code bytes_to_unicode} in OpenAI's encoder.py,
 * {@code unicode_byte_to_utf8_map} in llama.cpp): printable Latin-1 bytes map to themselves, the
 * other 68 bytes to U+0100.. in byte order, so that every byte is a visible character (space is
 * {@code Ġ}, newline {@code Ċ}).
 */
final class ByteUnicodeMap {
    private static final char[] BYTE_TO_CHAR = new char[256];
    private static final int[] CHAR_TO_BYTE = new int[0x144];

    static {
        Arrays.fill(CHAR_TO_BYTE, -1);
        int n = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            char c = printable ? (char) b : (char) (256 + n++);
            BYTE_TO_CHAR[b] = c;
            CHAR_TO_BYTE[c] = b;
        }
    }

    private ByteUnicodeMap() {}

    /** The character that stands for byte {@code b} (0..255). */
    static char encode(int b) {
        return BYTE_TO_CHAR[b];
    }

    /** The byte a character stands for, or -1 when it is not part of the mapping. */
    static int decode(int codePoint) {
        return codePoint >= 0 && codePoint < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[codePoint] : -1;
    }

    /** UTF-8 bytes of {@code s}, each replaced by its character. */
    static String encode(String s) {
        byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
        char[] out = new char[bytes.length];
        for (int i = 0; i < bytes.length; i++) out[i] = BYTE_TO_CHAR[bytes[i] & 0xff];
        return new String(out);
    }
}
