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

    /** A set holding exactly {@code features}. */
    public static Features of(DeviceKind kind, Feature... features) {
        return new Features(kind, 0).with(features);
    }

    /** Whether {@code feature} is set. */
    public boolean has(Feature feature) {
        return (bits & feature.mask()) != 0;
    }

    /** Whether every bit of {@code other} is also set here. */
    public boolean containsAll(Features other) {
        return (bits & other.bits) == other.bits;
    }

    /** This set plus {@code features}. */
    public Features with(Feature... features) {
        long b = bits;
        for (Feature f : features) {
            b |= f.mask();
        }
        return new Features(kind, b);
    }

    /** This set without {@code features}. */
    public Features without(Feature... features) {
        long b = bits;
        for (Feature f : features) {
            b &= ~f.mask();
        }
        return new Features(kind, b);
    }

    /** The bits set in both. */
    public Features intersect(Features other) {
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
