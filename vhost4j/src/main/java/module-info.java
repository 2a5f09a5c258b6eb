/**
 * vhost4j: the Linux vhost kernel API (vhost-net, vhost-vsock, the device IOTLB) on Panama FFM.
 *
 * <p>{@link io.vhost4j} is the device API; {@link io.vhost4j.iotlb} serves device-IOTLB misses for many
 * devices. Needs nothing outside {@code java.base}. Run with {@code --enable-native-access=io.vhost4j}. Every
 * {@code Duration} timeout reads alike: {@code null} is refused, zero or negative does not wait, one too long for
 * nanoseconds (such as {@code ChronoUnit.FOREVER.getDuration()}) waits for about 146 years.
 */
module io.vhost4j {
    exports io.vhost4j;
    exports io.vhost4j.iotlb;
    exports io.vhost4j.vdpa;

    // The test kit maps guest memory and opens packet sockets through the same syscall layer.
    exports io.vhost4j.internal.sys to io.vhost4j.testkit;
    exports io.vhost4j.internal.gen to io.vhost4j.testkit;
}
