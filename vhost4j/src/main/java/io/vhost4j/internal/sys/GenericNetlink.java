package io.vhost4j.internal.sys;

import io.vhost4j.VhostException;
import io.vhost4j.internal.gen.genlmsghdr;
import io.vhost4j.internal.gen.nlattr;
import io.vhost4j.internal.gen.nlmsgerr;
import io.vhost4j.internal.gen.nlmsghdr;
import io.vhost4j.internal.gen.sockaddr_nl;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static io.vhost4j.internal.gen.VhostH.*;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * A generic netlink socket: requests of one family, each answered by data messages and an acknowledgement (or
 * a dump's DONE), with the kernel's extended-ack text in errors. The transport only; what the attributes mean
 * is the caller's ({@code io.vhost4j.vdpa.VdpaManagement}). One request at a time (synchronized).
 */
public final class GenericNetlink implements AutoCloseable {
    /** One attribute to send: a type and its payload bytes. */
    public record Attr(int type, byte[] payload) {
        /** A NUL-terminated string attribute. */
        public static Attr string(int type, String value) {
            byte[] b = value.getBytes(StandardCharsets.UTF_8);
            byte[] p = new byte[b.length + 1];
            System.arraycopy(b, 0, p, 0, b.length);
            return new Attr(type, p);
        }
    }

    /** The attributes of one reply message, by type (nested ones as raw bytes). */
    public record Reply(Map<Integer, byte[]> attrs) {
        /** A string attribute without its NUL, or {@code null}. */
        public String string(int type) {
            byte[] b = attrs.get(type);
            if (b == null) {
                return null;
            }
            int n = b.length;
            while (n > 0 && b[n - 1] == 0) {
                n--;
            }
            return new String(b, 0, n, StandardCharsets.UTF_8);
        }

        /** An unsigned integer attribute of 1, 2, 4 or 8 bytes, or {@code fallback}. */
        public long number(int type, long fallback) {
            byte[] b = attrs.get(type);
            if (b == null) {
                return fallback;
            }
            MemorySegment s = MemorySegment.ofArray(b);
            return switch (b.length) {
                case 1 -> b[0] & 0xffL;
                case 2 -> s.get(JAVA_SHORT.withByteAlignment(1), 0) & 0xffffL;
                case 4 -> s.get(JAVA_INT.withByteAlignment(1), 0) & 0xffff_ffffL;
                case 8 -> s.get(JAVA_LONG.withByteAlignment(1), 0);
                default -> fallback;
            };
        }
    }

    private static final int BUFFER = 64 * 1024;
    private static final java.time.Duration TIMEOUT = java.time.Duration.ofSeconds(10);

    private final Fd fd;
    private final String family;
    private final int familyId;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment buf = arena.allocate(BUFFER, 8);
    private int seq;

    private GenericNetlink(Fd fd, String family) throws VhostException {
        this.fd = fd;
        this.family = family;
        this.familyId = resolve(family);
    }

    /**
     * Opens a socket and resolves {@code family} (CTRL_CMD_GETFAMILY).
     *
     * @throws VhostException ENOENT when the family is not registered (its module is not loaded)
     */
    public static GenericNetlink open(String family) throws VhostException {
        int s = Sys.socket(AF_NETLINK(), SOCK_RAW() | SOCK_CLOEXEC(), NETLINK_GENERIC());
        Fd fd = Fd.adopt(Errors.check(s, "socket(AF_NETLINK)", "genetlink " + family), "genetlink " + family);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment addr = a.allocate(sockaddr_nl.layout());
            sockaddr_nl.nl_family(addr, (short) AF_NETLINK());
            Errors.check(Sys.bind(s, addr), "bind(AF_NETLINK)", fd.name());
            Sys.setsockopt(s, SOL_NETLINK(), NETLINK_EXT_ACK(), 1); // error texts; older kernels lack it: fine
            Sys.setsockopt(s, SOL_NETLINK(), NETLINK_CAP_ACK(), 1); // errors without the request echoed back
            return new GenericNetlink(fd, family);
        } catch (VhostException | RuntimeException e) {
            fd.close();
            throw e;
        }
    }

    private int resolve(String name) throws VhostException {
        List<Reply> r = exchange(GENL_ID_CTRL(), CTRL_CMD_GETFAMILY(), 1, 0,
                List.of(Attr.string(CTRL_ATTR_FAMILY_NAME(), name)), "CTRL_CMD_GETFAMILY " + name);
        for (Reply reply : r) {
            long id = reply.number(CTRL_ATTR_FAMILY_ID(), -1);
            if (id >= 0) {
                return (int) id;
            }
        }
        throw Errors.failure(ENOENT(), "CTRL_CMD_GETFAMILY " + name, fd.name());
    }

    /** The socket's name in messages: {@code genetlink <family>}. */
    public String name() {
        return fd.name();
    }

    /**
     * Sends command {@code cmd} of this family with {@code attrs} and collects the replies: with {@code dump},
     * every message up to DONE; else the data messages before the acknowledgement.
     *
     * @param operation names the request in errors, e.g. {@code VDPA_CMD_DEV_NEW}
     * @throws VhostException the errno the kernel answered, with its extended-ack text in the operation
     */
    public synchronized List<Reply> request(int cmd, int version, boolean dump, List<Attr> attrs, String operation)
            throws VhostException {
        return exchange(familyId, cmd, version, dump ? NLM_F_DUMP() : 0, attrs, operation);
    }

    private List<Reply> exchange(int type, int cmd, int version, int extraFlags, List<Attr> attrs, String operation)
            throws VhostException {
        int s = ++seq;
        long len = encode(type, cmd, version, NLM_F_REQUEST() | NLM_F_ACK() | extraFlags, s, attrs);
        long w = fd.write(buf, len);
        Errors.check(w, "sendto(" + operation + ")", fd.name());
        List<Reply> replies = new ArrayList<>();
        boolean dump = (extraFlags & NLM_F_DUMP()) == NLM_F_DUMP();
        while (true) {
            if (!fd.awaitReadable(Deadline.after(TIMEOUT), operation)) { // each reply within TIMEOUT
                throw Errors.failure(ETIMEDOUT(), operation, fd.name());
            }
            long n = Errors.check(fd.read(buf, BUFFER), "recv(" + operation + ")", fd.name());
            long off = 0;
            while (off + nlmsghdr.sizeof() <= n) {
                MemorySegment h = buf.asSlice(off, nlmsghdr.sizeof());
                int mlen = nlmsghdr.nlmsg_len(h);
                if (mlen < nlmsghdr.sizeof() || off + mlen > n) {
                    throw new IllegalStateException("malformed netlink message from " + fd.name());
                }
                int mtype = nlmsghdr.nlmsg_type(h) & 0xffff;
                if (nlmsghdr.nlmsg_seq(h) != s) {
                    off += align(mlen);
                    continue; // a late answer to an earlier request
                }
                if (mtype == NLMSG_ERROR()) {
                    MemorySegment e = buf.asSlice(off + nlmsghdr.sizeof(), mlen - nlmsghdr.sizeof());
                    int error = nlmsgerr.error(e);
                    if (error == 0 && !dump) {
                        return replies;
                    }
                    if (error < 0) {
                        String text = extAckText(h, e, mlen);
                        throw Errors.failure(-error, operation + (text != null ? " (kernel: " + text + ")" : ""),
                                fd.name());
                    }
                } else if (mtype == NLMSG_DONE()) {
                    return replies;
                } else if (mtype == type) {
                    long body = off + nlmsghdr.sizeof() + genlmsghdr.sizeof();
                    replies.add(new Reply(attributes(buf.asSlice(body, off + mlen - body))));
                }
                off += align(mlen);
            }
        }
    }

    /** The NLMSGERR_ATTR_MSG text of an error message, if the kernel sent one. */
    private static String extAckText(MemorySegment header, MemorySegment error, int mlen) {
        if ((nlmsghdr.nlmsg_flags(header) & NLM_F_ACK_TLVS()) == 0) {
            return null;
        }
        boolean capped = (nlmsghdr.nlmsg_flags(header) & NLM_F_CAPPED()) != 0;
        long start = capped ? nlmsgerr.sizeof()
                : nlmsgerr.sizeof() - nlmsghdr.sizeof() + nlmsghdr.nlmsg_len(nlmsgerr.msg(error));
        start = align(start);
        if (start >= error.byteSize()) {
            return null;
        }
        byte[] msg = attributes(error.asSlice(start)).get(NLMSGERR_ATTR_MSG());
        if (msg == null) {
            return null;
        }
        int n = msg.length;
        while (n > 0 && msg[n - 1] == 0) {
            n--;
        }
        return new String(msg, 0, n, StandardCharsets.UTF_8);
    }

    private static long align(long n) {
        return (n + 3) & ~3L;
    }

    private long encode(int type, int cmd, int version, int flags, int s, List<Attr> attrs) {
        long off = nlmsghdr.sizeof() + genlmsghdr.sizeof();
        buf.asSlice(0, off).fill((byte) 0);
        for (Attr a : attrs) {
            int alen = (int) nlattr.sizeof() + a.payload().length;
            if (off + align(alen) > BUFFER) {
                throw new IllegalArgumentException("netlink request too large");
            }
            MemorySegment at = buf.asSlice(off, align(alen));
            at.fill((byte) 0);
            nlattr.nla_len(at, (short) alen);
            nlattr.nla_type(at, (short) a.type());
            MemorySegment.copy(MemorySegment.ofArray(a.payload()), 0, at, nlattr.sizeof(), a.payload().length);
            off += align(alen);
        }
        nlmsghdr.nlmsg_len(buf, (int) off);
        nlmsghdr.nlmsg_type(buf, (short) type);
        nlmsghdr.nlmsg_flags(buf, (short) flags);
        nlmsghdr.nlmsg_seq(buf, s);
        nlmsghdr.nlmsg_pid(buf, 0);
        MemorySegment g = buf.asSlice(nlmsghdr.sizeof(), genlmsghdr.sizeof());
        genlmsghdr.cmd(g, (byte) cmd);
        genlmsghdr.version(g, (byte) version);
        return off;
    }

    /** Decodes a run of attributes; a later one of the same type wins. */
    static Map<Integer, byte[]> attributes(MemorySegment s) {
        Map<Integer, byte[]> out = new LinkedHashMap<>();
        long off = 0;
        while (off + nlattr.sizeof() <= s.byteSize()) {
            MemorySegment a = s.asSlice(off, nlattr.sizeof());
            int len = nlattr.nla_len(a) & 0xffff;
            if (len < nlattr.sizeof() || off + len > s.byteSize()) {
                break;
            }
            int type = nlattr.nla_type(a) & 0xffff & NLA_TYPE_MASK();
            out.put(type, s.asSlice(off + nlattr.sizeof(), len - nlattr.sizeof()).toArray(JAVA_BYTE));
            off += align(len);
        }
        return out;
    }

    /** Closes the socket. */
    @Override
    public void close() {
        fd.close();
        synchronized (this) {
            if (arena.scope().isAlive()) {
                arena.close();
            }
        }
    }

    @Override
    public String toString() {
        return "GenericNetlink[" + family + " id " + familyId + "]";
    }
}
