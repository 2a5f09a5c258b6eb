package io.vhost4j.testkit;

import io.vhost4j.Tap;
import io.vhost4j.VhostException;
import io.vhost4j.internal.gen.sockaddr_ll;
import io.vhost4j.internal.sys.Deadline;
import io.vhost4j.internal.sys.Errors;
import io.vhost4j.internal.sys.Fd;
import io.vhost4j.internal.sys.RawSockets;
import io.vhost4j.internal.sys.Sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;

import static io.vhost4j.internal.gen.VhostH.*;

/**
 * The host-side peer of a {@link Tap}: a raw {@code AF_PACKET} socket bound to the interface for one
 * EtherType. Frames it {@linkplain #send sends} enter the tap (and reach vhost-net's RX queue); frames
 * vhost-net transmits with that EtherType are {@linkplain #receive received}. Needs CAP_NET_RAW.
 */
public final class PacketSocket implements AutoCloseable {
    /** Largest frame {@link #send} takes and {@link #receive} returns through its bounce buffer: 64 KiB and a little. */
    public static final int MAX_FRAME = 65536 + 64;
    private static final int VNET_HDR = 10; // struct virtio_net_hdr: what PACKET_VNET_HDR puts before a frame
    private volatile boolean vnetHeader;

    private final Fd fd;
    // Native copies of heap segments: one per direction, so a sender and a receiver thread never share one.
    private final MemorySegment sendBounce = Arena.ofAuto().allocate(MAX_FRAME);
    private final MemorySegment receiveBounce = Arena.ofAuto().allocate(MAX_FRAME);

    private PacketSocket(Fd fd) {
        this.fd = fd;
    }

    /** Binds a non-blocking packet socket to {@code tap} for frames of {@code etherType}. */
    public static PacketSocket open(Tap tap, int etherType) throws VhostException {
        java.util.Objects.requireNonNull(tap, "tap");
        return open(tap.name(), tap.ifindex(), etherType);
    }

    /** Binds a non-blocking packet socket to interface {@code name} (index {@code ifindex}) for {@code etherType}. */
    public static PacketSocket open(String name, int ifindex, int etherType) throws VhostException {
        return new PacketSocket(RawSockets.openBound(ifindex, name, etherType, true));
    }

    /**
     * Takes ownership of {@code fd}, a packet socket opened elsewhere (e.g. by a privileged helper that passed it):
     * checked with {@code getsockname} to be {@code AF_PACKET}, and made non-blocking.
     *
     * @throws IllegalArgumentException if it is not a packet socket
     */
    public static PacketSocket adopt(int fd) {
        MemorySegment sa = Sys.scratch().asSlice(0, sockaddr_ll.sizeof());
        MemorySegment len = Sys.scratch().asSlice(sockaddr_ll.sizeof(), 4);
        int rc = Sys.getsockname(fd, sa, len);
        if (rc < 0 || Short.toUnsignedInt(sockaddr_ll.sll_family(sa)) != AF_PACKET()) {
            throw new IllegalArgumentException("fd " + fd + " is not a packet socket"
                    + (rc < 0 ? " (getsockname: " + Errors.name(-rc) + ")" : ""));
        }
        Sys.setNonBlocking(fd);
        return new PacketSocket(Fd.adopt(fd, "packet socket " + sockaddr_ll.sll_ifindex(sa)));
    }

    /**
     * From now on every frame this socket sends or receives carries a 10-byte virtio-net header first
     * ({@code PACKET_VNET_HDR}): frames the host hands the tap whole for the guest to receive as GSO, and the GSO
     * metadata of frames the guest sent. Use {@link #sendWithHeader} and {@link #receiveWithHeader}.
     */
    public PacketSocket withVnetHeader() throws VhostException {
        int n = fd.acquire();
        try {
            Errors.check(Sys.setsockopt(n, SOL_PACKET(), PACKET_VNET_HDR(), 1), "setsockopt(PACKET_VNET_HDR)",
                    fd.name());
        } finally {
            fd.release();
        }
        vnetHeader = true;
        return this;
    }

    /** {@link #withVnetHeader()}: sends {@code frame} behind {@code header}. */
    public void sendWithHeader(VnetHeader header, MemorySegment frame) throws VhostException {
        if (!vnetHeader) {
            throw new IllegalStateException("call withVnetHeader() first");
        }
        long len = frame.byteSize();
        if (len <= 0 || len + VNET_HDR > MAX_FRAME) {
            throw new IllegalArgumentException("frame of " + len + " bytes (1.." + (MAX_FRAME - VNET_HDR) + ")");
        }
        MemorySegment b = sendBounce.asSlice(0, VNET_HDR + len);
        header.write(b, VNET_HDR);
        MemorySegment.copy(frame, 0, b, VNET_HDR, len);
        long n = Errors.check(fd.write(b, b.byteSize()), "send", fd.name());
        if (n != b.byteSize()) {
            throw new IllegalStateException("short send: " + n + " of " + b.byteSize() + " bytes");
        }
    }

    /** A frame and the virtio-net header it came with ({@link #receiveWithHeader}). */
    public record Received(VnetHeader header, int length) {}

    /** {@link #withVnetHeader()}: receives one frame into {@code buf} (the header apart), or {@code null} in time. */
    public Received receiveWithHeader(MemorySegment buf, Duration timeout) throws VhostException {
        java.util.Objects.requireNonNull(timeout, "timeout");
        if (!vnetHeader) {
            throw new IllegalStateException("call withVnetHeader() first");
        }
        int n = receive(receiveBounce, timeout);
        if (n < 0) {
            return null;
        }
        if (n < VNET_HDR) {
            throw new IllegalStateException("a " + n + "-byte read without its vnet header");
        }
        VnetHeader h = VnetHeader.read(receiveBounce, VNET_HDR);
        int len = (int) Math.min(n - VNET_HDR, buf.byteSize());
        MemorySegment.copy(receiveBounce, VNET_HDR, buf, 0, len);
        return new Received(h, n - VNET_HDR);
    }

    /** The raw descriptor number (to pass it to another process). */
    public int fd() {
        return fd.number();
    }

    /**
     * Sends one whole Ethernet frame (no vnet header) into the tap. Any segment works: a heap segment
     * ({@code MemorySegment.ofArray}) is copied through a native buffer first.
     *
     * @throws IllegalArgumentException for an empty frame or one over {@value #MAX_FRAME} bytes
     */
    public void send(MemorySegment frame) throws VhostException {
        long len = frame.byteSize();
        if (len <= 0 || len > MAX_FRAME) {
            throw new IllegalArgumentException("frame of " + len + " bytes (1.." + MAX_FRAME + ")");
        }
        MemorySegment src = frame;
        if (!frame.isNative()) {
            src = sendBounce.asSlice(0, len);
            MemorySegment.copy(frame, 0, src, 0, len);
        }
        long n = Errors.check(fd.write(src, len), "send", fd.name());
        if (n != len) {
            throw new IllegalStateException("short send: " + n + " of " + len + " bytes");
        }
    }

    /**
     * Receives one frame into {@code buf} (any segment, heap or native), waiting up to {@code timeout}. A frame
     * longer than {@code buf} is cut to its size, as {@code recv} does.
     *
     * @return the frame's length (at most {@code buf}'s size), or -1 if none arrived in time
     */
    public int receive(MemorySegment buf, Duration timeout) throws VhostException {
        MemorySegment dst = buf.isNative() ? buf : receiveBounce.asSlice(0, Math.min(buf.byteSize(), MAX_FRAME));
        Deadline deadline = Deadline.after(timeout);
        while (true) {
            long n = fd.read(dst, dst.byteSize());
            if (n >= 0) {
                if (dst != buf) {
                    MemorySegment.copy(dst, 0, buf, 0, n);
                }
                return (int) n;
            }
            if (n != -EAGAIN()) {
                Errors.check(n, "recv", fd.name());
            }
            if (deadline.passed()) {
                return -1;
            }
            Errors.check(fd.pollIn(Math.max(1, deadline.millisLeft(100))), "poll", fd.name());
        }
    }

    /** Closes the socket; safe while another thread is inside {@link #send} or {@link #receive}. */
    @Override
    public void close() {
        fd.close();
    }
}
