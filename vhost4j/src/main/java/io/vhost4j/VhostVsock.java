package io.vhost4j;

import io.vhost4j.internal.sys.Sys;

import java.lang.foreign.MemorySegment;

import static io.vhost4j.internal.gen.VhostH.*;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/** {@code /dev/vhost-vsock}: the generic calls plus the guest CID and running state. */
public final class VhostVsock extends VhostDevice {

    private VhostVsock(String path) throws VhostException {
        super(path, DeviceKind.VSOCK);
    }

    /** Over an open descriptor, unchecked: for {@link #adopt} after its checks, and for tests. */
    VhostVsock(io.vhost4j.internal.sys.Fd fd) {
        super(fd, DeviceKind.VSOCK);
    }

    /**
     * Takes ownership of {@code fd}, a vhost-vsock descriptor opened elsewhere (e.g. received with
     * {@link FdPassing}): checked to be vhost-vsock.
     *
     * @throws IllegalArgumentException if {@code fd} is not a vhost-vsock device
     */
    public static VhostVsock adopt(int fd) {
        return new VhostVsock(adoptChecked(fd, DeviceKind.VSOCK));
    }

    /** Opens {@code /dev/vhost-vsock}. */
    public static VhostVsock open() throws VhostException {
        return open(DeviceKind.VSOCK.defaultPath());
    }

    /**
     * Opens a vhost-vsock device node, by any name (e.g. inside a container): it must be the misc device
     * 10:241.
     *
     * @throws IllegalArgumentException if {@code path} is another file
     */
    public static VhostVsock open(String path) throws VhostException {
        return new VhostVsock(path);
    }

    /**
     * {@code VHOST_VSOCK_SET_GUEST_CID}: the guest's context id, greater than 2 (0-2 are reserved) and below
     * 0xffffffff, unique on the host (EADDRINUSE otherwise).
     */
    public void setGuestCid(long cid) throws VhostException {
        checkGuestCid(cid);
        MemorySegment s = Sys.scratch();
        s.set(JAVA_LONG, 0, cid);
        ioctl("VHOST_VSOCK_SET_GUEST_CID", VHOST_VSOCK_SET_GUEST_CID(), s);
    }

    /**
     * Refuses a guest CID the kernel would refuse: 0-2 are reserved, 0xffffffff means any, and CIDs are 32 bits.
     *
     * @throws IllegalArgumentException outside 3..4294967294
     */
    public static void checkGuestCid(long cid) {
        if (cid <= 2 || cid >= 0xffff_ffffL) {
            throw new IllegalArgumentException("guest CID " + cid + " out of range 3..4294967294");
        }
    }

    /** {@code VHOST_VSOCK_SET_RUNNING}: starts or stops the device's queues. */
    public void setRunning(boolean running) throws VhostException {
        MemorySegment s = Sys.scratch();
        s.set(JAVA_INT, 0, running ? 1 : 0);
        ioctl("VHOST_VSOCK_SET_RUNNING", VHOST_VSOCK_SET_RUNNING(), s);
    }
}
