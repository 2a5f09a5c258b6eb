package io.vhost4j.internal.sys;

import io.vhost4j.VhostException;
import io.vhost4j.internal.gen.sockaddr_ll;

import java.lang.foreign.MemorySegment;

import static io.vhost4j.internal.gen.VhostH.*;

/** Raw {@code AF_PACKET} sockets bound to one interface: the one way this library opens them. */
public final class RawSockets {
    private RawSockets() {}

    /** Every protocol ({@code ETH_P_ALL}). */
    public static final int ALL_PROTOCOLS = 0x0003;

    /**
     * A {@code SOCK_RAW} packet socket for frames of {@code etherType} bound to interface {@code ifindex}
     * ({@code name} for messages), non-blocking if asked.
     */
    public static Fd openBound(int ifindex, String name, int etherType, boolean nonBlocking) throws VhostException {
        if (etherType <= 0 || etherType > 0xffff) {
            throw new IllegalArgumentException("EtherType " + etherType + " out of range 1..0xffff");
        }
        short proto = Short.reverseBytes((short) etherType);
        int s = Errors.check(Sys.socket(AF_PACKET(), SOCK_RAW() | SOCK_CLOEXEC() | (nonBlocking ? SOCK_NONBLOCK() : 0),
                Short.toUnsignedInt(proto)), "socket(AF_PACKET)", name);
        Fd fd = Fd.adopt(s, name);
        try {
            MemorySegment sa = Sys.scratch().asSlice(0, sockaddr_ll.sizeof());
            sa.fill((byte) 0);
            sockaddr_ll.sll_family(sa, (short) AF_PACKET());
            sockaddr_ll.sll_protocol(sa, proto);
            sockaddr_ll.sll_ifindex(sa, ifindex);
            Errors.check(Sys.bind(fd.number(), sa), "bind(AF_PACKET)", name);
            return fd;
        } catch (VhostException | RuntimeException e) {
            fd.close();
            throw e;
        }
    }
}
