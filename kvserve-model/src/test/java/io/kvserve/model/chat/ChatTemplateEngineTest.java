package io.kvserve.model.chat;

import io.kvserve.model.gguf.GgufFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The jinja2 behaviour HuggingFace templates rely on, one feature per case, plus the GGUF fallbacks. */
class ChatTemplateEngineTest {
    static final List<ChatMessage> CONV = List.of(ChatMessage.user("hi"), ChatMessage.assistant("yo"), ChatMessage.user("bye"));

    static String render(String src) {
        return ChatTemplate.of(src, "<s>", "</s>").render(CONV, true);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiterString = "==>", quoteCharacter = '`', textBlock = """
            {% if not add_generation_prompt is defined %}A{% else %}B{% endif %}        ==> B
            {% if not undefined_thing is defined %}A{% else %}B{% endif %}             ==> A
            {% if not messages[0]['role'] is none %}A{% else %}B{% endif %}            ==> A
            {{ 'not x is defined' }}                                                   ==> not x is defined
            {{ ' x ' + messages[0]['content'] | trim + '|' }}                          ==> ` x hi|`
            {{ messages[1:] | length }}{{ messages[-1].content }}{{ 'abcdef'[:-1] }}   ==> 2byeabcde
            {{ 'a</think>b'.split('</think>')[-1] }}                                   ==> b
            {{ '  x\t'.strip() }}{{ 'xxay'.lstrip('x') }}{{ 'abc'.upper() }}{{ 'ABC'.lower() }} ==> xayABCabc
            {{ 'abc'.startswith('ab') }} {{ 'abc.'.endswith('.') }} {{ 'abc'.startswith(['x', 'a']) }} ==> true true true
            {{ 'a b  c'.split() | length }} {{ 'a,,b'.split(',') | length }} {{ 'a.b.c'.split('.', 1)[1] }} ==> 3 3 b.c
            {{ 'hello world'.title() }} {{ 'a-b'.replace('-', '+') }} {{ ', '.join(['a', 'b']) }} ==> Hello World a+b a, b
            {% set ns = namespace(i=0) %}{% for m in messages %}{% set ns.i = ns.i + 1 %}{% endfor %}{{ ns.i }} ==> 3
            {% set ns = namespace() %}{% set ns.index = 1 %}{% set ns.index = ns.index * 5 %}{{ ns.index }} ==> 5
            {% for m in messages %}{{ m.role }}{% if not loop.last %},{% endif %}{% endfor %} ==> user,assistant,user
            {% for m in messages[::-1] %}{{ m.content }}{% endfor %}{{ (messages|reverse|first).content }} ==> byeyohibye
            {% set ns = namespace(last=messages|length - 1, n = 2 * 3) %}{{ ns.last }} {{ ns.n }}    ==> 2 6
            {{ 'tool_calls' in messages[0] }} {{ 'role' in messages[0] }} {{ messages[0].tool_calls is defined }} {{ tools is none }} ==> false true false true
            {{ {'a': 1, 'b': [1, 'x"', none, true, 2.5], 'c': {} } | tojson }}          ==> {"a": 1, "b": [1, "x\\"", null, true, 2.5], "c": {}}
            {% for k, v in {'a': 1, 'b': 2} | items %}{{ k }}={{ v }};{% endfor %}     ==> a=1;b=2;
            {% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }};{% endfor %}     ==> a=1;b=2;
            {% filter upper %}abc{% endfilter %}                                       ==> ABC
            {{ 'abc'[0] }}{{ 'abc'[-1] }}{{ messages[0].role[1] }}                      ==> acs
            {{ [3, 1, 2] | min }}{{ [3, 1, 2] | max }}{{ ['b', 'A', 'c'] | min }}     ==> 13A
            {% for m in messages %}[{{ loop.previtem.content }}<{{ m.content }}>{{ loop.nextitem.content }}]{% endfor %} ==> [<hi>yo][hi<yo>bye][yo<bye>]
            {% for m in messages %}{% for c in ['x', 'y'] %}{{ loop.previtem }}{% endfor %}{{ loop.nextitem.role }};{% endfor %} ==> xassistant;xuser;x;
            {{ '\u00a0 x\u2003\\n' | trim }}{{ 'xxayxx' | trim('x') }}                   ==> xay
            {{ messages | selectattr('role', 'equalto', 'user') | list | length }}     ==> 2
            """)
    void jinja2Features(String src, String expected) {
        assertThat(render(src)).isEqualTo(expected);
    }

    @Test
    void tojsonIndentMatchesPythonJsonDumps() {
        assertThat(render("{{ {'a': 1, 'b': [1, 2], 'c': []} | tojson(indent=2) }}"))
                .isEqualTo("{\n  \"a\": 1,\n  \"b\": [\n    1,\n    2\n  ],\n  \"c\": []\n}");
    }

    @Test
    void trimBlocksAndLstripBlocksLikeTransformers() {
        assertThat(render("a\n  {% if true %}\n  X\n  {% endif %}\nb")).isEqualTo("a\n  X\nb");
        assertThat(render("a\n  {%- if true %}\n  X\n  {%- endif %}\nb")).isEqualTo("a  Xb");
        assertThat(render("a\n    {{- 'b' }}\n{#- note #}\nc")).isEqualTo("abc");
    }

    @Test
    void oneTrailingNewlineOfTheSourceIsDropped() {
        ChatTemplate t = ChatTemplate.of("x\n", "", "");
        assertThat(t.render(CONV, true)).isEqualTo("x");
        assertThat(t.source()).isEqualTo("x\n");
        assertThat(ChatTemplate.of("x\n\n", "", "").render(CONV, true)).isEqualTo("x\n");
    }

    @Test
    void strftimeUsesPythonDirectives() {
        var t = java.time.ZonedDateTime.parse("2024-07-06T09:05:03Z");
        assertThat(TemplateFunctions.strftime("%d %b %Y|%B %A %a|%H:%M:%S %p|%m/%y|%j|%%|%Q", t))
                .isEqualTo("06 Jul 2024|July Saturday Sat|09:05:03 AM|07/24|188|%|%Q");
    }

    @Test
    void raiseExceptionBecomesAChatTemplateException() {
        assertThatThrownBy(() -> render("before{{ raise_exception('Only user and assistant roles are supported!') }}after"))
                .isInstanceOf(ChatTemplateException.class)
                .hasMessage("chat template rejected the conversation: Only user and assistant roles are supported!");
    }

    @Test
    void brokenTemplatesGiveAChatTemplateExceptionNamingTheProblem() {
        assertThatThrownBy(() -> render("{% frobnicate %}"))
                .isInstanceOf(ChatTemplateException.class).hasMessageContaining("frobnicate");
        assertThatThrownBy(() -> render("{% if x %}unterminated"))
                .isInstanceOf(ChatTemplateException.class).hasMessageContaining("endif");
        assertThatThrownBy(() -> render("{{ messages | no_such_filter }}"))
                .isInstanceOf(ChatTemplateException.class).hasMessageContaining("no_such_filter");
        assertThatThrownBy(() -> render("{% filter no_such_filter %}x{% endfilter %}"))
                .isInstanceOf(ChatTemplateException.class).hasMessageContaining("no_such_filter");
        assertThatThrownBy(() -> ChatTemplate.of("  ", "", ""))
                .isInstanceOf(ChatTemplateException.class).hasMessageContaining("empty");
    }

    @Test
    void runawayTemplatesAreBounded() {
        assertThatThrownBy(() -> render("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}"))
                .isInstanceOf(ChatTemplateException.class);
        assertThatThrownBy(() -> render("{% for i in range(100000) %}{% for j in range(100000) %}xxxxxxxxxx{% endfor %}{% endfor %}"))
                .isInstanceOf(ChatTemplateException.class);
    }

    @Test
    void chatMessageRoleMustBeNonBlank() {
        assertThatThrownBy(() -> new ChatMessage(" ", "x")).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("role");
        assertThatThrownBy(() -> new ChatMessage(null, "x")).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("role");
    }

    @Test
    void builtInFallbacks() {
        var conv = List.of(ChatMessage.system("S"), ChatMessage.user(" U "), ChatMessage.assistant("A"), ChatMessage.user("V"));
        assertThat(ChatTemplate.of(FallbackTemplates.Kind.CHATML.source(), "", "").render(conv, true))
                .isEqualTo("<|im_start|>system\nS<|im_end|>\n<|im_start|>user\n U <|im_end|>\n<|im_start|>assistant\nA<|im_end|>\n"
                        + "<|im_start|>user\nV<|im_end|>\n<|im_start|>assistant\n");
        assertThat(ChatTemplate.of(FallbackTemplates.Kind.LLAMA3.source(), "<|begin_of_text|>", "").render(conv, true))
                .isEqualTo("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|>"
                        + "<|start_header_id|>user<|end_header_id|>\n\nU<|eot_id|>"
                        + "<|start_header_id|>assistant<|end_header_id|>\n\nA<|eot_id|>"
                        + "<|start_header_id|>user<|end_header_id|>\n\nV<|eot_id|>"
                        + "<|start_header_id|>assistant<|end_header_id|>\n\n");
        assertThat(ChatTemplate.of(FallbackTemplates.Kind.LLAMA2.source(), "<s>", "</s>").render(conv, true))
                .isEqualTo("<s>[INST] <<SYS>>\nS\n<</SYS>>\n\n U [/INST] A </s><s>[INST] V [/INST]");
        assertThat(ChatTemplate.of(FallbackTemplates.Kind.PLAIN.source(), "<s>", "</s>").render(conv, true))
                .isEqualTo("system: S\nuser:  U \nassistant: A\nuser: V\nassistant:");
    }

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource({
            "stories260K.gguf, PLAIN, false",
            "vocab/ggml-vocab-llama-spm.gguf, LLAMA2, false",
            "vocab/ggml-vocab-llama3.gguf, LLAMA3, true",
            "vocab/ggml-vocab-qwen2.gguf, CHATML, true",
            "vocab/ggml-vocab-gpt-2.gguf, PLAIN, false",
            "random/llama-2-tiny-random.gguf, LLAMA2, false",
    })
    void fromGgufFallsBackByArchitectureAndVocabulary(String file, FallbackTemplates.Kind kind, boolean hasTemplate) throws Exception {
        try (GgufFile f = GgufFile.open(SharedTemplates.modelsDir().resolve(file))) {
            assertThat(FallbackTemplates.choose(f)).isEqualTo(kind);
            ChatTemplate t = ChatTemplate.fromGguf(f, "<s>", "</s>");
            assertThat(t.isBuiltInFallback()).isEqualTo(!hasTemplate);
            if (!hasTemplate) assertThat(t.source()).isEqualTo(kind.source());
            assertThat(t.render(List.of(ChatMessage.user("Hi")), true)).contains("Hi");
        }
    }

    @Test
    void stories260KGetsThePlainTranscript() throws Exception {
        try (GgufFile f = GgufFile.open(SharedTemplates.modelsDir().resolve("stories260K.gguf"))) {
            assertThat(ChatTemplate.fromGguf(f, "<s>", "</s>").render(List.of(ChatMessage.user("Tell me a story.")), true))
                    .isEqualTo("user: Tell me a story.\nassistant:");
        }
    }

    /** The Qwen3 vocabulary file carries its model's own template, which uses most of jinja2. */
    @Test
    void fromGgufPrefersTheFilesTemplate() throws Exception {
        Path p = SharedTemplates.modelsDir().resolve("vocab/ggml-vocab-qwen2.gguf");
        try (GgufFile f = GgufFile.open(p)) {
            ChatTemplate t = ChatTemplate.fromGguf(f, "", "<|im_end|>");
            assertThat(t.isBuiltInFallback()).isFalse();
            assertThat(t.source()).isEqualTo(f.getString("tokenizer.chat_template"));
            String out = t.render(List.of(ChatMessage.system("S"), ChatMessage.user("Hello!"),
                    ChatMessage.assistant("<think>\nhmm\n</think>\n\nHi!"), ChatMessage.user("Bye")), true);
            assertThat(out).startsWith("<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHello!<|im_end|>\n")
                    .endsWith("<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n");
        }
    }
}
