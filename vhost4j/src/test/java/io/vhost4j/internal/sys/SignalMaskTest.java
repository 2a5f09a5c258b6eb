package io.vhost4j.internal.sys;

import io.vhost4j.internal.gen.VhostH;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** An ioctl with the thread's signals held back returns the ioctl's result and leaves the mask as it was. */
class SignalMaskTest {

    private static String blocked() throws Exception {
        return Files.readAllLines(Path.of("/proc/thread-self/status")).stream()
                .filter(l -> l.startsWith("SigBlk:")).findFirst().orElseThrow();
    }

    @Test
    void theCallsResultComesBackAndTheMaskIsRestored() throws Exception {
        int fd = Sys.eventfd(0, 0);
        assertTrue(fd >= 0, "eventfd: " + fd);
        try {
            String before = blocked();
            for (int i = 0; i < 3; i++) {
                int rc = Sys.ioctlSignalsBlocked(Sys.local(), fd, VhostH.VHOST_GET_FEATURES(), Sys.scratch());
                assertEquals(-VhostH.ENOTTY(), rc, "an eventfd has no vhost ioctls");
                assertEquals(before, blocked());
            }
            assertEquals(-VhostH.EBADF(), Sys.ioctlSignalsBlocked(Sys.local(), -1, VhostH.VHOST_GET_FEATURES(),
                    Sys.scratch()));
            assertEquals(before, blocked());
        } finally {
            Sys.close(fd);
        }
    }
}
