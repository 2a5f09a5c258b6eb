package io.vhost4j.internal.sys;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;

import static io.vhost4j.internal.gen.VhostH.O_RDWR;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The channel moves whole messages or says why not: short transfers are never taken for messages. */
class IotlbChannelTest {

    @Test
    void wholeMessagesShortTransfersAndErrnos() throws Exception {
        Path ten = Files.createTempFile("iotlb", ".bin");
        Files.write(ten, new byte[10]);
        try (Arena arena = Arena.ofConfined();
             Fd zero = Fd.open("/dev/zero", 0 /* O_RDONLY */);
             Fd file = Fd.open(ten.toString(), 0 /* O_RDONLY */);
             Fd full = Fd.open("/dev/full", O_RDWR())) {
            MemorySegment buf = arena.allocate(IotlbWire.SIZE, 8);
            assertEquals(IotlbWire.SIZE, new IotlbChannel(zero).read(buf));
            assertEquals(IotlbChannel.SHORT, new IotlbChannel(file).read(buf), "10 bytes are not a message");
            assertEquals(IotlbChannel.SHORT, new IotlbChannel(file).read(buf), "nor is end of file");
            long rc = new IotlbChannel(full).write(buf);
            assertEquals("ENOSPC", IotlbChannel.describe(rc));
            assertEquals(-9, new IotlbChannel(zero).write(buf), "EBADF: read-only descriptor");
            IotlbChannel closed = new IotlbChannel(zero);
            zero.close();
            assertThrows(IllegalStateException.class, () -> closed.read(buf));
        } finally {
            Files.delete(ten);
        }
    }
}
