package io.vhost4j;

import io.vhost4j.internal.gen.cmsghdr;
import io.vhost4j.internal.gen.iovec;
import io.vhost4j.internal.gen.msghdr;
import io.vhost4j.internal.gen.sockaddr_un;
import io.vhost4j.internal.sys.Deadline;
import io.vhost4j.internal.sys.Errors;
import io.vhost4j.internal.sys.Fd;
import io.vhost4j.internal.sys.Sys;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

import static io.vhost4j.internal.gen.VhostH.*;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * Hands vhost and tap descriptors from one process to another over a unix socket ({@code SCM_RIGHTS}), the way
 * libvirt and KubeVirt run an unprivileged VMM: a privileged helper opens the devices and {@link #send}s them; the
 * VMM {@link #receive}s them and adopts each one, checked to be what its name says ({@link Received#vhostNet},
 * {@link Received#tap}, ...). One message carries every descriptor with its name.
 */
public final class FdPassing {
    private FdPassing() {}

    /** The most descriptors one message carries. */
    public static final int MAX_FDS = 64;
    private static final String MAGIC = "vhost4j-fds 1";
    private static final int PAYLOAD = 4096;
    private static final long CMSG_HEADER = cmsghdr.__cmsg_data$offset();

    /**
     * Connects to the process listening on {@code socket} (waiting up to {@code timeout} for it to listen; zero or
     * negative: one attempt) and sends {@code descriptors}, name to object: a {@link VhostDevice}, {@link Tap},
     * {@link PacketBackend} or {@link EventFd} of this process (they stay open here; close them after sending), or
     * an {@code Integer} descriptor number the caller owns.
     */
    public static void send(Path socket, Map<String, ?> descriptors, Duration timeout) throws VhostException {
        Objects.requireNonNull(socket, "socket");
        Objects.requireNonNull(descriptors, "descriptors");
        Deadline deadline = Deadline.after(timeout);
        if (descriptors.isEmpty() || descriptors.size() > MAX_FDS) {
            throw new IllegalArgumentException(descriptors.size() + " descriptors: 1.." + MAX_FDS);
        }
        StringBuilder text = new StringBuilder(MAGIC).append('\n');
        List<Fd> held = new ArrayList<>();
        int[] numbers = new int[descriptors.size()];
        try {
            int i = 0;
            for (Map.Entry<String, ?> e : descriptors.entrySet()) {
                checkName(e.getKey());
                text.append(e.getKey()).append('\n');
                Fd f = handleOf(e.getKey(), e.getValue());
                if (f != null) {
                    numbers[i] = f.acquire();
                    held.add(f);
                } else {
                    numbers[i] = (Integer) e.getValue();
                }
                i++;
            }
            byte[] payload = text.toString().getBytes(StandardCharsets.US_ASCII);
            if (payload.length > PAYLOAD) {
                throw new IllegalArgumentException("names too long: " + payload.length + " bytes");
            }
            try (Fd s = connect(socket, deadline); Arena arena = Arena.ofConfined()) {
                MemorySegment data = arena.allocateFrom(new String(payload, StandardCharsets.US_ASCII));
                MemorySegment control = arena.allocate(controlSpace(numbers.length), 8);
                cmsghdr.cmsg_len(control, CMSG_HEADER + 4L * numbers.length);
                cmsghdr.cmsg_level(control, SOL_SOCKET());
                cmsghdr.cmsg_type(control, SCM_RIGHTS());
                for (int k = 0; k < numbers.length; k++) {
                    control.set(JAVA_INT, CMSG_HEADER + 4L * k, numbers[k]);
                }
                MemorySegment msg = message(arena, data, payload.length, control);
                long rc = Sys.sendmsg(s.number(), msg, MSG_NOSIGNAL());
                Errors.check(rc, "sendmsg(SCM_RIGHTS)", socket.toString());
                if (rc != payload.length) {
                    throw new IllegalStateException("sendmsg sent " + rc + " of " + payload.length + " bytes");
                }
            }
        } finally {
            held.forEach(Fd::release);
        }
    }

    private static Fd handleOf(String name, Object o) {
        return switch (o) {
            case VhostDevice d -> d.handle();
            case Tap t -> t.handle();
            case PacketBackend p -> p.handle();
            case EventFd e -> e.handle();
            case Integer n -> {
                if (n < 0) {
                    throw new IllegalArgumentException(name + ": not a file descriptor: " + n);
                }
                yield null;
            }
            case null -> throw new NullPointerException(name);
            default -> throw new IllegalArgumentException(name + ": cannot pass a " + o.getClass().getName());
        };
    }

    private static void checkName(String name) {
        if (name.isEmpty() || name.length() > 64 || !name.chars().allMatch(c -> c > ' ' && c < 127)) {
            throw new IllegalArgumentException("descriptor name \"" + name + "\": 1..64 printable ASCII characters");
        }
    }

    private static long controlSpace(int fds) {
        return CMSG_HEADER + ((4L * fds + 7) & ~7L);
    }

    private static MemorySegment message(Arena arena, MemorySegment data, long length, MemorySegment control) {
        MemorySegment iov = arena.allocate(iovec.layout());
        iovec.iov_base(iov, data);
        iovec.iov_len(iov, length);
        MemorySegment msg = arena.allocate(msghdr.layout());
        msghdr.msg_iov(msg, iov);
        msghdr.msg_iovlen(msg, 1);
        msghdr.msg_control(msg, control);
        msghdr.msg_controllen(msg, control.byteSize());
        return msg;
    }

    private static MemorySegment address(Arena arena, Path socket) {
        byte[] p = socket.toString().getBytes(StandardCharsets.UTF_8);
        if (p.length >= sockaddr_un.sun_path$layout().byteSize()) {
            throw new IllegalArgumentException("socket path too long (" + p.length + " bytes): " + socket);
        }
        MemorySegment sa = arena.allocate(sockaddr_un.layout());
        sockaddr_un.sun_family(sa, (short) AF_UNIX());
        MemorySegment.copy(MemorySegment.ofArray(p), 0, sockaddr_un.sun_path(sa), 0, p.length);
        return sa;
    }

    private static Fd unixSocket(Path socket) throws VhostException {
        String name = socket.toString(); // first: nothing may fail between the socket and its owner
        return Fd.adopt(Errors.check(Sys.socket(AF_UNIX(), SOCK_STREAM() | SOCK_CLOEXEC(), 0), "socket(AF_UNIX)",
                name), name);
    }

    private static Fd connect(Path socket, Deadline deadline) throws VhostException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment sa = address(arena, socket);
            while (true) {
                Fd s = unixSocket(socket);
                int rc = Sys.connect(s.number(), sa);
                if (rc == 0) {
                    return s;
                }
                s.close();
                if (rc == -EINTR() && !deadline.passed()) {
                    continue; // a signal without SA_RESTART: a new socket connects again
                }
                boolean notYet = rc == -ENOENT() || rc == -ECONNREFUSED();
                if (!notYet || deadline.passed()) {
                    throw Errors.failure(-rc, "connect", socket.toString());
                }
                try {
                    Thread.sleep(20);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw Errors.failure(EINTR(), "connect", socket.toString());
                }
            }
        }
    }

    /**
     * Creates the unix socket {@code socket} (which must not exist), waits up to {@code timeout} for one sender (zero
     * or negative: only for one already connecting), receives its descriptors and removes the socket file again.
     *
     * @throws VhostException ETIMEDOUT if nobody sent in time
     */
    public static Received receive(Path socket, Duration timeout) throws VhostException {
        Objects.requireNonNull(socket, "socket"); // before the socket is made: nothing to leak
        Deadline deadline = Deadline.after(timeout);
        try (Fd listener = unixSocket(socket); Arena arena = Arena.ofConfined()) {
            Errors.check(Sys.bind(listener.number(), address(arena, socket)), "bind", socket.toString());
            try {
                Errors.check(Sys.listen(listener.number(), 1), "listen", socket.toString());
                if (!listener.awaitReadable(deadline, "accept")) {
                    throw Errors.failure(ETIMEDOUT(), "accept", socket.toString());
                }
                try (Fd conn = Fd.adopt(Errors.check(Sys.accept4(listener.number(), SOCK_CLOEXEC()), "accept",
                        socket.toString()), socket.toString())) {
                    return read(conn, socket, arena);
                }
            } finally {
                try {
                    Files.deleteIfExists(socket);
                } catch (IOException ignored) {
                    // the file goes with its directory
                }
            }
        }
    }

    private static Received read(Fd conn, Path socket, Arena arena) throws VhostException {
        MemorySegment data = arena.allocate(PAYLOAD);
        MemorySegment control = arena.allocate(controlSpace(MAX_FDS), 8);
        MemorySegment msg = message(arena, data, PAYLOAD, control);
        long n = Errors.check(Sys.recvmsg(conn.number(), msg, MSG_CMSG_CLOEXEC()), "recvmsg", socket.toString());
        List<Integer> fds = new ArrayList<>();
        long controlLen = msghdr.msg_controllen(msg);
        if (controlLen >= CMSG_HEADER && cmsghdr.cmsg_level(control) == SOL_SOCKET()
                && cmsghdr.cmsg_type(control) == SCM_RIGHTS()) {
            long count = (cmsghdr.cmsg_len(control) - CMSG_HEADER) / 4;
            for (int k = 0; k < count; k++) {
                fds.add(control.get(JAVA_INT, CMSG_HEADER + 4L * k));
            }
        }
        String[] lines = new String(data.asSlice(0, n).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE),
                StandardCharsets.US_ASCII).split("\n");
        boolean truncated = (msghdr.msg_flags(msg) & (MSG_CTRUNC() | MSG_TRUNC())) != 0;
        if (truncated || lines.length == 0 || !lines[0].equals(MAGIC) || lines.length - 1 != fds.size()) {
            fds.forEach(Sys::close);
            throw new IllegalStateException("not a vhost4j descriptor message from " + socket + " (" + fds.size()
                    + " descriptors, " + (lines.length - 1) + " names" + (truncated ? ", truncated" : "") + ")");
        }
        Map<String, Integer> named = new LinkedHashMap<>();
        for (int k = 0; k < fds.size(); k++) {
            if (named.put(lines[k + 1], fds.get(k)) != null) {
                fds.forEach(Sys::close);
                throw new IllegalStateException("descriptor name " + lines[k + 1] + " sent twice");
            }
        }
        return new Received(named);
    }

    /** The descriptors one sender sent, by name; whatever is not taken is closed by {@link #close()}. */
    public static final class Received implements AutoCloseable {
        private final Map<String, Integer> fds;

        private Received(Map<String, Integer> fds) {
            this.fds = fds;
        }

        /** The names not taken yet, in the order sent. */
        public synchronized List<String> names() {
            return List.copyOf(fds.keySet());
        }

        /** Takes {@code name} as a raw descriptor the caller now owns. */
        public synchronized int take(String name) {
            Integer fd = fds.remove(name);
            if (fd == null) {
                throw new IllegalArgumentException("no descriptor named " + name + " (have " + fds.keySet() + ")");
            }
            return fd;
        }

        /** How a descriptor of one kind is checked and taken ({@code VhostNet::adopt}, {@code Tap::adopt}, ...). */
        @FunctionalInterface
        private interface Adopter<T, X extends Exception> {
            T adopt(int fd) throws X;
        }

        /** Takes {@code name} through {@code adopter}; closes the descriptor if the check refuses it. */
        private <T, X extends Exception> T adopt(String name, Adopter<T, X> adopter) throws X {
            int fd = take(name);
            try {
                return adopter.adopt(fd);
            } catch (Exception e) {
                Sys.close(fd);
                throw e; // precisely X or unchecked
            }
        }

        /** Takes {@code name} as a vhost-net device (checked; closed if it is not one). */
        public VhostNet vhostNet(String name) {
            return adopt(name, VhostNet::adopt);
        }

        /** Takes {@code name} as a vhost-vsock device (checked; closed if it is not one). */
        public VhostVsock vhostVsock(String name) {
            return adopt(name, VhostVsock::adopt);
        }

        /** Takes {@code name} as a vhost-vdpa device (checked; closed if it is not one). */
        public VhostVdpa vhostVdpa(String name) {
            return adopt(name, VhostVdpa::adopt);
        }

        /** Takes {@code name} as a tap queue (checked; closed if it is not one). */
        public Tap tap(String name) throws VhostException {
            return adopt(name, Tap::adopt);
        }

        /** Closes every descriptor not taken. */
        @Override
        public synchronized void close() {
            fds.values().forEach(Sys::close);
            fds.clear();
        }
    }
}
