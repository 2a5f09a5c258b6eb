package io.vhost4j;

import java.util.ArrayList;
import java.util.List;

/**
 * A set of virtio/vhost feature bits for one kind of device; prints its bits by name, e.g.
 * {@code 0x33d008000 [MRG_RXBUF, NOTIFY_ON_EMPTY, LOG_ALL, ...]}. Bits without a name print as {@code bit N}.
 *
 * @param kind the device kind, which decides how the device-specific bits (0-23, 41-63) are named
 * @param bits the raw 64-bit mask as the kernel exchanges it
 */
public record Features(DeviceKind kind, long bits) {

    /** Checks that there is a kind. */
    public Features {
        java.util.Objects.requireNonNull(kind, "kind");
    }

    /**
     * A set holding exactly {@code features}.
     *
     * @throws IllegalArgumentException for a feature of another kind of device (a {@link VsockFeature} in a
     *         {@link DeviceKind#NET} set, a {@link NetFeature} in a {@link DeviceKind#VSOCK} one)
     */
    public static Features of(DeviceKind kind, Feature... features) {
        return new Features(kind, 0).with(features);
    }

    /** Whether {@code feature} (of this kind of device, see {@link #of}) is set. */
    public boolean has(Feature feature) {
        return (bits & maskOf(feature)) != 0;
    }

    /** Whether every bit of {@code other} is also set here. */
    public boolean containsAll(Features other) {
        java.util.Objects.requireNonNull(other, "other");
        return (bits & other.bits) == other.bits;
    }

    /** This set plus {@code features}. */
    public Features with(Feature... features) {
        long b = bits;
        for (Feature f : features) {
            b |= maskOf(f);
        }
        return new Features(kind, b);
    }

    /** This set without {@code features}. */
    public Features without(Feature... features) {
        long b = bits;
        for (Feature f : features) {
            b &= ~maskOf(f);
        }
        return new Features(kind, b);
    }

    /** The mask of {@code f}, after checking that it is of this kind of device. */
    private long maskOf(Feature f) {
        java.util.Objects.requireNonNull(f, "feature");
        if (!kind.accepts(f)) {
            throw new IllegalArgumentException(f.name() + " is a " + (f instanceof NetFeature ? "net" : "vsock")
                    + " feature: not in the features of a " + kind + " device");
        }
        return f.mask();
    }

    /** The bits set in both. */
    public Features intersect(Features other) {
        java.util.Objects.requireNonNull(other, "other");
        return new Features(kind, bits & other.bits);
    }

    /** The names of the set bits, lowest bit first. */
    public List<String> names() {
        List<String> names = new ArrayList<>();
        List<Feature> vocabulary = kind.vocabulary();
        for (int bit = 0; bit < 64; bit++) {
            if ((bits & (1L << bit)) == 0) {
                continue;
            }
            String name = "bit " + bit;
            for (Feature f : vocabulary) {
                if (f.bit() == bit) {
                    name = f.name();
                    break;
                }
            }
            names.add(name);
        }
        return names;
    }

    @Override
    public String toString() {
        return "0x" + Long.toHexString(bits) + " " + names();
    }
}
