package io.vhost4j.iotlb;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.LongFunction;

/**
 * The devices of one {@link IotlbManager} by token, for its loop: an epoll event carries its device's token,
 * {@code generation << 32 | slot}, and {@link #get} finds the device with one array load, no boxing and no hashing.
 * A stale token (its device removed, the slot since reused) finds nothing. The array is replaced whole on every
 * change (registrations are rare), so the loop reads it without a lock.
 */
final class DeviceSlots {
    private volatile ManagedDevice[] slots = new ManagedDevice[4];
    private long generation; // guarded by this

    /** Adds the device {@code make} builds from its token (never 0: the manager's wake-up token). */
    synchronized ManagedDevice add(LongFunction<ManagedDevice> make) {
        ManagedDevice[] s = slots;
        int free = 0;
        while (free < s.length && s[free] != null) {
            free++;
        }
        ManagedDevice[] next = Arrays.copyOf(s, free < s.length ? s.length : 2 * s.length);
        ManagedDevice md = make.apply((++generation << 32) | free);
        next[free] = md;
        slots = next;
        return md;
    }

    /** Removes {@code md} if it is still there. */
    synchronized void remove(ManagedDevice md) {
        ManagedDevice[] s = slots;
        int slot = (int) md.token;
        if (slot < s.length && s[slot] == md) {
            ManagedDevice[] next = s.clone();
            next[slot] = null;
            slots = next;
        }
    }

    /** The device with {@code token}, or {@code null}. */
    ManagedDevice get(long token) {
        ManagedDevice[] s = slots;
        int slot = (int) token;
        if (slot < 0 || slot >= s.length) {
            return null;
        }
        ManagedDevice md = s[slot];
        return md != null && md.token == token ? md : null;
    }

    /** The devices now. */
    List<ManagedDevice> all() {
        List<ManagedDevice> out = new ArrayList<>();
        for (ManagedDevice md : slots) {
            if (md != null) {
                out.add(md);
            }
        }
        return out;
    }
}
