package io.kvserve.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Entry point of the kvserve command line. */
@Command(name = "kvserve", mixinStandardHelpOptions = true, version = "kvserve 0.1.0",
        description = "LLM inference and serving with a programmable KV cache.",
        subcommands = {CommandLine.HelpCommand.class, RouteCommand.class})
public final class Main implements Runnable {
    public static void main(String[] args) {
        System.exit(new CommandLine(new Main()).execute(args));
    }

    @Override
    public void run() {
        new CommandLine(this).usage(System.out);
    }
}
