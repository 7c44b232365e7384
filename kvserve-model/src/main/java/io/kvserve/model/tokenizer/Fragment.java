package io.kvserve.model.tokenizer;

/**
 * A piece of input after special tokens were split out: either raw text still to be tokenized
 * ({@code token == -1}) or one special token found in the text.
 */
record Fragment(String text, int token) {
    static Fragment ofText(String text) {
        return new Fragment(text, -1);
    }

    static Fragment ofToken(int id) {
        return new Fragment(null, id);
    }

    boolean isText() {
        return token < 0;
    }
}
