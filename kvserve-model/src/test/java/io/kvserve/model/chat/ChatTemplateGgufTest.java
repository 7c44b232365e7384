package io.kvserve.model.chat;

import io.kvserve.model.gguf.GgufFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@link ChatTemplate#fromGguf} on small hand-written vocabulary-only GGUF files. */
class ChatTemplateGgufTest {
    @TempDir
    Path dir;

    @Test
    void qwenArchitectureWithoutATemplateGetsChatMl() throws Exception {
        try (GgufFile f = write(Map.of("general.architecture", "qwen2", "tokenizer.ggml.model", "gpt2",
                "tokenizer.ggml.tokens", new String[] {"a", "b"}))) {
            ChatTemplate t = ChatTemplate.fromGguf(f, "", "<|im_end|>");
            assertThat(t.isBuiltInFallback()).isTrue();
            assertThat(t.render(List.of(ChatMessage.user("Hi")), true)).isEqualTo("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
        }
    }

    @Test
    void chatMlTokensInAnyArchitectureGetChatMl() throws Exception {
        try (GgufFile f = write(Map.of("general.architecture", "llama", "tokenizer.ggml.tokens", new String[] {"a", "<|im_start|>", "<|im_end|>"}))) {
            assertThat(FallbackTemplates.choose(f)).isEqualTo(FallbackTemplates.Kind.CHATML);
        }
    }

    @Test
    void theFilesTemplateWins() throws Exception {
        try (GgufFile f = write(Map.of("general.architecture", "qwen2", "tokenizer.chat_template", "{{ bos_token }}{{ messages[0].content }}"))) {
            ChatTemplate t = ChatTemplate.fromGguf(f, "<B>", "<E>");
            assertThat(t.isBuiltInFallback()).isFalse();
            assertThat(t.render(List.of(ChatMessage.user("Hi")), true)).isEqualTo("<B>Hi");
        }
    }

    @Test
    void aNonStringTemplateIsACorruptFile() throws Exception {
        try (GgufFile f = write(Map.of("tokenizer.chat_template", 7))) {
            assertThatThrownBy(() -> ChatTemplate.fromGguf(f, "", ""))
                    .isInstanceOf(ChatTemplateException.class)
                    .hasMessageContaining("'tokenizer.chat_template' must be a string, got Integer");
        }
    }

    @Test
    void aTemplateThatCannotRenderNamesTheFile() throws Exception {
        try (GgufFile f = write(Map.of("tokenizer.chat_template", "{% for m in messages %}{{ m.content }}"))) {
            ChatTemplate t = ChatTemplate.fromGguf(f, "", "");
            assertThatThrownBy(() -> t.render(List.of(ChatMessage.user("Hi")), true))
                    .isInstanceOf(ChatTemplateException.class)
                    .hasMessageContaining("model.gguf tokenizer.chat_template failed to render")
                    .hasMessageContaining("endfor");
        }
    }

    /** A GGUF v3 file with no tensors and the given metadata (String, Integer or String[] values). */
    private GgufFile write(Map<String, Object> meta) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteBuffer b = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(GgufFile.MAGIC).putInt(3).putLong(0).putLong(meta.size());
        for (Map.Entry<String, Object> e : new LinkedHashMap<>(meta).entrySet()) {
            string(b, e.getKey());
            switch (e.getValue()) {
                case String s -> string(b.putInt(8), s);
                case Integer i -> b.putInt(5).putInt(i);
                case String[] a -> {
                    b.putInt(9).putInt(8).putLong(a.length);
                    for (String s : a) string(b, s);
                }
                default -> throw new IllegalArgumentException(e.getValue().getClass().toString());
            }
        }
        out.write(b.array(), 0, b.position());
        Path p = dir.resolve("model.gguf");
        Files.write(p, out.toByteArray());
        return GgufFile.open(p);
    }

    private static void string(ByteBuffer b, String s) {
        byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
        b.putLong(bytes.length).put(bytes);
    }
}
