package io.vhost4j.testkit;

import io.vhost4j.VhostException;
import io.vhost4j.internal.gen.sockaddr_vm;
import io.vhost4j.internal.sys.Errors;
import io.vhost4j.internal.sys.Fd;
import io.vhost4j.internal.sys.Sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static io.vhost4j.internal.gen.VhostH.*;

/**
 * The host's end of a vsock connection to a guest ({@code AF_VSOCK}, stream or seqpacket): what a host service
 * uses to talk to the {@link VsockDriver} over {@code /dev/vhost-vsock}. Blocking calls; one thread each direction
 * at most.
 */
public final class HostVsock implements AutoCloseable {
    private final Fd fd;
    private final boolean seqpacket;
    // One buffer per direction (a reader and a writer thread never share one); freed by the GC.
    private final MemorySegment in = Arena.ofAuto().allocate(1 << 16), out = Arena.ofAuto().allocate(1 << 16);

    private HostVsock(Fd fd, boolean seqpacket) {
        this.fd = fd;
        this.seqpacket = seqpacket;
    }

    /**
     * Connects to {@code port} of guest {@code cid}: a stream socket, or a seqpacket one. The CID is a u32 and
     * the port a u32 held in an {@code int}; neither may be the "any" value (-1).
     */
    public static HostVsock connect(long cid, int port, boolean seqpacket) throws VhostException {
        if (cid < 0 || cid >= 0xffff_ffffL || port == -1) { // else (int) cid would name another guest
            throw new IllegalArgumentException("vsock address " + cid + ":" + Integer.toUnsignedString(port)
                    + ": the CID is 0..4294967294 and the port not 4294967295 (the \"any\" values)");
        }
        String name = "vsock " + cid + ":" + Integer.toUnsignedString(port);
        int s = Errors.check(Sys.socket(AF_VSOCK(), (seqpacket ? SOCK_SEQPACKET() : SOCK_STREAM()) | SOCK_CLOEXEC(),
                0), "socket(AF_VSOCK)", name);
        Fd fd = Fd.adopt(s, name);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment sa = a.allocate(sockaddr_vm.layout());
            sockaddr_vm.svm_family(sa, (short) AF_VSOCK());
            sockaddr_vm.svm_cid(sa, (int) cid);
            sockaddr_vm.svm_port(sa, port);
            Errors.check(Sys.connect(fd.number(), sa), "connect", name);
            return new HostVsock(fd, seqpacket);
        } catch (VhostException | RuntimeException e) {
            fd.close();
            throw e;
        }
    }

    /**
     * Writes all of {@code data}: any length on a stream socket (64 KiB at a time), one message of at most 64 KiB on
     * a seqpacket socket.
     */
    public void write(byte[] data) throws VhostException {
        java.util.Objects.requireNonNull(data, "data");
        if (seqpacket && data.length > out.byteSize()) {
            throw new IllegalArgumentException("a seqpacket message of " + data.length + " bytes: at most "
                    + out.byteSize());
        }
        for (int from = 0; from < data.length; ) {
            int piece = (int) Math.min(data.length - from, out.byteSize());
            MemorySegment.copy(MemorySegment.ofArray(data), from, out, 0, piece);
            long off = 0;
            while (off < piece) {
                off += Errors.check(fd.write(out.asSlice(off), piece - off), "write", fd.name());
            }
            from += piece;
        }
    }

    /**
     * Reads up to {@code max} bytes, at least 1 (one message on a seqpacket socket); an empty array at end of stream.
     */
    public byte[] read(int max) throws VhostException {
        if (max < 1) {
            throw new IllegalArgumentException("read up to " + max + " bytes: at least 1");
        }
        long n = Errors.check(fd.read(in, Math.min(max, in.byteSize())), "read", fd.name());
        return in.asSlice(0, n).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
    }

    /** Shuts the sending direction down: the guest reads end of stream. */
    public void shutdownOutput() throws VhostException {
        int n = fd.acquire();
        try {
            Errors.check(Sys.shutdown(n, SHUT_WR()), "shutdown", fd.name());
        } finally {
            fd.release();
        }
    }

    @Override
    public void close() {
        fd.close();
    }
}
