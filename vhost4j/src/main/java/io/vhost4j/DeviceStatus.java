package io.vhost4j;

import java.util.ArrayList;
import java.util.List;

/**
 * A virtio device status byte. The driver sets bits in order (ACKNOWLEDGE, DRIVER, FEATURES_OK, DRIVER_OK) and
 * clears them only all at once, by writing {@link #RESET}: vhost-vdpa refuses any other clearing with EINVAL.
 *
 * @param bits the status byte (0..255)
 */
public record DeviceStatus(int bits) {
    /** Status 0: writing it resets the device. */
    public static final DeviceStatus RESET = new DeviceStatus(0);

    /** Checks the byte range. */
    public DeviceStatus {
        if (bits < 0 || bits > 0xff) {
            throw new IllegalArgumentException("device status " + bits + " is not a byte");
        }
    }

    /** The status with exactly {@code set}. */
    public static DeviceStatus of(DeviceStatusBit... set) {
        return RESET.with(set);
    }

    /** Whether {@code bit} is set. */
    public boolean has(DeviceStatusBit bit) {
        java.util.Objects.requireNonNull(bit, "bit");
        return (bits & bit.mask()) != 0;
    }

    /** This status plus {@code more}. */
    public DeviceStatus with(DeviceStatusBit... more) {
        java.util.Objects.requireNonNull(more, "bits");
        int b = bits;
        for (DeviceStatusBit s : more) {
            b |= java.util.Objects.requireNonNull(s, "a null status bit").mask();
        }
        return new DeviceStatus(b);
    }

    /** Whether going from this status to {@code next} clears a bit without resetting (what the kernel refuses). */
    public boolean clearsBitsOf(DeviceStatus next) {
        return next.bits != 0 && (bits & ~next.bits) != 0;
    }

    /** The names of the set bits, in bit order; unknown bits as {@code bit N}. */
    public List<String> names() {
        List<String> names = new ArrayList<>();
        int known = 0;
        for (DeviceStatusBit s : DeviceStatusBit.values()) {
            known |= s.mask();
        }
        for (int bit = 0; bit < 8; bit++) {
            int m = 1 << bit;
            if ((bits & m) == 0) {
                continue;
            }
            String name = "bit " + bit;
            if ((known & m) != 0) {
                for (DeviceStatusBit s : DeviceStatusBit.values()) {
                    if (s.mask() == m) {
                        name = s.name();
                    }
                }
            }
            names.add(name);
        }
        return names;
    }

    @Override
    public String toString() {
        return "0x" + Integer.toHexString(bits) + " " + names();
    }
}
