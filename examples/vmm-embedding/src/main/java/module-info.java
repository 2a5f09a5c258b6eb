/** A minimal VMM wiring vhost-net and the IOTLB manager into its own event loop. */
module example.vmm {
    requires io.vhost4j;
    requires io.vhost4j.testkit;
}
