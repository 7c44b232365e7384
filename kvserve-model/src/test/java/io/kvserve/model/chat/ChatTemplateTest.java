package io.kvserve.model.chat;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Real models' templates rendered against strings worked out by hand from each template's source
 * (what transformers' apply_chat_template gives for the same conversation).
 */
class ChatTemplateTest {
    static final String SYSTEM = "You are a helpful assistant.";
    static final List<ChatMessage> CONVERSATION = List.of(
            ChatMessage.system(SYSTEM),
            ChatMessage.user("Hello!"),
            ChatMessage.assistant("Hi there! How can I help?"),
            ChatMessage.user("Tell me a joke."));
    static final List<ChatMessage> NO_SYSTEM = CONVERSATION.subList(1, 4);

    static ChatTemplate load(String name, String bos, String eos) {
        return ChatTemplate.of(SharedTemplates.read(name), bos, eos);
    }

    @Test
    void llama31Instruct() {
        ChatTemplate t = load("meta-llama-Llama-3.1-8B-Instruct", "<|begin_of_text|>", "<|eot_id|>");
        String expected = "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
                + "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n"
                + SYSTEM + "<|eot_id|>"
                + "<|start_header_id|>user<|end_header_id|>\n\nHello!<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\nHi there! How can I help?<|eot_id|>"
                + "<|start_header_id|>user<|end_header_id|>\n\nTell me a joke.<|eot_id|>";
        assertThat(t.render(CONVERSATION, true)).isEqualTo(expected + "<|start_header_id|>assistant<|end_header_id|>\n\n");
        assertThat(t.render(CONVERSATION, false)).isEqualTo(expected);
    }

    @Test
    void llama31TrimsContentAndDefaultsSystemToEmpty() {
        ChatTemplate t = load("meta-llama-Llama-3.1-8B-Instruct", "<|begin_of_text|>", "<|eot_id|>");
        assertThat(t.render(List.of(ChatMessage.user("  Hi \n")), true)).isEqualTo(
                "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
                        + "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|>"
                        + "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
                        + "<|start_header_id|>assistant<|end_header_id|>\n\n");
    }

    @Test
    void llama32UsesStrftimeNowWithTheInjectedClock() {
        Clock clock = Clock.fixed(Instant.parse("2025-03-05T10:00:00Z"), ZoneOffset.UTC);
        ChatTemplate t = load("meta-llama-Llama-3.2-3B-Instruct", "<|begin_of_text|>", "<|eot_id|>").withClock(clock);
        assertThat(t.render(List.of(ChatMessage.user("Hi")), true)).isEqualTo(
                "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
                        + "Cutting Knowledge Date: December 2023\nToday Date: 05 Mar 2025\n\n<|eot_id|>"
                        + "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
                        + "<|start_header_id|>assistant<|end_header_id|>\n\n");
    }

    @Test
    void qwen25Instruct() {
        ChatTemplate t = load("Qwen-Qwen2.5-7B-Instruct", "", "<|im_end|>");
        String expected = "<|im_start|>system\n" + SYSTEM + "<|im_end|>\n"
                + "<|im_start|>user\nHello!<|im_end|>\n"
                + "<|im_start|>assistant\nHi there! How can I help?<|im_end|>\n"
                + "<|im_start|>user\nTell me a joke.<|im_end|>\n";
        assertThat(t.render(CONVERSATION, true)).isEqualTo(expected + "<|im_start|>assistant\n");
        assertThat(t.render(CONVERSATION, false)).isEqualTo(expected);
    }

    @Test
    void qwen25AddsItsDefaultSystemPrompt() {
        ChatTemplate t = load("Qwen-Qwen2.5-7B-Instruct", "", "<|im_end|>");
        assertThat(t.render(List.of(ChatMessage.user("Hi")), true)).isEqualTo(
                "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
                        + "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
    }

    @Test
    void mistralNemoPutsTheSystemPromptIntoTheLastUserTurn() {
        ChatTemplate t = load("mistralai-Mistral-Nemo-Instruct-2407", "<s>", "</s>");
        String expected = "<s>[INST]Hello![/INST]Hi there! How can I help?</s>"
                + "[INST]" + SYSTEM + "\n\nTell me a joke.[/INST]";
        // the template has no generation prompt: the prompt always ends with [/INST]
        assertThat(t.render(CONVERSATION, true)).isEqualTo(expected);
        assertThat(t.render(CONVERSATION, false)).isEqualTo(expected);
    }

    @Test
    void mistralNemoRejectsNonAlternatingRoles() {
        ChatTemplate t = load("mistralai-Mistral-Nemo-Instruct-2407", "<s>", "</s>");
        assertThatThrownBy(() -> t.render(List.of(ChatMessage.user("a"), ChatMessage.user("b")), true))
                .isInstanceOf(ChatTemplateException.class)
                .hasMessageContaining("conversation roles must alternate user/assistant")
                .satisfies(e -> assertThat(((ChatTemplateException) e).raisedByTemplate()).isTrue());
    }

    @Test
    void phi35Mini() {
        ChatTemplate t = load("microsoft-Phi-3.5-mini-instruct", "<s>", "<|endoftext|>");
        String expected = "<|system|>\n" + SYSTEM + "<|end|>\n"
                + "<|user|>\nHello!<|end|>\n"
                + "<|assistant|>\nHi there! How can I help?<|end|>\n"
                + "<|user|>\nTell me a joke.<|end|>\n";
        assertThat(t.render(CONVERSATION, true)).isEqualTo(expected + "<|assistant|>\n");
        assertThat(t.render(CONVERSATION, false)).isEqualTo(expected + "<|endoftext|>");
    }

    @Test
    void gemma2() {
        ChatTemplate t = load("google-gemma-2-2b-it", "<bos>", "<eos>");
        String expected = "<bos><start_of_turn>user\nHello!<end_of_turn>\n"
                + "<start_of_turn>model\nHi there! How can I help?<end_of_turn>\n"
                + "<start_of_turn>user\nTell me a joke.<end_of_turn>\n";
        assertThat(t.render(NO_SYSTEM, true)).isEqualTo(expected + "<start_of_turn>model\n");
        assertThat(t.render(NO_SYSTEM, false)).isEqualTo(expected);
        // content | trim binds tighter than +
        assertThat(t.render(List.of(ChatMessage.user("  padded  ")), false)).isEqualTo("<bos><start_of_turn>user\npadded<end_of_turn>\n");
    }

    @Test
    void gemma2RaiseExceptionOnSystemRoleIsAChatTemplateException() {
        ChatTemplate t = load("google-gemma-2-2b-it", "<bos>", "<eos>");
        assertThatThrownBy(() -> t.render(CONVERSATION, true))
                .isInstanceOf(ChatTemplateException.class)
                .hasMessageContaining("System role not supported")
                .satisfies(e -> assertThat(((ChatTemplateException) e).raisedByTemplate()).isTrue());
    }

    @Test
    void deepSeekR1DistillStripsThinkingFromHistoryAndOpensAThinkBlock() {
        ChatTemplate t = load("deepseek-ai-DeepSeek-R1-Distill-Qwen-32B", "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>");
        List<ChatMessage> conv = List.of(ChatMessage.system(SYSTEM), ChatMessage.user("Hello!"),
                ChatMessage.assistant("<think>\nThey greet me.\n</think>\n\nHi there!"), ChatMessage.user("Tell me a joke."));
        assertThat(t.render(conv, true)).isEqualTo("<｜begin▁of▁sentence｜>" + SYSTEM
                + "<｜User｜>Hello!<｜Assistant｜>\n\nHi there!<｜end▁of▁sentence｜>"
                + "<｜User｜>Tell me a joke.<｜Assistant｜><think>\n");
        assertThat(t.render(conv, false)).endsWith("<｜User｜>Tell me a joke.");
    }

    @Test
    void llamaCppDeepSeekR1() {
        ChatTemplate t = load("llama-cpp-deepseek-r1", "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>");
        assertThat(t.render(CONVERSATION, true)).isEqualTo("<｜begin▁of▁sentence｜>" + SYSTEM
                + "<｜User｜>Hello!<｜end▁of▁sentence｜><｜Assistant｜>Hi there! How can I help?<｜end▁of▁sentence｜>"
                + "<｜User｜>Tell me a joke.<｜end▁of▁sentence｜><｜Assistant｜><think>\n");
    }

    @Test
    void hermes2ProWithoutToolsStillWritesItsToolPreamble() {
        ChatTemplate t = load("NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use", "<|begin_of_text|>", "<|im_end|>");
        String preamble = "<|begin_of_text|><|im_start|>system\nYou are a function calling AI model. You are provided with function"
                + " signatures within <tools></tools> XML tags. You may call one or more functions to assist with the user query."
                + " Don't make assumptions about what values to plug into functions. Here are the available tools: <tools>  </tools>"
                + "Use the following pydantic model json schema for each tool call you will make: {\"properties\": {\"name\":"
                + " {\"title\": \"Name\", \"type\": \"string\"}, \"arguments\": {\"title\": \"Arguments\", \"type\": \"object\"}},"
                + " \"required\": [\"name\", \"arguments\"], \"title\": \"FunctionCall\", \"type\": \"object\"}}\n"
                + "For each function call return a json object with function name and arguments within <tool_call></tool_call>"
                + " XML tags as follows:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-dict>}\n</tool_call><|im_end|>\n";
        assertThat(t.render(CONVERSATION, true)).isEqualTo(preamble
                + "<|im_start|>system\n" + SYSTEM + "<|im_end|>\n"
                + "<|im_start|>user\nHello!<|im_end|>\n"
                + "<|im_start|>assistant\nHi there! How can I help?<|im_end|>\n"
                + "<|im_start|>user\nTell me a joke.<|im_end|>\n<|im_start|>assistant\n");
    }

    @Test
    void hermes3GroupsToolResultsWithLoopPrevitemAndNextitem() {
        ChatTemplate t = load("NousResearch-Hermes-3-Llama-3.1-8B-tool_use", "<|begin_of_text|>", "<|im_end|>");
        List<ChatMessage> conv = List.of(ChatMessage.user("Weather?"), ChatMessage.assistant("Let me check."),
                new ChatMessage("tool", "sunny"), new ChatMessage("tool", "22C"), ChatMessage.user("Thanks"));
        assertThat(t.render(conv, true)).endsWith("</tool_call><|im_end|>\n"
                + "<|im_start|>user\nWeather?<|im_end|>\n<|im_start|>assistant\nLet me check.<|im_end|>\n"
                + "<|im_start|>tool\n<tool_response>\nsunny\n</tool_response>\n<tool_response>\n22C\n</tool_response>\n<|im_end|>"
                + "<|im_start|>user\nThanks<|im_end|>\n<|im_start|>assistant\n");
    }

    @Test
    void functionaryV31() {
        ChatTemplate t = load("meetkai-functionary-medium-v3.1", "<|begin_of_text|>", "<|eot_id|>");
        assertThat(t.render(CONVERSATION, true)).isEqualTo("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n\n"
                + "Cutting Knowledge Date: December 2023\n\n<|eot_id|>"
                + "<|start_header_id|>system<|end_header_id|>\n\n" + SYSTEM + "<|eot_id|>"
                + "<|start_header_id|>user<|end_header_id|>\n\nHello!<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\nHi there! How can I help?<|eot_id|>"
                + "<|start_header_id|>user<|end_header_id|>\n\nTell me a joke.<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\n");
    }

    static Stream<String> allTemplates() {
        return SharedTemplates.allTemplateNames();
    }

    /** Every shared template renders a plain conversation, with and without the generation prompt. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("allTemplates")
    void everySharedTemplateRendersAPlainConversation(String name) {
        ChatTemplate t = load(name, "<s>", "</s>");
        List<ChatMessage> conv = name.startsWith("google-gemma") ? NO_SYSTEM : CONVERSATION;
        String withPrompt = t.render(conv, true);
        String without = t.render(conv, false);
        assertThat(withPrompt).contains("Hello!").contains("Tell me a joke.");
        assertThat(without).contains("Tell me a joke.");
        if (!name.startsWith("google-gemma")) assertThat(withPrompt).contains(SYSTEM);
        // the generation prompt only ever appends
        assertThat(withPrompt).startsWith(without.substring(0, without.length() - trailingDifference(name)));
    }

    // Phi-3.5 appends eos_token only without the generation prompt; Cohere templates always end with the chatbot turn
    private static int trailingDifference(String name) {
        return name.startsWith("microsoft-Phi") ? "</s>".length() : 0;
    }
}
