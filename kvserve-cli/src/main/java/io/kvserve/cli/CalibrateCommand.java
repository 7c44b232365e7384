package io.kvserve.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code kvserve calibrate}: offline calibration runs whose results presses load. */
@Command(name = "calibrate", mixinStandardHelpOptions = true, description = "Calibration runs for KV presses.",
        subcommands = {CalibratePrefixKvCommand.class})
public final class CalibrateCommand implements Runnable {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }
}
