package io.vhost4j;

import io.vhost4j.internal.gen.sockaddr_ll;
import io.vhost4j.internal.sys.Errno;
import io.vhost4j.internal.sys.Fd;
import io.vhost4j.internal.sys.Sys;

import java.lang.foreign.MemorySegment;
import java.time.Duration;

import static io.vhost4j.internal.gen.VhostH.*;

/**
 * The host-side peer of a {@link Tap}: a raw {@code AF_PACKET} socket bound to the interface for one
 * EtherType. Frames it {@linkplain #send sends} enter the tap (and reach vhost-net's RX queue); frames
 * vhost-net transmits with that EtherType are {@linkplain #receive received}. Needs CAP_NET_RAW.
 */
public final class PacketSocket implements AutoCloseable {
    private final Fd fd;

    private PacketSocket(Fd fd) {
        this.fd = fd;
    }

    /** Binds a non-blocking packet socket to {@code tap} for frames of {@code etherType}. */
    public static PacketSocket open(Tap tap, int etherType) throws VhostException {
        if (etherType <= 0 || etherType > 0xffff) {
            throw new IllegalArgumentException("EtherType " + etherType + " out of range 1..0xffff");
        }
        short proto = Short.reverseBytes((short) etherType);
        int s = Errno.check(Sys.socket(AF_PACKET(), SOCK_RAW() | SOCK_NONBLOCK() | SOCK_CLOEXEC(),
                Short.toUnsignedInt(proto)), "socket(AF_PACKET)", tap.name());
        Fd fd = Fd.adopt(s, tap.name());
        try {
            MemorySegment sa = Sys.scratch().asSlice(0, sockaddr_ll.sizeof());
            sa.fill((byte) 0);
            sockaddr_ll.sll_family(sa, (short) AF_PACKET());
            sockaddr_ll.sll_protocol(sa, proto);
            sockaddr_ll.sll_ifindex(sa, tap.ifindex());
            Errno.check(Sys.bind(fd.get(), sa), "bind(AF_PACKET)", tap.name());
            return new PacketSocket(fd);
        } catch (VhostException | RuntimeException e) {
            fd.close();
            throw e;
        }
    }

    /** Sends one whole Ethernet frame (no vnet header) into the tap. */
    public void send(MemorySegment frame) throws VhostException {
        long n = Errno.check(Sys.write(fd.get(), frame), "send", fd.name());
        if (n != frame.byteSize()) {
            throw new IllegalStateException("short send: " + n + " of " + frame.byteSize() + " bytes");
        }
    }

    /**
     * Receives one frame into {@code buf}, waiting up to {@code timeout}.
     *
     * @return the frame's length, or -1 if none arrived in time
     */
    public int receive(MemorySegment buf, Duration timeout) throws VhostException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            long n = Sys.read(fd.get(), buf);
            if (n >= 0) {
                return (int) n;
            }
            if (n != -EAGAIN()) {
                Errno.check(n, "recv", fd.name());
            }
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return -1;
            }
            Errno.check(Sys.pollIn(fd.get(), (int) Math.max(1, Math.min(1000, left / 1_000_000))), "poll", fd.name());
        }
    }

    @Override
    public void close() {
        fd.close();
    }
}
