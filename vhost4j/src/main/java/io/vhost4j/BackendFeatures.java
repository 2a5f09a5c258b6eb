package io.vhost4j;

import java.util.ArrayList;
import java.util.List;

/**
 * A set of vhost backend feature bits; prints them by name, e.g. {@code 0x2 [IOTLB_MSG_V2]}.
 *
 * @param bits the raw mask as the kernel exchanges it
 */
public record BackendFeatures(long bits) {

    /** A set holding exactly {@code features}. */
    public static BackendFeatures of(BackendFeature... features) {
        java.util.Objects.requireNonNull(features, "features");
        long b = 0;
        for (BackendFeature f : features) {
            b |= java.util.Objects.requireNonNull(f, "a null backend feature").mask();
        }
        return new BackendFeatures(b);
    }

    /** Whether {@code feature} is set. */
    public boolean has(BackendFeature feature) {
        java.util.Objects.requireNonNull(feature, "feature");
        return (bits & feature.mask()) != 0;
    }

    /** The names of the set bits, lowest first; unknown bits print as {@code bit N}. */
    public List<String> names() {
        List<String> names = new ArrayList<>();
        for (int bit = 0; bit < 64; bit++) {
            if ((bits & (1L << bit)) == 0) {
                continue;
            }
            String name = "bit " + bit;
            for (BackendFeature f : BackendFeature.values()) {
                if (f.bit() == bit) {
                    name = f.name();
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
