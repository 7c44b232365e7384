package io.kvserve.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code kvserve eval}: evaluation harnesses. */
@Command(name = "eval", mixinStandardHelpOptions = true, description = "Evaluation harnesses.",
        subcommands = {EvalKvCommand.class, EvalReuseCommand.class})
public final class EvalCommand implements Runnable {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }
}
