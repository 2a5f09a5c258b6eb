package io.vhost4j.kernel;

import io.vhost4j.testkit.DmaWindow;
import io.vhost4j.testkit.NetDriver;
import io.vhost4j.testkit.NetLoopback;
import io.vhost4j.iotlb.IotlbFault;
import io.vhost4j.iotlb.IotlbManager;
import io.vhost4j.iotlb.ManagedDevice;
import io.vhost4j.iotlb.MappingPolicy;
import io.vhost4j.testkit.OffsetTranslator;

import java.util.concurrent.CopyOnWriteArrayList;
import java.util.List;

/** A {@link NetLoopback} with the device IOTLB on (IOVA = GPA + {@link #OFFSET}) served by an IOTLB manager. */
final class IotlbRig implements AutoCloseable {
    static final long OFFSET = NetLoopback.IOVA_OFFSET;

    final NetLoopback loop;
    final IotlbManager manager;
    final OffsetTranslator translator;
    final List<IotlbFault> faults = new CopyOnWriteArrayList<>();
    ManagedDevice md;

    IotlbRig(NetDriver.Config config, long granule) throws Exception {
        loop = NetLoopback.open(config.withDma(DmaWindow.iova(OFFSET)), "vt%d");
        translator = loop.offsetTranslator(granule);
        manager = IotlbManager.create((d, fault) -> faults.add(fault));
    }

    static IotlbRig started(long granule) throws Exception {
        return started(granule, MappingPolicy.exact());
    }

    /** Started, misses answered under {@code policy}, through an offset translator of {@code granule} pieces. */
    static IotlbRig started(long granule, MappingPolicy policy) throws Exception {
        IotlbRig r = new IotlbRig(NetDriver.Config.defaults(), granule);
        try {
            r.md = r.loop.startWithIotlb(r.manager, r.translator, policy);
            r.manager.start();
            return r;
        } catch (Exception e) {
            r.close();
            throw e;
        }
    }

    void configureAndRegister() throws Exception {
        loop.driver().configure();
        md = manager.register(loop.net(), loop.memory().memoryTable(), translator);
    }

    @Override
    public void close() {
        manager.close();
        loop.close();
    }
}
