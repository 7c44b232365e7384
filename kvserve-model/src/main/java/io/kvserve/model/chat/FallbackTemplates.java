package io.kvserve.model.chat;

import io.kvserve.model.gguf.GgufFile;

import java.util.Set;

/**
 * Built-in chat templates for model files without {@code tokenizer.chat_template}, chosen from the
 * architecture and the vocabulary the way llama.cpp guesses: ChatML for Qwen, the Llama 3 header
 * format when the vocabulary has {@code <|start_header_id|>}, Llama 2 {@code [INST]} for a full
 * Llama/Mistral SentencePiece vocabulary, and a plain {@code role: content} transcript for base
 * models (stories260K) that have no chat tokens at all.
 */
public final class FallbackTemplates {
    private FallbackTemplates() {}

    /** The smallest vocabulary we take for a Llama 2 / Mistral chat model (both have 32000 tokens). */
    static final int LLAMA2_MIN_VOCAB = 32000;
    private static final Set<String> CHATML_ARCHS = Set.of("qwen", "qwen2", "qwen2moe", "qwen2vl", "qwen3", "qwen3moe");
    private static final Set<String> LLAMA2_ARCHS = Set.of("llama", "mistral");

    public enum Kind {
        CHATML("""
                {%- for message in messages %}
                    {{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}
                {%- endfor %}
                {%- if add_generation_prompt %}
                    {{- '<|im_start|>assistant\\n' }}
                {%- endif %}
                """),
        LLAMA3("""
                {{- bos_token }}
                {%- for message in messages %}
                    {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}
                {%- endfor %}
                {%- if add_generation_prompt %}
                    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}
                {%- endif %}
                """),
        /** Meta's Llama-2-chat template (transformers' default for LlamaTokenizer); the prompt ends with {@code [/INST]}. */
        LLAMA2("""
                {%- if messages[0]['role'] == 'system' %}
                    {%- set loop_messages = messages[1:] %}
                    {%- set system_message = messages[0]['content'] %}
                {%- else %}
                    {%- set loop_messages = messages %}
                    {%- set system_message = none %}
                {%- endif %}
                {%- for message in loop_messages %}
                    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}
                        {{- raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}
                    {%- endif %}
                    {%- if loop.index0 == 0 and system_message is not none %}
                        {%- set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}
                    {%- else %}
                        {%- set content = message['content'] %}
                    {%- endif %}
                    {%- if message['role'] == 'user' %}
                        {{- bos_token + '[INST] ' + content.strip() + ' [/INST]' }}
                    {%- elif message['role'] == 'assistant' %}
                        {{- ' ' + content.strip() + ' ' + eos_token }}
                    {%- endif %}
                {%- endfor %}
                """),
        /** A transcript for base models; no BOS (the tokenizer adds it), the answer follows {@code "assistant:"}. */
        PLAIN("""
                {%- for message in messages %}
                    {{- message['role'] + ': ' + message['content'] + '\\n' }}
                {%- endfor %}
                {%- if add_generation_prompt %}
                    {{- 'assistant:' }}
                {%- endif %}
                """);

        private final String source;

        Kind(String source) {
            this.source = source;
        }

        public String source() {
            return source;
        }
    }

    /** The fallback for a model file; see the class comment for the rules. */
    public static Kind choose(GgufFile f) {
        String arch = f.getString("general.architecture", "");
        String[] tokens = f.metadata().get("tokenizer.ggml.tokens") instanceof String[] t ? t : new String[0];
        if (CHATML_ARCHS.contains(arch) || contains(tokens, "<|im_start|>")) return Kind.CHATML;
        if (contains(tokens, "<|start_header_id|>")) return Kind.LLAMA3;
        String tokenizer = f.getString("tokenizer.ggml.model", "");
        if ((LLAMA2_ARCHS.contains(arch) || arch.isEmpty()) && tokenizer.equals("llama") && tokens.length >= LLAMA2_MIN_VOCAB) return Kind.LLAMA2;
        return Kind.PLAIN;
    }

    private static boolean contains(String[] tokens, String t) {
        // special tokens sit at the end of large vocabularies
        for (int i = tokens.length - 1; i >= 0; i--) if (t.equals(tokens[i])) return true;
        return false;
    }
}
