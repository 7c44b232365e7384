package io.kvserve.kvcache.press;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;

/**
 * A PrefixKV calibration profile, as JSON: the model it was made on, what it was calibrated on,
 * and for each compression ratio one eviction ratio per layer (the mean over calibration samples
 * of each sample's searched ratios, as the paper aggregates its per-sample recipes).
 *
 * @param model   name of the model calibrated
 * @param layers  layer count
 * @param source  the calibration text and which stories of it
 * @param samples calibration samples
 * @param start   the press's start (sinks) used in the search
 * @param ratios  one entry per compression ratio
 */
public record PrefixKvProfile(String model, int layers, String source, int samples, int start, List<Entry> ratios) {
    /** Per-layer eviction ratios at one compression ratio. */
    public record Entry(double ratio, double[] evict) {}

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    public void write(Path file) throws IOException {
        JSON.writeValue(file.toFile(), this);
    }

    /** Reads a profile; a missing or malformed file is an {@link IllegalArgumentException} that names it and the remedy. */
    public static PrefixKvProfile read(Path file) {
        String remedy = "make one with: kvserve calibrate prefixkv --model MODEL --out " + file;
        PrefixKvProfile p;
        try {
            p = JSON.readValue(Files.readString(file), PrefixKvProfile.class);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("prefixkv: profile file " + file + " does not exist; " + remedy);
        } catch (JacksonException e) {
            throw new IllegalArgumentException("prefixkv: profile file " + file + " is not a PrefixKV profile (" + e.getOriginalMessage() + "); " + remedy);
        } catch (IOException e) {
            throw new UncheckedIOException("prefixkv: cannot read profile " + file, e);
        }
        if (p.ratios() == null || p.ratios().isEmpty()) throw new IllegalArgumentException("prefixkv: profile " + file + " holds no ratios; " + remedy);
        for (Entry e : p.ratios()) {
            if (e.evict() == null || e.evict().length != p.layers()) {
                throw new IllegalArgumentException("prefixkv: profile " + file + " at ratio " + e.ratio() + " lists "
                        + (e.evict() == null ? 0 : e.evict().length) + " layers, expected " + p.layers() + "; " + remedy);
            }
        }
        return p;
    }

    /** The per-layer eviction ratios calibrated at {@code ratio}. */
    public double[] evictAt(double ratio, String file) {
        for (Entry e : ratios) if (Math.abs(e.ratio() - ratio) < 1e-9) return e.evict().clone();
        throw new IllegalArgumentException("prefixkv: profile " + file + " has no calibration at ratio " + PressParams.fmt(ratio) + " (it has "
                + ratios.stream().map(e -> PressParams.fmt(e.ratio())).toList() + "); re-run kvserve calibrate prefixkv --ratio "
                + PressParams.fmt(ratio) + " --out " + file);
    }
}
