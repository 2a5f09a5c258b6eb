/**
 * vhost4j: the Linux vhost kernel API (vhost-net, vhost-vsock, the device IOTLB) on Panama FFM.
 *
 * <p>Run with {@code --enable-native-access=io.vhost4j}.
 */
module io.vhost4j {
    requires info.picocli;
    requires jdk.management;

    exports io.vhost4j;
    exports io.vhost4j.guest;
    exports io.vhost4j.iotlb;

    opens io.vhost4j.cli to info.picocli;
}
