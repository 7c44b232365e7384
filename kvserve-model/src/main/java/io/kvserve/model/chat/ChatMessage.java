package io.kvserve.model.chat;

import java.util.Objects;

/**
 * One turn of a conversation as chat templates see it: {@code role} is usually {@code system},
 * {@code user} or {@code assistant} (templates decide what they accept); {@code content} is the text.
 */
public record ChatMessage(String role, String content) {
    public ChatMessage {
        if (role == null || role.isBlank()) {
            throw new IllegalArgumentException("chat message role must be non-blank, got " + (role == null ? "null" : "'" + role + "'"));
        }
        Objects.requireNonNull(content, "chat message content must not be null (use \"\" for an empty message)");
    }

    public static ChatMessage system(String content) { return new ChatMessage("system", content); }
    public static ChatMessage user(String content) { return new ChatMessage("user", content); }
    public static ChatMessage assistant(String content) { return new ChatMessage("assistant", content); }
}
