package io.vhost4j.cli.bench;

import io.vhost4j.VhostException;
import io.vhost4j.VhostNet;

import java.util.List;

/**
 * The cost of one {@code ioctl(VHOST_GET_FEATURES)}: through the public API ({@link VhostNet#getFeatures()}),
 * as a bare FFM downcall ({@link BareIoctl}), the same capturing errno, and in a C loop, in alternating rounds on
 * one device.
 */
public final class IoctlBench {
    private static final int ROUNDS = 7;
    private static final int CALLS = 100_000;

    private IoctlBench() {}

    /** Runs the rounds; {@code c} may be {@code null}. Warm-up is time-based: C2 compiles late in a slow guest. */
    public static List<Figure> run(CLoop c) throws VhostException {
        try (VhostNet net = VhostNet.open(); BareIoctl bare = new BareIoctl()) {
            int fd = net.fd();
            if (bare.get(fd) != net.getFeatures().bits()) {
                throw new IllegalStateException("the bare ioctl does not read what getFeatures() reads");
            }
            long warm = System.nanoTime() + 3_000_000_000L;
            while (System.nanoTime() < warm) {
                for (int i = 0; i < 10_000; i++) {
                    net.getFeatures();
                    bare.call(fd);
                    bare.callCapturingErrno(fd);
                }
            }
            Samples api = new Samples(ROUNDS), ffm = new Samples(ROUNDS), cc = new Samples(ROUNDS);
            Samples ffmErrno = new Samples(ROUNDS);
            for (int round = -1; round < ROUNDS; round++) { // round -1 settles, and is not kept
                long t0 = System.nanoTime();
                for (int i = 0; i < CALLS; i++) {
                    net.getFeatures();
                }
                double a = (System.nanoTime() - t0) / (double) CALLS;
                t0 = System.nanoTime();
                for (int i = 0; i < CALLS; i++) {
                    bare.call(fd);
                }
                double b = (System.nanoTime() - t0) / (double) CALLS;
                t0 = System.nanoTime();
                for (int i = 0; i < CALLS; i++) {
                    bare.callCapturingErrno(fd);
                }
                double e = (System.nanoTime() - t0) / (double) CALLS;
                double n = c == null ? 0 : c.getFeaturesNanos(fd, CALLS) / (double) CALLS;
                if (round >= 0) {
                    api.add(a);
                    ffm.add(b);
                    ffmErrno.add(e);
                    cc.add(n);
                }
            }
            Double cMedian = c == null ? null : cc.median();
            String rounds = "median of " + ROUNDS + " x " + CALLS / 1000 + "k";
            return List.of(
                    new Figure("ioctl.get_features.api", "ioctl VHOST_GET_FEATURES: VhostNet.getFeatures() (" + rounds
                            + ")", api.median(), cMedian, "ns/call", null),
                    new Figure("ioctl.get_features.bare_ffm", "ioctl VHOST_GET_FEATURES: bare FFM downcall (floor)",
                            ffm.median(), cMedian, "ns/call", null),
                    new Figure("ioctl.get_features.bare_ffm_errno", "ioctl VHOST_GET_FEATURES: bare FFM downcall"
                            + " capturing errno", ffmErrno.median(), cMedian, "ns/call", null),
                    Figure.javaOnly("ioctl.get_features.api_over_bare", "ioctl: public API / bare FFM downcall",
                            api.median() / ffm.median(), "ratio", null),
                    Figure.javaOnly("ioctl.get_features.api_over_bare_errno", "ioctl: public API / bare FFM downcall"
                            + " capturing errno", api.median() / ffmErrno.median(), "ratio", null));
        }
    }
}
