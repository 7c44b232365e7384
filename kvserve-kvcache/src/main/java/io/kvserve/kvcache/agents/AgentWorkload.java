package io.kvserve.kvcache.agents;

import io.kvserve.model.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Three multi-agent workloads in the spirit of KVCOMM's (MMLU as retrieval-augmented question
 * answering, GSM8K step-by-step math, HumanEval collaborative coding), written as TinyStories-like
 * English so that a TinyStories model can read them: a story and a question about it, counting
 * problems about toys and fruit, and friends who plan, build, check and fix a toy. Every agent of a
 * fully connected graph reads the user's input and every other agent's latest response.
 */
public enum AgentWorkload {
    RAG("reads the story and finds the answer", "checks the answer and finds what is missing", "thinks about why it happened",
            "tells the answer in a short way", "looks for the best words in the story"),
    MATH("counts the things one by one", "checks each step of the counting", "adds the numbers together",
            "finds a mistake if there is one", "says the last number"),
    CODING("makes a plan to build the toy", "builds the parts of the toy", "checks the toy for mistakes",
            "tests if the toy works", "fixes what is broken");

    /** The agents' names: at most five agents. */
    public static final List<String> NAMES = List.of("Lily", "Tom", "Mia", "Ben", "Sam");
    public static final String INPUT_SLOT = "input";

    private final List<String> roles;

    AgentWorkload(String... roles) {
        this.roles = List.of(roles);
    }

    public static AgentWorkload parse(String s) {
        try {
            return valueOf(s.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown workload '" + s + "': use rag, math or coding");
        }
    }

    /** The response slot of an agent. */
    public static String slotOf(String agent) {
        return agent.toLowerCase(Locale.ROOT);
    }

    /**
     * Templates of {@code n} agents. The fixed text of each is padded with a background story
     * (from {@code stories}, different per agent) to about {@code prefixTokens} tokens.
     */
    public List<AgentTemplate> agents(int n, Tokenizer tok, List<String> stories, int prefixTokens) {
        if (n < 2 || n > NAMES.size()) throw new IllegalArgumentException("a pipeline has 2 to " + NAMES.size() + " agents, got " + n);
        List<AgentTemplate> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            String me = NAMES.get(i);
            List<String> texts = new ArrayList<>(), slots = new ArrayList<>();
            String intro = switch (this) {
                case RAG -> "\n" + me + " " + roles.get(i) + ". Here is a story from the big book and a question about it.\n";
                case MATH -> "\n" + me + " " + roles.get(i) + ". Here is a little problem about counting.\n";
                case CODING -> "\n" + me + " " + roles.get(i) + ". The friends want to build a toy together.\n";
            };
            texts.add(intro);
            slots.add(INPUT_SLOT);
            for (int j = 0; j < n; j++) {
                if (j == i) continue;
                texts.add("\n" + NAMES.get(j) + " said: ");
                slots.add(slotOf(NAMES.get(j)));
            }
            texts.add(switch (this) {
                case RAG -> "\nThen " + me + " said: ";
                case MATH -> "\nLet us count step by step. " + me + " said: ";
                case CODING -> "\nSo " + me + " said: ";
            });
            int fixed = 1;
            for (String s : texts) fixed += AgentPrompt.encode(tok, s).length;
            int pad = prefixTokens - fixed;
            if (pad > 0) texts.set(0, trimTo(tok, story(stories, 7 * i + ordinal() * 31 + 1000), pad) + texts.getFirst());
            out.add(new AgentTemplate(me, texts, slots));
        }
        return out;
    }

    /** The user's input of query {@code q}: a story (trimmed) and a question, about {@code tokens} tokens. */
    public String input(int q, Tokenizer tok, List<String> stories, int tokens) {
        SplittableRandom r = new SplittableRandom(q * 7919L + ordinal());
        String a = NAMES.get(r.nextInt(NAMES.size())), b = NAMES.get(r.nextInt(NAMES.size()));
        if (a.equals(b)) b = "Mom";
        String question = switch (this) {
            case RAG -> new String[] {"Who is in the story and what did they do?", "Why was the friend sad in the story?",
                    "What did they find and where did they go?", "How did the story end?"}[r.nextInt(4)];
            case MATH -> {
                String thing = new String[] {"apples", "red balls", "little cars", "flowers", "cookies"}[r.nextInt(5)];
                int x = 1 + r.nextInt(9), y = 1 + r.nextInt(9);
                yield a + " had " + x + " " + thing + ". " + b + " gave " + a + " " + y + " more " + thing + ". How many " + thing + " did " + a + " have?";
            }
            case CODING -> {
                String toy = new String[] {"a toy car", "a little robot", "a big boat", "a red kite", "a tall tower"}[r.nextInt(5)];
                yield a + " and " + b + " want to build " + toy + ". What are the steps to build " + toy + "?";
            }
        };
        int qTokens = AgentPrompt.encode(tok, question).length;
        String story = trimTo(tok, story(stories, q), Math.max(8, tokens - qTokens));
        return story + "\n" + question;
    }

    private static String story(List<String> stories, int i) {
        if (stories.isEmpty()) throw new IllegalArgumentException("the text has no stories (blank-line-separated paragraphs)");
        return stories.get(Math.floorMod(i, stories.size()));
    }

    /**
     * The first {@code tokens} tokens of {@code text} as text (paragraphs appended from the same
     * text when it is shorter, so a budget is always met).
     */
    public static String trimTo(Tokenizer tok, String text, int tokens) {
        int[] t = AgentPrompt.encode(tok, text);
        StringBuilder sb = new StringBuilder(text);
        while (t.length < tokens) {
            sb.append(' ').append(text);
            t = AgentPrompt.encode(tok, sb.toString());
        }
        return tok.decode(Arrays.copyOf(t, tokens)).strip();
    }
}
