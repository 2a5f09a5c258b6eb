package io.vhost4j.testkit;

import io.vhost4j.Tap;
import io.vhost4j.TapOptions;
import io.vhost4j.VhostException;
import io.vhost4j.VhostNet;
import io.vhost4j.internal.sys.Deadline;
import io.vhost4j.iotlb.IotlbManager;
import io.vhost4j.iotlb.ManagedDevice;
import io.vhost4j.iotlb.Translator;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A multi-queue virtio-net guest without a VM: one {@link NetDriver} and one vhost-net device per queue pair, each
 * pair on its own queue of one multi-queue tap ({@link Tap#createMultiQueue}), all drivers in one
 * {@link GuestMemory} (one guest, one memory table), and a {@link PacketSocket} on the tap's host side. Frames are
 * numbered and checked byte for byte ({@link Frames}). With the device IOTLB on, one manager serves every pair's
 * device. Not thread-safe: one thread at a time uses it (any thread: it may be handed over, and closed by another).
 */
public final class MultiQueueNet implements AutoCloseable {
    private final List<VhostNet> devices;
    private final List<Tap> taps;
    private final List<NetDriver> drivers;
    private final GuestMemory memory;
    private final PacketSocket peer, udpPeer;
    private final NetDriver.Config config;
    private final long perPair;
    private final Arena arena = Arena.ofShared(); // any thread may use and close it (one at a time)
    private final MemorySegment frame = arena.allocate(NetDriver.MAX_FRAME);
    private final MemorySegment got = arena.allocate(PacketSocket.MAX_FRAME);

    private MultiQueueNet(List<VhostNet> devices, List<Tap> taps, List<NetDriver> drivers, GuestMemory memory,
                          PacketSocket peer, PacketSocket udpPeer, NetDriver.Config config, long perPair) {
        this.devices = devices;
        this.taps = taps;
        this.drivers = drivers;
        this.memory = memory;
        this.peer = peer;
        this.udpPeer = udpPeer;
        this.config = config;
        this.perPair = perPair;
    }

    /** Opens {@code pairs} vhost-net devices and a tap of as many queues, lays the drivers out; nothing started. */
    public static MultiQueueNet open(int pairs, NetDriver.Config config, String tapName) throws VhostException {
        List<AutoCloseable> opened = new ArrayList<>();
        try {
            List<Tap> taps = Tap.createMultiQueue(tapName, pairs, TapOptions.defaults());
            opened.addAll(taps);
            long perPair = config.memoryNeeded();
            GuestMemory memory = GuestMemory.allocate(NetLoopback.GUEST_BASE, perPair * pairs);
            opened.add(memory);
            List<VhostNet> devices = new ArrayList<>();
            List<NetDriver> drivers = new ArrayList<>();
            for (int i = 0; i < pairs; i++) {
                VhostNet net = VhostNet.open();
                opened.add(net);
                devices.add(net);
                NetDriver d = NetDriver.create(net, memory, NetLoopback.GUEST_BASE + i * perPair, config);
                opened.add(d);
                drivers.add(d);
            }
            PacketSocket peer = PacketSocket.open(taps.get(0), Frames.ETHER_TYPE);
            opened.add(peer);
            PacketSocket udpPeer = PacketSocket.open(taps.get(0), Frames.IPV4);
            return new MultiQueueNet(devices, taps, drivers, memory, peer, udpPeer, config, perPair);
        } catch (VhostException | RuntimeException e) {
            for (int i = opened.size() - 1; i >= 0; i--) {
                try {
                    opened.get(i).close();
                } catch (Exception ignored) {
                    // closing fds and memory does not fail
                }
            }
            throw e;
        }
    }

    /** IOTLB off: every driver configured and attached to its tap queue. */
    public MultiQueueNet start() throws VhostException {
        for (int i = 0; i < pairs(); i++) {
            drivers.get(i).configure();
            drivers.get(i).attach(taps.get(i));
        }
        return this;
    }

    /**
     * IOTLB on (the config must use an IOVA {@link DmaWindow}): every pair's device registered with {@code manager}
     * through {@code translator}, its used rings mapped, then attached. One manager serves them all.
     */
    public List<ManagedDevice> startWithIotlb(IotlbManager manager, Translator translator) throws VhostException {
        List<ManagedDevice> mds = new ArrayList<>();
        for (int i = 0; i < pairs(); i++) {
            NetDriver d = drivers.get(i);
            d.configure();
            ManagedDevice md = manager.register(devices.get(i), memory.memoryTable(), translator);
            mds.add(md);
            for (DmaRange used : d.usedRings()) {
                if (!md.prefault(used.deviceAddress(), used.size(), io.vhost4j.Access.WO)) {
                    throw new IllegalStateException("could not map pair " + i + "'s used ring");
                }
            }
            d.attach(taps.get(i));
        }
        return mds;
    }

    /** A vIOMMU model over the whole memory: IOVA = GPA + the config's offset, {@code granule} pieces, RW. */
    public OffsetTranslator offsetTranslator(long granule) {
        return new OffsetTranslator(config.dma().iovaOffset(), NetLoopback.GUEST_BASE, perPair * pairs(), granule,
                io.vhost4j.Access.RW);
    }

    /**
     * Transmits frames {@code from .. from+count-1}, frame {@code s} on pair {@code s % pairs}, in batches, and checks
     * that every one reaches the tap's host side byte for byte, each pair's frames in the order it sent them.
     *
     * @return frames seen per pair
     */
    public int[] txRun(int from, int count, int batch, Duration timeout) throws IOException {
        java.util.Objects.requireNonNull(timeout, "timeout");
        NetLoopback.checkRun(from, count, batch);
        int n = pairs();
        int[] next = new int[n]; // per pair: the next sequence number expected
        int[] seen = new int[n];
        for (int p = 0; p < n; p++) {
            next[p] = firstOf(from, p);
        }
        for (int i = from; i < from + count; i += batch) {
            int end = Math.min(from + count, i + batch);
            for (int s = i; s < end; s++) {
                MemorySegment f = Frames.fill(frame.asSlice(0, Frames.sizeOf(s)), s, false);
                if (!drivers.get(s % n).transmit(f, timeout)) {
                    throw new NetLoopback.FrameCheckException("no TX slot came free on pair " + s % n);
                }
            }
            for (int k = i; k < end; k++) {
                int len = peer.receive(got, timeout);
                if (len < 0) {
                    throw new NetLoopback.FrameCheckException("frames of " + i + ".." + (end - 1)
                            + " never reached the tap");
                }
                int s = Frames.check(got, len, false, "tap");
                if (s < 0) {
                    k--;
                    continue;
                }
                int p = s % n;
                if (s != next[p]) {
                    throw new NetLoopback.FrameCheckException("pair " + p + ": expected frame " + next[p] + ", got "
                            + s + " (lost or out of order)");
                }
                next[p] += n;
                seen[p]++;
            }
        }
        return seen;
    }

    private int firstOf(int from, int pair) {
        int n = pairs();
        return from + ((pair - from % n) % n + n) % n;
    }

    /**
     * Sends IPv4/UDP frames {@code from .. from+count-1} (one flow each) into the tap, which spreads them over its
     * queues by flow hash, and checks that every one arrives exactly once, byte for byte, on some pair's RX queue.
     *
     * @return frames received per pair
     */
    public int[] rxRun(int from, int count, Duration timeout) throws IOException {
        java.util.Objects.requireNonNull(timeout, "timeout");
        int n = pairs();
        int[] seen = new int[n];
        boolean[] arrived = new boolean[count];
        for (int s = from; s < from + count; s++) {
            udpPeer.send(Frames.fill(frame.asSlice(0, Frames.sizeOf(s)), s, true));
        }
        Deadline deadline = Deadline.after(timeout);
        int left = count;
        while (left > 0) {
            boolean any = false;
            for (int p = 0; p < n; p++) {
                int len = drivers.get(p).receive(got, Duration.ZERO);
                if (len < 0) {
                    continue;
                }
                any = true;
                int s = Frames.check(got, len, true, "RX queue of pair " + p);
                if (s < 0) {
                    continue; // the host's own traffic
                }
                if (s < from || s >= from + count || arrived[s - from]) {
                    throw new NetLoopback.FrameCheckException("frame " + s + " arrived twice or was never sent");
                }
                arrived[s - from] = true;
                seen[p]++;
                left--;
            }
            if (!any) {
                if (deadline.passed()) {
                    throw new NetLoopback.FrameCheckException(left + " of " + count + " frames never reached an RX"
                            + " queue");
                }
                try {
                    Thread.sleep(1);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IOException(e);
                }
            }
        }
        return seen;
    }

    /** Queue pairs. */
    public int pairs() { return drivers.size(); }

    /** Pair {@code i}'s driver. */
    public NetDriver driver(int i) { return drivers.get(i); }

    /** Pair {@code i}'s vhost-net device. */
    public VhostNet device(int i) { return devices.get(i); }

    /** Pair {@code i}'s tap queue. */
    public Tap tap(int i) { return taps.get(i); }

    /** The guest memory all pairs share. */
    public GuestMemory memory() { return memory; }

    /** Closes everything; closing twice is harmless. */
    @Override
    public void close() {
        if (!arena.scope().isAlive()) {
            return;
        }
        drivers.forEach(NetDriver::close);
        udpPeer.close();
        peer.close();
        taps.forEach(Tap::close);
        devices.forEach(VhostNet::close);
        memory.close();
        arena.close();
    }
}
