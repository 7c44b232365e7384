/**
 * Chat templates: a conversation of {@link io.kvserve.model.chat.ChatMessage}s rendered to the prompt
 * text a model was trained on, by the model's own HuggingFace Jinja template
 * ({@code tokenizer.chat_template}) or a built-in fallback ({@link io.kvserve.model.chat.FallbackTemplates}).
 * Rendering uses jinjava, adjusted to jinja2's behaviour where real templates depend on it
 * ({@link io.kvserve.model.chat.Jinja2Compat}, {@link io.kvserve.model.chat.PythonMethods}).
 */
package io.kvserve.model.chat;
