package io.vhost4j.iotlb;

import io.vhost4j.Access;
import io.vhost4j.MemoryRegion;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The miss policy, case by case: what a translator's answer becomes, without a kernel. */
class MissResolverTest {
    private static final long A_GPA = 0x1000_0000L, A_SIZE = 0x10_0000L, A_USER = 0x7f00_0000_0000L;
    private static final long B_GPA = 0x2000_0000L, B_SIZE = 0x1000L, B_USER = 0x7f10_0000_0000L;
    private static final long TOP_GPA = 0xFFFF_FFFF_FFFF_0000L, TOP_USER = 0x7f20_0000_0000L;
    private static final MemoryRegion[] MEMORY = {new MemoryRegion(A_GPA, A_SIZE, A_USER),
            new MemoryRegion(B_GPA, B_SIZE, B_USER), new MemoryRegion(TOP_GPA, 0x10000, TOP_USER)};

    /** One row: the translator's answer (or null: no mapping), the miss, and the expected outcome. */
    record Case(String name, long tIova, long tSize, long tGpa, Access tPerm, long missIova, Access access,
                IotlbFault.Reason fault, long first, long size, long userAddr, long fromMissed) {
        static Case update(String name, long tIova, long tSize, long tGpa, Access tPerm, long miss, Access access,
                           long first, long size, long userAddr, long fromMissed) {
            return new Case(name, tIova, tSize, tGpa, tPerm, miss, access, null, first, size, userAddr, fromMissed);
        }

        static Case fault(String name, long tIova, long tSize, long tGpa, Access tPerm, long miss, Access access,
                          IotlbFault.Reason reason) {
            return new Case(name, tIova, tSize, tGpa, tPerm, miss, access, reason, 0, 0, 0, 0);
        }
    }

    private static final long IOVA = 0x9000_0000L;

    private static final List<Case> CASES = List.of(
            Case.update("one page, the permission is the translator's", IOVA, 0x1000, A_GPA, Access.RW,
                    IOVA + 0x10, Access.RO, IOVA, 0x1000, A_USER, 0xff0),
            Case.update("clipped below: the translation starts before the region", IOVA - 0x1_0000, 0x2_0000,
                    A_GPA - 0x1_0000, Access.RO, IOVA + 0x20, Access.RO, IOVA, 0x1_0000, A_USER, 0xffe0),
            Case.update("clipped above: the translation runs past the region's end", IOVA, 0x20_0000, A_GPA,
                    Access.WO, IOVA + A_SIZE - 1, Access.WO, IOVA, A_SIZE, A_USER, 1),
            Case.update("clipped at both ends to a small region", IOVA - 0x8_0000, 0x10_0000, B_GPA - 0x8_0000,
                    Access.RW, IOVA + 0x800, Access.WO, IOVA, B_SIZE, B_USER, 0x800),
            Case.update("a region at the very top of the address space", 0xF000_0000L, 0x10000, TOP_GPA,
                    Access.RO, 0xF000_FFFFL, Access.RO, 0xF000_0000L, 0x10000, TOP_USER, 1),
            Case.fault("the IOVA range wraps at 2^64", 0xFFFF_FFFF_FFFF_F000L, 0x2000, A_GPA, Access.RW,
                    0xFFFF_FFFF_FFFF_F800L, Access.RO, IotlbFault.Reason.BAD_TRANSLATION),
            Case.fault("the guest-physical range wraps at 2^64 (it would land in low memory)", IOVA, 0x3000,
                    0xFFFF_FFFF_FFFF_F000L, Access.RW, IOVA + 0x2000, Access.RO, IotlbFault.Reason.BAD_TRANSLATION),
            Case.fault("the missed IOVA is not in the answer", IOVA, 0x1000, A_GPA, Access.RW, IOVA + 0x1000,
                    Access.RO, IotlbFault.Reason.BAD_TRANSLATION),
            Case.fault("an empty answer", IOVA, 0, A_GPA, Access.RW, IOVA, Access.RO,
                    IotlbFault.Reason.BAD_TRANSLATION),
            Case.fault("an answer without a permission", IOVA, 0x1000, A_GPA, null, IOVA, Access.RO,
                    IotlbFault.Reason.BAD_TRANSLATION),
            Case.fault("read-only where the device writes", IOVA, 0x1000, A_GPA, Access.RO, IOVA, Access.WO,
                    IotlbFault.Reason.PERMISSION_DENIED),
            Case.fault("write-only where the device reads", IOVA, 0x1000, A_GPA, Access.WO, IOVA, Access.RO,
                    IotlbFault.Reason.PERMISSION_DENIED),
            Case.fault("outside guest memory", IOVA, 0x1000, 0x3000_0000L, Access.RW, IOVA, Access.RO,
                    IotlbFault.Reason.OUTSIDE_GUEST_MEMORY),
            Case.fault("between two regions", IOVA, 0x1000, A_GPA + A_SIZE, Access.RW, IOVA, Access.RO,
                    IotlbFault.Reason.OUTSIDE_GUEST_MEMORY));

    @Test
    void everyCaseOfTheTable() {
        Translation scratch = new Translation();
        MissResolver.Resolution out = new MissResolver.Resolution();
        for (Case c : CASES) {
            Translator t = (iova, access, answer) -> answer.set(c.tIova(), c.tSize(), c.tGpa(), c.tPerm());
            boolean ok = MissResolver.resolve(c.missIova(), c.access(), t, MEMORY, scratch, out);
            assertEquals(c.fault() == null, ok, c.name() + ": " + out);
            assertEquals(c.fault(), out.fault, c.name());
            if (ok) {
                assertEquals(c.first(), out.first, c.name() + ": first");
                assertEquals(c.size(), out.size, c.name() + ": size");
                assertEquals(c.userAddr(), out.userAddr, c.name() + ": user address");
                assertEquals(c.tPerm(), out.perm, c.name() + ": permission");
                assertEquals(c.fromMissed(), out.fromMissed, c.name() + ": bytes from the missed IOVA");
                assertNull(out.detail, c.name());
            } else {
                assertEquals(0, out.fromMissed, c.name());
                assertTrue(out.detail != null && !out.detail.isEmpty(), c.name());
            }
        }
    }

    @Test
    void aTranslatorThatThrowsOrHasNoMappingIsAFault() {
        Translation scratch = new Translation();
        MissResolver.Resolution out = new MissResolver.Resolution();
        assertFalse(MissResolver.resolve(IOVA, Access.RO, (i, a, t) -> {
            throw new IllegalStateException("vIOMMU bug");
        }, MEMORY, scratch, out));
        assertEquals(IotlbFault.Reason.TRANSLATOR_ERROR, out.fault);
        assertTrue(out.detail.contains("vIOMMU bug"), out.detail);
        assertFalse(MissResolver.resolve(IOVA, Access.RO, (i, a, t) -> false, MEMORY, scratch, out));
        assertEquals(IotlbFault.Reason.NO_MAPPING, out.fault);
    }
}
