package io.vhost4j.internal.sys;

/**
 * Request numbers of vhost ioctls newer than the 6.1 headers the bindings are generated from, computed here
 * with the kernel's {@code _IOC} encoding from {@code <linux/vhost.h>} of Linux 7.3 (checked by
 * {@code NewerIoctlsTest} against that encoding, and by the kernel tests against a kernel that has them).
 */
public final class NewerIoctls {
    private NewerIoctls() {}

    private static final int VHOST_VIRTIO = 0xAF;
    private static final long WRITE = 1, READ = 2;

    /** {@code _IOC(dir, VHOST_VIRTIO, nr, size)}. */
    static long ioc(long dir, int nr, int size) {
        return (dir << 30) | ((long) size << 16) | ((long) VHOST_VIRTIO << 8) | nr;
    }

    /** {@code VHOST_NEW_WORKER _IOR(VHOST_VIRTIO, 0x8, struct vhost_worker_state)} (6.5+). */
    public static final long VHOST_NEW_WORKER = ioc(READ, 0x8, 4);
    /** {@code VHOST_FREE_WORKER _IOW(VHOST_VIRTIO, 0x9, struct vhost_worker_state)}. */
    public static final long VHOST_FREE_WORKER = ioc(WRITE, 0x9, 4);
    /** {@code VHOST_ATTACH_VRING_WORKER _IOW(VHOST_VIRTIO, 0x15, struct vhost_vring_worker)}. */
    public static final long VHOST_ATTACH_VRING_WORKER = ioc(WRITE, 0x15, 8);
    /** {@code VHOST_GET_VRING_WORKER _IOWR(VHOST_VIRTIO, 0x16, struct vhost_vring_worker)}. */
    public static final long VHOST_GET_VRING_WORKER = ioc(READ | WRITE, 0x16, 8);
    /** {@code VHOST_SET_FORK_FROM_OWNER _IOW(VHOST_VIRTIO, 0x84, __u8)}: the number since it was renumbered. */
    public static final long VHOST_SET_FORK_FROM_OWNER = ioc(WRITE, 0x84, 1);
    /** {@code VHOST_GET_FORK_FROM_OWNER _IOR(VHOST_VIRTIO, 0x85, __u8)}. */
    public static final long VHOST_GET_FORK_FROM_OWNER = ioc(READ, 0x85, 1);
    /** The first numbers of the fork-owner pair (0x83 set, 0x84 get), before 0x83 went to the features array. */
    public static final long VHOST_SET_FORK_FROM_OWNER_FIRST = ioc(WRITE, 0x83, 1);
    /** See {@link #VHOST_SET_FORK_FROM_OWNER_FIRST}. */
    public static final long VHOST_GET_FORK_FROM_OWNER_FIRST = ioc(READ, 0x84, 1);
}
