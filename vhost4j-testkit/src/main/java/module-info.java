/**
 * The vhost4j test kit: the guest side of vhost without a VM, for testing VMM code against a real kernel.
 *
 * <p>Split virtqueues in mmap'd guest memory, a virtio-net driver, a tap loopback with a packet socket and an
 * offset vIOMMU model. Run with {@code --enable-native-access=io.vhost4j,io.vhost4j.testkit}. Every timeout reads
 * as in the library: {@code null} is refused, zero or negative does not wait, one too long for nanoseconds waits
 * for about 146 years.
 */
module io.vhost4j.testkit {
    requires transitive io.vhost4j;

    exports io.vhost4j.testkit;
}
