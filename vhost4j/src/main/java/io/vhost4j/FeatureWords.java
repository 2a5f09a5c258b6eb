package io.vhost4j;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Feature bits beyond the first 64, as {@code VHOST_GET_FEATURES_ARRAY} and {@code VHOST_SET_FEATURES_ARRAY}
 * exchange them (vhost-net, Linux 6.18 and later): word 0 holds bits 0-63, the {@link Features} of
 * {@link VhostDevice#getFeatures()}, word 1 bits 64-127, and so on. Trailing zero words above word 0 are dropped,
 * so two sets of the same bits are equal however many words they were read or written as.
 *
 * @param kind  the device kind, which decides how the device-specific bits are named
 * @param words the 64-bit words, lowest first: at least one
 */
public record FeatureWords(DeviceKind kind, List<Long> words) {
    /** {@code VIRTIO_NET_F_GUEST_UDP_TUNNEL_GSO}: the driver takes GSO packets over a UDP tunnel. */
    public static final int NET_GUEST_UDP_TUNNEL_GSO = 65;
    /** {@code VIRTIO_NET_F_GUEST_UDP_TUNNEL_GSO_CSUM}: ... with a partial checksum of the outer header. */
    public static final int NET_GUEST_UDP_TUNNEL_GSO_CSUM = 66;
    /** {@code VIRTIO_NET_F_HOST_UDP_TUNNEL_GSO}: the device takes GSO packets over a UDP tunnel. */
    public static final int NET_HOST_UDP_TUNNEL_GSO = 67;
    /** {@code VIRTIO_NET_F_HOST_UDP_TUNNEL_GSO_CSUM}: ... with a partial checksum of the outer header. */
    public static final int NET_HOST_UDP_TUNNEL_GSO_CSUM = 68;
    /** The most words one set holds: 4096 bits, far beyond the 128 that Linux knows of. */
    public static final int MAX_WORDS = 64;

    private static final Map<Integer, String> NET_NAMES = Map.of(
            NET_GUEST_UDP_TUNNEL_GSO, "GUEST_UDP_TUNNEL_GSO", NET_GUEST_UDP_TUNNEL_GSO_CSUM,
            "GUEST_UDP_TUNNEL_GSO_CSUM", NET_HOST_UDP_TUNNEL_GSO, "HOST_UDP_TUNNEL_GSO",
            NET_HOST_UDP_TUNNEL_GSO_CSUM, "HOST_UDP_TUNNEL_GSO_CSUM");

    /** Checks the kind and the number of words, and drops trailing zero words above word 0. */
    public FeatureWords {
        java.util.Objects.requireNonNull(kind, "kind");
        java.util.Objects.requireNonNull(words, "words");
        if (words.isEmpty() || words.size() > MAX_WORDS) {
            throw new IllegalArgumentException("feature words: 1 to " + MAX_WORDS + ", got " + words.size());
        }
        int n = words.size();
        while (n > 1 && words.get(n - 1) == 0) { // a null word: NullPointerException, here or in List.copyOf
            n--;
        }
        words = List.copyOf(words.subList(0, n));
    }

    /** The set whose word 0 is {@code low} and whose higher words are {@code higher}. */
    public static FeatureWords of(Features low, long... higher) {
        java.util.Objects.requireNonNull(low, "low");
        List<Long> w = new ArrayList<>(1 + higher.length);
        w.add(low.bits());
        for (long h : higher) {
            w.add(h);
        }
        return new FeatureWords(low.kind(), w);
    }

    /** Bits 0-63, as {@link VhostDevice#getFeatures()} and {@link VhostDevice#setFeatures} know them. */
    public Features low() {
        return new Features(kind, words.get(0));
    }

    /** Word {@code index} (bits {@code 64 * index} and up); 0 beyond the last word. */
    public long word(int index) {
        if (index < 0) {
            throw new IllegalArgumentException("word " + index);
        }
        return index < words.size() ? words.get(index) : 0;
    }

    /** Whether feature bit {@code bit} (0 or more) is set. */
    public boolean has(int bit) {
        checkBit(bit);
        return (word(bit / 64) & (1L << (bit % 64))) != 0;
    }

    /** This set plus feature bit {@code bit}. */
    public FeatureWords with(int bit) {
        checkBit(bit);
        List<Long> w = new ArrayList<>(words);
        while (w.size() <= bit / 64) {
            w.add(0L);
        }
        w.set(bit / 64, w.get(bit / 64) | (1L << (bit % 64)));
        return new FeatureWords(kind, w);
    }

    /** This set without feature bit {@code bit}. */
    public FeatureWords without(int bit) {
        checkBit(bit);
        if (!has(bit)) {
            return this;
        }
        List<Long> w = new ArrayList<>(words);
        w.set(bit / 64, w.get(bit / 64) & ~(1L << (bit % 64)));
        return new FeatureWords(kind, w);
    }

    /** The bits set in both. */
    public FeatureWords intersect(FeatureWords other) {
        java.util.Objects.requireNonNull(other, "other");
        List<Long> w = new ArrayList<>();
        for (int i = 0; i < Math.min(words.size(), other.words.size()); i++) {
            w.add(words.get(i) & other.words.get(i));
        }
        return new FeatureWords(kind, w);
    }

    private static void checkBit(int bit) {
        if (bit < 0 || bit >= 64 * MAX_WORDS) {
            throw new IllegalArgumentException("feature bit " + bit + " not in 0.." + (64 * MAX_WORDS - 1));
        }
    }

    /** The names of the set bits from 64 on, lowest first ({@code bit N} where the bit has no name here). */
    public List<String> highNames() {
        List<String> names = new ArrayList<>();
        for (int bit = 64; bit < 64 * words.size(); bit++) {
            if (has(bit)) {
                String name = kind == DeviceKind.NET ? NET_NAMES.get(bit) : null;
                names.add(name != null ? name : "bit " + bit);
            }
        }
        return names;
    }

    /** Word 0 as {@link Features} prints it, then the higher bits by name, e.g. {@code ... + [HOST_UDP_TUNNEL_GSO]}. */
    @Override
    public String toString() {
        return low() + (words.size() > 1 ? " + " + highNames() : "");
    }
}
