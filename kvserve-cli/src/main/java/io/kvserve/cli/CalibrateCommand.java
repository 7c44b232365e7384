package io.kvserve.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code kvserve calibrate}: offline calibration runs whose profiles presses load. */
@Command(name = "calibrate", mixinStandardHelpOptions = true, description = "Calibration runs that write profiles for KV presses.",
        subcommands = {CalibrateEliteKvCommand.class, CalibratePrefixKvCommand.class})
public final class CalibrateCommand implements Runnable {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }
}
