package io.vhost4j.testkit;

import io.vhost4j.Access;
import io.vhost4j.iotlb.Translation;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The offset vIOMMU model: granules inside its window, overrides and holes. */
class OffsetTranslatorTest {

    @Test
    void offsetTranslatorMapsGranulesInsideItsWindowAndHonoursOverrides() {
        long off = 0x10_0000_0000L;
        OffsetTranslator t = new OffsetTranslator(off, 0x4000_0000L, 0x10_0000, 4096, Access.RW);
        Translation out = new Translation();
        assertTrue(t.translate(off + 0x4000_1234L, Access.RO, out));
        assertEquals(off + 0x4000_1000L, out.iova());
        assertEquals(4096, out.size());
        assertEquals(0x4000_1000L, out.guestPhysAddr());
        assertEquals(Access.RW, out.perm());
        assertFalse(t.translate(off + 0x3fff_ffffL, Access.RO, out)); // below the window
        assertFalse(t.translate(off + 0x4010_0000L, Access.RO, out)); // above
        t.override(off + 0x4000_2000L, 0x100, Access.RO);
        assertTrue(t.translate(off + 0x4000_2010L, Access.WO, out));
        assertEquals(Access.RO, out.perm());
        assertEquals(0x100, out.size());
        assertTrue(t.translate(off + 0x4000_2800L, Access.WO, out)); // same page, after the override
        assertEquals(off + 0x4000_2100L, out.iova());
        t.override(off + 0x4000_3000L, 0x1000, null);
        assertFalse(t.translate(off + 0x4000_3004L, Access.RO, out));
        t.clearOverrides();
        assertTrue(t.translate(off + 0x4000_3004L, Access.RO, out));
    }
}
