package io.vhost4j.internal.sys;

/**
 * Request numbers the committed header (linux-libc-dev 6.12) does not have: the first numbers of the fork-owner
 * pair ({@code _IOW(VHOST_VIRTIO, 0x83, __u8)} set, {@code _IOR(VHOST_VIRTIO, 0x84, __u8)} get), which 6.12.45+ and
 * 6.17 renumbered to 0x84/0x85 after 0x83 went to the features array, and that features array pair itself
 * ({@code _IOR/_IOW(VHOST_VIRTIO, 0x83, __u64)} on a {@code struct vhost_features_array}: a {@code __u64} count,
 * then that many {@code __u64} words; mainline 6.18). Computed with the kernel's {@code _IOC} encoding
 * ({@code NewerIoctlsTest} checks it against the generated numbers).
 */
public final class NewerIoctls {
    private NewerIoctls() {}

    private static final int VHOST_VIRTIO = 0xAF;
    private static final long WRITE = 1, READ = 2;

    /** {@code _IOC(dir, VHOST_VIRTIO, nr, size)}. */
    static long ioc(long dir, int nr, int size) {
        return (dir << 30) | ((long) size << 16) | ((long) VHOST_VIRTIO << 8) | nr;
    }

    /** {@code VHOST_SET_FORK_FROM_OWNER} before it was renumbered. */
    public static final long VHOST_SET_FORK_FROM_OWNER_FIRST = ioc(WRITE, 0x83, 1);
    /** {@code VHOST_GET_FORK_FROM_OWNER} before it was renumbered. */
    public static final long VHOST_GET_FORK_FROM_OWNER_FIRST = ioc(READ, 0x84, 1);
    /** {@code VHOST_GET_FEATURES_ARRAY}: the kernel fills {@code count} words after the count, zeroing any it lacks. */
    public static final long VHOST_GET_FEATURES_ARRAY = ioc(READ, 0x83, 8);
    /** {@code VHOST_SET_FEATURES_ARRAY}: acks {@code count} words; set bits it does not offer are EOPNOTSUPP. */
    public static final long VHOST_SET_FEATURES_ARRAY = ioc(WRITE, 0x83, 8);
}
