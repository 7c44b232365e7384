package io.kvserve.model.chat;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import io.kvserve.model.gguf.GgufFile;

import java.time.Clock;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A HuggingFace-style Jinja chat template, rendered with jinjava configured to behave like
 * transformers' {@code apply_chat_template}: {@code trim_blocks} and {@code lstrip_blocks} on, one
 * trailing newline of the source dropped, the variables {@code messages}, {@code bos_token},
 * {@code eos_token}, {@code add_generation_prompt} and {@code tools} (none), and the helpers real
 * templates call: {@code raise_exception}, {@code strftime_now}, {@code namespace}, a Python-compatible
 * {@code tojson}, the {@code items} filter and Python string methods ({@code .strip()},
 * {@code .startswith(..)}, {@code .split(..)} ...).
 *
 * <p>A template from a model file is untrusted input: output size, string length and recursion are
 * bounded, and every failure is a {@link ChatTemplateException} that names the problem.
 */
public final class ChatTemplate {
    static final String NOW_VARIABLE = "__kvserve_now__";
    private static final long MAX_OUTPUT_CHARS = 8L << 20;

    private static final Jinjava JINJAVA = createJinjava();

    private final String source;
    private final String renderSource;
    private final String bosToken;
    private final String eosToken;
    private final boolean builtInFallback;
    private final String name;
    private final Clock clock;

    private ChatTemplate(String source, String bosToken, String eosToken, boolean builtInFallback, String name, Clock clock) {
        this.source = source;
        // jinja2 (keep_trailing_newline=False) drops a single trailing newline of the template source
        String trimmed = source.endsWith("\r\n") ? source.substring(0, source.length() - 2)
                : source.endsWith("\n") ? source.substring(0, source.length() - 1) : source;
        this.renderSource = Jinja2Compat.rewrite(trimmed);
        for (String filter : Jinja2Compat.filterNames(trimmed)) {
            if (JINJAVA.getGlobalContext().getFilter(filter) == null) {
                throw new ChatTemplateException(name + " uses the filter '" + filter + "', which kvserve's Jinja engine does not have", false);
            }
        }
        this.bosToken = bosToken;
        this.eosToken = eosToken;
        this.builtInFallback = builtInFallback;
        this.name = name;
        this.clock = clock;
    }

    /** A template from Jinja source; {@code bosToken} and {@code eosToken} are the vocabulary's texts ("" if none). */
    public static ChatTemplate of(String jinjaSource, String bosToken, String eosToken) {
        return of(jinjaSource, bosToken, eosToken, "chat template");
    }

    static ChatTemplate of(String jinjaSource, String bosToken, String eosToken, String name) {
        if (jinjaSource == null || jinjaSource.isBlank()) {
            throw new ChatTemplateException(name + " is empty: give a Jinja template or let kvserve choose a built-in one", false);
        }
        return new ChatTemplate(jinjaSource, nullToEmpty(bosToken), nullToEmpty(eosToken), false, name, Clock.systemUTC());
    }

    /**
     * The model's own template ({@code tokenizer.chat_template}) if the file has one, otherwise a
     * built-in fallback chosen from the architecture and the vocabulary; see {@link FallbackTemplates}.
     */
    public static ChatTemplate fromGguf(GgufFile f, String bosToken, String eosToken) {
        Objects.requireNonNull(f, "gguf file");
        Object tmpl = f.metadata().get("tokenizer.chat_template");
        if (tmpl != null) {
            if (!(tmpl instanceof String s)) {
                throw new ChatTemplateException(f.path() + ": metadata 'tokenizer.chat_template' must be a string, got "
                        + tmpl.getClass().getSimpleName() + ": the model file is corrupted", false);
            }
            if (!s.isBlank()) return of(s, bosToken, eosToken, f.path() + " tokenizer.chat_template");
        }
        FallbackTemplates.Kind kind = FallbackTemplates.choose(f);
        return new ChatTemplate(kind.source(), nullToEmpty(bosToken), nullToEmpty(eosToken), true,
                "built-in " + kind.name().toLowerCase() + " template", Clock.systemUTC());
    }

    /** A built-in template, for model files that carry none (llama2.c checkpoints). */
    public static ChatTemplate builtIn(FallbackTemplates.Kind kind, String bosToken, String eosToken) {
        return new ChatTemplate(kind.source(), nullToEmpty(bosToken), nullToEmpty(eosToken), true,
                "built-in " + kind.name().toLowerCase() + " template", Clock.systemUTC());
    }

    /** This template with {@code strftime_now} reading the given clock (tests pin the date). */
    public ChatTemplate withClock(Clock clock) {
        return new ChatTemplate(source, bosToken, eosToken, builtInFallback, name, Objects.requireNonNull(clock, "clock"));
    }

    /**
     * Renders the conversation. With {@code addGenerationPrompt} the text ends with the header that
     * makes the model answer as the assistant.
     *
     * @throws ChatTemplateException if the template fails or rejects the conversation
     */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt) {
        Objects.requireNonNull(messages, "messages");
        List<Map<String, Object>> msgs = new ArrayList<>(messages.size());
        for (ChatMessage m : messages) {
            Objects.requireNonNull(m, "a chat message is null");
            Map<String, Object> mm = new LinkedHashMap<>();
            mm.put("role", m.role());
            mm.put("content", m.content());
            msgs.add(mm);
        }
        Map<String, Object> bindings = new HashMap<>();
        bindings.put("messages", msgs);
        bindings.put("bos_token", bosToken);
        bindings.put("eos_token", eosToken);
        bindings.put("add_generation_prompt", addGenerationPrompt);
        bindings.put("tools", null);
        bindings.put(NOW_VARIABLE, ZonedDateTime.now(clock));
        // jinja2 sees global functions as defined variables; Llama 3.2 tests `strftime_now is defined`
        bindings.put("strftime_now", "strftime_now");
        bindings.put("raise_exception", "raise_exception");

        RenderResult result;
        try {
            result = JINJAVA.renderForResult(renderSource, bindings);
        } catch (TemplateRaisedException e) {
            throw raised(e);
        } catch (ChatTemplateException e) {
            throw e;
        } catch (RuntimeException | StackOverflowError e) {
            throw new ChatTemplateException(name + " failed to render: " + describe(e), e);
        }
        for (TemplateError err : result.getErrors()) {
            TemplateRaisedException raised = findRaised(err.getException());
            if (raised != null) throw raised(raised);
        }
        for (TemplateError err : result.getErrors()) {
            // a WARNING with reason EXCEPTION is a real failure (macro recursion limit, bad filter argument)
            if (err.getSeverity() == TemplateError.ErrorType.FATAL || err.getReason() == TemplateError.ErrorReason.EXCEPTION) {
                throw new ChatTemplateException(name + " failed to render at line " + err.getLineno() + ": " + err.getMessage(), false);
            }
        }
        return result.getOutput();
    }

    public String source() { return source; }
    public boolean isBuiltInFallback() { return builtInFallback; }
    public String bosToken() { return bosToken; }
    public String eosToken() { return eosToken; }

    @Override
    public String toString() {
        return name;
    }

    private ChatTemplateException raised(TemplateRaisedException e) {
        return new ChatTemplateException(name + " rejected the conversation: " + e.getMessage(), true);
    }

    private static TemplateRaisedException findRaised(Throwable t) {
        for (int depth = 0; t != null && depth < 16; depth++, t = t.getCause()) {
            if (t instanceof TemplateRaisedException r) return r;
        }
        return null;
    }

    private static String describe(Throwable e) {
        String msg = e.getMessage();
        return e.getClass().getSimpleName() + (msg == null ? "" : ": " + msg);
    }

    private static String nullToEmpty(String s) {
        return s == null ? "" : s;
    }

    private static Jinjava createJinjava() {
        JinjavaConfig config = JinjavaConfig.newBuilder()
                .withTrimBlocks(true)
                .withLstripBlocks(true)
                .withMaxOutputSize(MAX_OUTPUT_CHARS)
                .withMaxStringLength(MAX_OUTPUT_CHARS)
                .withMaxRenderDepth(20)
                .withEnableRecursiveMacroCalls(true)
                .withMaxMacroRecursionDepth(20)
                .withRangeLimit(100_000)
                .withElResolver(PythonMethods.resolver())
                .withLegacyOverrides(LegacyOverrides.newBuilder()
                        .withUseNaturalOperatorPrecedence(true)
                        .withParseWhitespaceControlStrictly(true)
                        .withWhitespaceRequiredWithinTokens(false)
                        .withKeepNullableLoopValues(true)
                        .withUseTrimmingForNotesAndExpressions(true)
                        .build())
                .build();
        Jinjava j = new Jinjava(config);
        var ctx = j.getGlobalContext();
        ctx.registerFunction(new ELFunctionDefinition("", "raise_exception", TemplateFunctions.class, "raiseException", String.class));
        ctx.registerFunction(new ELFunctionDefinition("", "strftime_now", TemplateFunctions.class, "strftimeNow", String.class));
        ctx.registerFilter(new PythonJson.ToJsonFilter());
        ctx.registerFilter(new TemplateFunctions.ItemsFilter());
        ctx.registerFilter(new TemplateFunctions.TrimFilter());
        ctx.registerFilter(new TemplateFunctions.ExtremumFilter(false));
        ctx.registerFilter(new TemplateFunctions.ExtremumFilter(true));
        ctx.registerTag(new Jinja2Compat.FilterBlockTag());
        return j;
    }
}
