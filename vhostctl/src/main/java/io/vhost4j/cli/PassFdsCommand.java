package io.vhost4j.cli;

import io.vhost4j.FdPassing;
import io.vhost4j.Tap;
import io.vhost4j.TapOptions;
import io.vhost4j.VhostNet;
import io.vhost4j.VhostVdpa;
import io.vhost4j.VhostVsock;
import io.vhost4j.testkit.NetLoopback;
import io.vhost4j.testkit.PacketSocket;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code vhostctl pass-fds}: the privileged helper of an unprivileged VMM. It opens the devices, sends them over a
 * unix socket ({@link FdPassing}) to the process listening there, and exits; the VMM needs no privilege.
 */
@Command(name = "pass-fds", mixinStandardHelpOptions = true,
        description = "Be the privileged helper of an unprivileged VMM: open vhost-net devices and taps (one"
                + " vhost-net and one tap queue per pair), send them with SCM_RIGHTS to the process listening on the"
                + " unix socket --to, and exit. Names: vhost-net.N, tap.N, packet.N (--packet-socket: a packet socket"
                + " on tap N, for `selftest --fds-from`), vhost-vsock (--vsock), vhost-vdpa.N (--vdpa, in the order"
                + " given). Needs root.",
        footer = {"", ExitCodes.HELP})
final class PassFdsCommand implements Callable<Integer> {
    @Option(names = "--to", required = true, paramLabel = "SOCKET", description = "The unix socket the VMM listens on.")
    Path socket;

    @Option(names = "--pairs", defaultValue = "1", description = "vhost-net devices and tap queues (default ${DEFAULT-VALUE}).")
    int pairs;

    @Option(names = "--multi-queue", description = "One multi-queue tap with a queue per pair (else one tap per pair).")
    boolean multiQueue;

    @Option(names = "--tap", defaultValue = "vhp%d", description = "Tap name or pattern (default ${DEFAULT-VALUE}).")
    String tapName;

    @Option(names = "--packet-socket", description = "Also a packet socket on each tap, for the selftest's checks.")
    boolean packetSocket;

    @Option(names = "--vsock", description = "Also a /dev/vhost-vsock descriptor.")
    boolean vsock;

    @Option(names = "--vdpa", paramLabel = "NODE", description = "Also this vhost-vdpa node (e.g. /dev/vhost-vdpa-0);"
            + " repeatable.")
    List<String> vdpa = new ArrayList<>();

    @Option(names = "--timeout", defaultValue = "30", description = "Seconds to wait for the listener (default ${DEFAULT-VALUE}).")
    int timeout;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (pairs < 1 || pairs > Tap.MAX_QUEUES) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--pairs must be 1.." + Tap.MAX_QUEUES);
        }
        if (timeout <= 0) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--timeout must be > 0");
        }
        List<AutoCloseable> opened = new ArrayList<>();
        try {
            Map<String, Object> fds = new LinkedHashMap<>();
            List<Tap> taps = new ArrayList<>();
            if (multiQueue) {
                taps.addAll(Tap.createMultiQueue(tapName, pairs, TapOptions.defaults()));
                opened.addAll(taps);
            } else {
                for (int i = 0; i < pairs; i++) {
                    Tap t = Tap.create(tapName, TapOptions.defaults());
                    opened.add(t);
                    taps.add(t);
                }
            }
            for (int i = 0; i < pairs; i++) {
                VhostNet net = VhostNet.open();
                opened.add(net);
                fds.put("vhost-net." + i, net);
                fds.put("tap." + i, taps.get(i));
                if (packetSocket) {
                    PacketSocket p = PacketSocket.open(taps.get(i), NetLoopback.ETHER_TYPE);
                    opened.add(p);
                    fds.put("packet." + i, p.fd());
                }
            }
            if (vsock) {
                VhostVsock v = VhostVsock.open();
                opened.add(v);
                fds.put("vhost-vsock", v);
            }
            for (int i = 0; i < vdpa.size(); i++) {
                VhostVdpa v = VhostVdpa.open(vdpa.get(i));
                opened.add(v);
                fds.put("vhost-vdpa." + i, v);
            }
            FdPassing.send(socket, fds, Duration.ofSeconds(timeout));
            spec.commandLine().getOut().println("sent " + fds.size() + " descriptors to " + socket + ": "
                    + String.join(" ", fds.keySet()));
            return ExitCodes.OK;
        } finally {
            for (int i = opened.size() - 1; i >= 0; i--) {
                opened.get(i).close(); // the receiver holds its own copies
            }
        }
    }
}
