package io.vhost4j;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Feature bits beyond 64: words as the kernel exchanges them, bit arithmetic across words, names. */
class FeatureWordsTest {

    @Test
    void theSameBitsAreEqualHoweverManyWordsCarriedThem() {
        // as Linux 7.3's vhost-net answered VHOST_GET_FEATURES_ARRAY for four words
        FeatureWords read = new FeatureWords(DeviceKind.NET, List.of(0x10b3d008000L, 0xaL, 0L, 0L));
        assertEquals(List.of(0x10b3d008000L, 0xaL), read.words());
        assertEquals(read, new FeatureWords(DeviceKind.NET, List.of(0x10b3d008000L, 0xaL)));
        assertEquals(new Features(DeviceKind.NET, 0x10b3d008000L), read.low());
        assertTrue(read.has(FeatureWords.NET_GUEST_UDP_TUNNEL_GSO) && read.has(FeatureWords.NET_HOST_UDP_TUNNEL_GSO));
        assertFalse(read.has(FeatureWords.NET_HOST_UDP_TUNNEL_GSO_CSUM));
        assertTrue(read.has(32), "VERSION_1, in word 0");
        assertFalse(read.has(200), "beyond the last word: not set");
        assertEquals(0, read.word(3));
        assertEquals(List.of(0L), new FeatureWords(DeviceKind.NET, List.of(0L, 0L)).words(), "word 0 stays");
    }

    @Test
    void bitsAreSetAndClearedInAnyWord() {
        FeatureWords low = FeatureWords.of(Features.of(DeviceKind.NET, VirtioFeature.VERSION_1));
        assertEquals(1, low.words().size());
        FeatureWords f = low.with(FeatureWords.NET_HOST_UDP_TUNNEL_GSO).with(130);
        assertEquals(List.of(1L << 32, 1L << 3, 1L << 2), f.words());
        assertEquals(List.of(1L << 32, 1L << 3), f.without(130).words(), "the emptied top word goes");
        assertEquals(low, f.without(130).without(FeatureWords.NET_HOST_UDP_TUNNEL_GSO));
        assertEquals(f, f.without(99), "clearing a clear bit changes nothing");
        assertEquals(FeatureWords.of(Features.of(DeviceKind.NET), 1L << 3),
                f.intersect(FeatureWords.of(Features.of(DeviceKind.NET), 0xffL)));
        assertEquals(FeatureWords.of(Features.of(DeviceKind.NET, VirtioFeature.VERSION_1), 1L << 3, 1L << 2),
                f, "of(low, higher words) builds the same set");
        assertEquals(Features.of(DeviceKind.NET, VirtioFeature.VERSION_1), f.low());
    }

    @Test
    void highBitsPrintByNameForANetDeviceAndByNumberElsewhere() {
        FeatureWords f = FeatureWords.of(Features.of(DeviceKind.NET, VirtioFeature.VERSION_1)).with(65).with(67)
                .with(100);
        assertEquals(List.of("GUEST_UDP_TUNNEL_GSO", "HOST_UDP_TUNNEL_GSO", "bit 100"), f.highNames());
        assertEquals("0x100000000 [VERSION_1] + [GUEST_UDP_TUNNEL_GSO, HOST_UDP_TUNNEL_GSO, bit 100]", f.toString());
        assertEquals(List.of("bit 65"), FeatureWords.of(Features.of(DeviceKind.VSOCK)).with(65).highNames());
        assertEquals("0x100000000 [VERSION_1]", FeatureWords.of(Features.of(DeviceKind.NET, VirtioFeature.VERSION_1))
                .toString(), "no higher word: printed as Features");
    }

    @Test
    void badWordsAndBitsAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> new FeatureWords(DeviceKind.NET, List.of()));
        Long[] tooMany = new Long[FeatureWords.MAX_WORDS + 1];
        Arrays.fill(tooMany, 1L);
        assertThrows(IllegalArgumentException.class, () -> new FeatureWords(DeviceKind.NET, Arrays.asList(tooMany)));
        List<Long> withNull = new ArrayList<>(List.of(1L, 2L));
        withNull.add(1, null);
        assertThrows(NullPointerException.class, () -> new FeatureWords(DeviceKind.NET, withNull));
        assertEquals("kind", assertThrows(NullPointerException.class,
                () -> new FeatureWords(null, List.of(1L))).getMessage());
        FeatureWords f = FeatureWords.of(Features.of(DeviceKind.NET));
        assertThrows(IllegalArgumentException.class, () -> f.with(-1));
        assertThrows(IllegalArgumentException.class, () -> f.has(64 * FeatureWords.MAX_WORDS));
        assertThrows(IllegalArgumentException.class, () -> f.word(-1));
    }
}
