package io.kvserve.model.tokenizer;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** Writes a tensor-less GGUF v3 file with the given metadata, for tokenizer tests. */
final class TinyGguf {
    private final Map<String, Object> kv = new LinkedHashMap<>();

    TinyGguf put(String key, Object value) {
        kv.put(key, value);
        return this;
    }

    Path write(Path dir, String name) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(le(4).putInt(0x46554747).array());
        out.writeBytes(le(4).putInt(3).array());
        out.writeBytes(le(8).putLong(0).array());
        out.writeBytes(le(8).putLong(kv.size()).array());
        for (var e : kv.entrySet()) {
            string(out, e.getKey());
            Object v = e.getValue();
            switch (v) {
                case String s -> { u32(out, 8); string(out, s); }
                case Integer i -> { u32(out, 5); u32(out, i); }
                case Boolean b -> { u32(out, 7); out.write(b ? 1 : 0); }
                case String[] a -> {
                    u32(out, 9); u32(out, 8); out.writeBytes(le(8).putLong(a.length).array());
                    for (String s : a) string(out, s);
                }
                case float[] a -> {
                    u32(out, 9); u32(out, 6); out.writeBytes(le(8).putLong(a.length).array());
                    for (float f : a) out.writeBytes(le(4).putFloat(f).array());
                }
                case int[] a -> {
                    u32(out, 9); u32(out, 5); out.writeBytes(le(8).putLong(a.length).array());
                    for (int i : a) u32(out, i);
                }
                default -> throw new IllegalArgumentException("unsupported value " + v);
            }
        }
        Path p = dir.resolve(name);
        Files.write(p, out.toByteArray());
        return p;
    }

    private static ByteBuffer le(int n) {
        return ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static void u32(ByteArrayOutputStream out, int v) {
        out.writeBytes(le(4).putInt(v).array());
    }

    private static void string(ByteArrayOutputStream out, String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        out.writeBytes(le(8).putLong(b.length).array());
        out.writeBytes(b);
    }
}
