package io.vhost4j;

/** A feature bit with a readable name; implemented by the feature enums. */
public sealed interface Feature permits VirtioFeature, VhostFeature, NetFeature, VsockFeature {
    /** The bit number (0..63). */
    int bit();

    /** The constant's name, e.g. {@code ACCESS_PLATFORM}. */
    String name();

    /** {@code 1L << bit()}. */
    default long mask() {
        return 1L << bit();
    }
}
