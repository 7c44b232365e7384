package io.kvserve.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Entry point of the kvserve command line. */
@Command(name = "kvserve", mixinStandardHelpOptions = true, version = "kvserve 0.1.0",
        description = "LLM inference and serving with a programmable KV cache.",
        subcommands = {GenerateCommand.class, ChatCommand.class, BenchCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    public static void main(String[] args) {
        CommandLine cl = new CommandLine(new Main());
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            if (ex instanceof io.kvserve.model.ModelFileException || ex instanceof java.io.IOException
                    || ex instanceof IllegalArgumentException || ex instanceof IllegalStateException) {
                String msg = ex instanceof java.nio.file.NoSuchFileException nf ? nf.getFile() + ": " + (nf.getReason() != null ? nf.getReason() : "file not found") : ex.getMessage();
                cmd.getErr().println("kvserve: " + msg);
                return 1;
            }
            throw ex;
        });
        System.exit(cl.execute(args));
    }

    @Override
    public void run() {
        new CommandLine(this).usage(System.out);
    }
}
