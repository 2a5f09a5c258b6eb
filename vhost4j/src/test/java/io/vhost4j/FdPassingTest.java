package io.vhost4j;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** What {@link FdPassing} refuses, and that a refusal leaks no descriptor and touches no file it did not make. */
class FdPassingTest {

    private static long openFds() throws Exception {
        try (var s = Files.list(Path.of("/proc/self/fd"))) {
            return s.count();
        }
    }

    @Test
    void badArgumentsAreNamedAndLeakNothing(@TempDir Path dir) throws Exception {
        Path socket = dir.resolve("s");
        long before = openFds();
        assertEquals("socket", assertThrows(NullPointerException.class,
                () -> FdPassing.receive(null, Duration.ZERO)).getMessage());
        assertEquals("socket", assertThrows(NullPointerException.class,
                () -> FdPassing.send(null, Map.of("a", 0), Duration.ZERO)).getMessage());
        assertEquals("descriptors", assertThrows(NullPointerException.class,
                () -> FdPassing.send(socket, null, Duration.ZERO)).getMessage());
        assertThrows(IllegalArgumentException.class, () -> FdPassing.send(socket, Map.of(), Duration.ZERO));
        assertThrows(IllegalArgumentException.class, () -> FdPassing.send(socket, Map.of("a", "not a descriptor"),
                Duration.ZERO));
        VhostException nobody = assertThrows(VhostException.class,
                () -> FdPassing.send(socket, Map.of("a", 0), Duration.ZERO));
        assertEquals(Errno.ENOENT, nobody.errno(), "nobody listens there");
        assertEquals(before, openFds(), "no descriptor left open by a refusal");
    }

    @Test
    void aReceiverNeverTakesOrRemovesAFileThatIsAlreadyThere(@TempDir Path dir) throws Exception {
        Path file = Files.write(dir.resolve("data"), new byte[] {7, 8, 9});
        long before = openFds();
        VhostException e = assertThrows(VhostException.class, () -> FdPassing.receive(file, Duration.ZERO));
        assertEquals(Errno.EADDRINUSE, e.errno());
        assertEquals("bind", e.operation());
        assertArrayEquals(new byte[] {7, 8, 9}, Files.readAllBytes(file), "the file is still there, unchanged");
        assertEquals(before, openFds());
    }
}
