package io.kvserve.cli;

import io.kvserve.model.ModelFileException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;

/** Entry point of the kvserve command line. */
@Command(name = "kvserve", mixinStandardHelpOptions = true, version = "kvserve 0.1.0",
        description = "LLM inference and serving with a programmable KV cache.",
        subcommands = {GenerateCommand.class, ChatCommand.class, ServeCommand.class, BenchCommand.class, EvalCommand.class, CalibrateCommand.class, AgentsCommand.class, InspectCommand.class, SynthCommand.class, RouteCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    /** The configured command line; tests call {@code execute} on it with their own out/err writers. */
    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Main());
        cl.setOut(new java.io.PrintWriter(new java.io.OutputStreamWriter(new java.io.FileOutputStream(java.io.FileDescriptor.out), java.nio.charset.StandardCharsets.UTF_8), true));
        cl.setExecutionExceptionHandler(Main::handleExecutionException);
        return cl;
    }

    /**
     * Problems the user can fix (a bad model file, a missing file, a bad argument) print one line
     * {@code kvserve: <message>} and exit 1; anything else is a bug and keeps its stack trace.
     */
    static int handleExecutionException(Exception ex, CommandLine cmd, CommandLine.ParseResult parsed) throws Exception {
        String message = userMessage(ex);
        if (message == null) throw ex;
        cmd.getErr().println("kvserve: " + message);
        cmd.getErr().flush();
        return 1;
    }

    /** The one-line message for an expected failure, or {@code null} for an unexpected one. */
    static String userMessage(Throwable ex) {
        Throwable e = ex instanceof UncheckedIOException u && u.getCause() != null ? u.getCause() : ex;
        return switch (e) {
            case NoSuchFileException f -> "file not found: " + f.getFile() + (f.getReason() != null ? " (" + f.getReason() + ")" : "");
            case AccessDeniedException f -> "permission denied: " + f.getFile();
            case FileSystemException f -> f.getMessage();
            case ModelFileException m -> orClassName(m);
            case IOException io -> orClassName(io);
            case IllegalArgumentException ia -> orClassName(ia);
            case io.kvserve.model.kv.KvCacheFullException full -> orClassName(full);
            default -> null;
        };
    }

    private static String orClassName(Throwable t) {
        return t.getMessage() != null ? t.getMessage() : t.getClass().getSimpleName();
    }

    @Override
    public void run() {
        new CommandLine(this).usage(System.out);
    }
}
