package io.vhost4j.iotlb;

import io.vhost4j.Access;
import io.vhost4j.MemoryRegion;
import io.vhost4j.VhostDevice;
import io.vhost4j.internal.access.DeviceHandles;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A fault listener that maps again on every fault (here the translator never answers, so no call reaches the
 * device: /dev/null stands in for it) ends after {@link ManagedDevice#MAX_LISTENER_NESTING} levels instead of
 * recursing until the stack overflows, which on the loop thread would kill the loop.
 */
class FaultListenerTest {

    @Test
    void aListenerThatRetriesOnEveryFaultEndsInsteadOfOverflowingTheStack() throws Exception {
        try (VhostDevice dev = io.vhost4j.ValidationTest.nullGeneric()) {
            AtomicInteger reports = new AtomicInteger();
            AtomicReference<RuntimeException> refused = new AtomicReference<>();
            ManagedDevice md = new ManagedDevice(d -> { }, dev, DeviceHandles.iotlb(dev),
                    List.of(new MemoryRegion(0, 1 << 20, 0x7000_0000L)), (iova, access, out) -> false,
                    MappingPolicy.exact(), (d, fault) -> {
                        reports.incrementAndGet();
                        try {
                            d.prefault(0, 4096, Access.RO); // the naive "try again" of a listener
                        } catch (IllegalStateException e) {
                            refused.compareAndSet(null, e);
                            throw e;
                        }
                    }, 1);
            assertFalse(md.prefault(0, 4096, Access.RO));
            assertEquals(ManagedDevice.MAX_LISTENER_NESTING, reports.get(), "8 listeners, one inside the other");
            assertEquals(reports.get(), md.stats().faults());
            assertTrue(refused.get().getMessage().contains("8 listeners deep"), refused.get().getMessage());
            // The depth is this thread's and unwinds: the next fault is reported again, as deep as before.
            refused.set(null);
            assertFalse(md.prefault(4096, 4096, Access.RO));
            assertEquals(2 * ManagedDevice.MAX_LISTENER_NESTING, reports.get());
            assertTrue(refused.get() != null);
        }
    }
}
