package io.kvserve.server;

import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.exception.AuthenticationException;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.openai.OpenAiChatModel;
import dev.langchain4j.model.openai.OpenAiLanguageModel;
import dev.langchain4j.model.openai.OpenAiStreamingChatModel;
import dev.langchain4j.model.output.FinishReason;
import dev.langchain4j.model.output.Response;
import io.kvserve.model.Model;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** LangChain4j's OpenAI client (not mocked) against a real server on 127.0.0.1. */
class LangChain4jClientTest {
    static Model model;
    static OpenAiServer server;

    @BeforeAll
    static void start() throws Exception {
        model = TestServer.model();
        server = TestServer.start(model, ServerConfig.local("stories260K").withApiKey("sk-lc4j"));
    }

    @AfterAll
    static void stop() throws Exception {
        if (server != null) server.close();
        if (model != null) model.close();
    }

    static String baseUrl() {
        return server.baseUri() + "/v1";
    }

    @Test
    void chat() {
        OpenAiChatModel chat = OpenAiChatModel.builder().baseUrl(baseUrl()).apiKey("sk-lc4j").modelName("stories260K")
                .temperature(0.0).maxTokens(12).timeout(Duration.ofSeconds(60)).build();
        ChatResponse r = chat.chat(UserMessage.from("Tell me about a cat"));
        assertThat(r.aiMessage().text()).isNotNull();
        assertThat(r.tokenUsage().outputTokenCount()).isBetween(1, 12);
        assertThat(r.tokenUsage().inputTokenCount()).isGreaterThan(0);
        assertThat(r.finishReason()).isIn(FinishReason.STOP, FinishReason.LENGTH);
        assertThat(r.metadata().modelName()).isEqualTo("stories260K");
    }

    @Test
    void streamingChatMatchesTheWholeAnswer() throws Exception {
        OpenAiChatModel chat = OpenAiChatModel.builder().baseUrl(baseUrl()).apiKey("sk-lc4j").modelName("stories260K")
                .temperature(0.0).maxTokens(16).build();
        String whole = chat.chat(UserMessage.from("Once upon a time")).aiMessage().text();
        OpenAiStreamingChatModel streaming = OpenAiStreamingChatModel.builder().baseUrl(baseUrl()).apiKey("sk-lc4j").modelName("stories260K")
                .temperature(0.0).maxTokens(16).build();
        StringBuilder parts = new StringBuilder();
        CompletableFuture<ChatResponse> done = new CompletableFuture<>();
        streaming.chat("Once upon a time", new StreamingChatResponseHandler() {
            @Override public void onPartialResponse(String partial) { parts.append(partial); }
            @Override public void onCompleteResponse(ChatResponse response) { done.complete(response); }
            @Override public void onError(Throwable error) { done.completeExceptionally(error); }
        });
        ChatResponse r = done.get(60, TimeUnit.SECONDS);
        assertThat(parts.toString()).isEqualTo(whole);
        assertThat(r.aiMessage().text()).isEqualTo(whole);
    }

    @Test
    void completions() {
        OpenAiLanguageModel lm = OpenAiLanguageModel.builder().baseUrl(baseUrl()).apiKey("sk-lc4j").modelName("stories260K").temperature(0.0).build();
        Response<String> r = lm.generate("Once upon a time");
        assertThat(r.content()).isNotEmpty();
        assertThat(r.tokenUsage().outputTokenCount()).isBetween(1, 16);
    }

    @Test
    void aWrongKeyIsAnAuthenticationError() {
        OpenAiChatModel chat = OpenAiChatModel.builder().baseUrl(baseUrl()).apiKey("sk-wrong").modelName("stories260K").maxRetries(0).build();
        assertThatThrownBy(() -> chat.chat("Hi")).isInstanceOf(AuthenticationException.class);
    }
}
