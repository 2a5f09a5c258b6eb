package io.vhost4j;

import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.spi.ToolProvider;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The README's Java examples compile against the library as it is: each block becomes the body of a method, with
 * the names it leaves to the reader (addresses, the tap, the vIOMMU) declared as placeholders.
 */
class ReadmeSnippetsTest {
    private static final String PRELUDE = """
            import io.vhost4j.*;
            import io.vhost4j.iotlb.*;
            import java.util.List;
            import static io.vhost4j.DeviceStatusBit.*;

            class Snippets {
                long gpa, size, userAddr, descUser, availUser, usedUser, usedRingIova, usedRingBytes, iova;
                long ringsIova, ringsSize, ringsUser, buffersIova, buffersSize, buffersUser;
                EventFd kick; Tap tap; MemoryTable guestMemoryTable; VhostNet net;
                interface Viommu { boolean lookup(long iova, Translation out); }
                Viommu viommu;
                void remapRings() {}
                void log(Object o) {}
            """;

    @Test
    void everyJavaBlockOfTheReadmeCompiles() throws Exception {
        String readme = Files.readString(Path.of("..", "README.md"));
        Matcher m = Pattern.compile("```java\\n(.*?)```", Pattern.DOTALL).matcher(readme);
        StringBuilder source = new StringBuilder(PRELUDE);
        int blocks = 0;
        while (m.find()) {
            source.append("    void block").append(++blocks).append("() throws Exception {\n")
                    .append(m.group(1)).append("    }\n");
        }
        source.append("}\n");
        assertTrue(blocks >= 3, "the README's examples were found: " + blocks);
        Path dir = Files.createTempDirectory("readme-snippets");
        Path file = Files.writeString(dir.resolve("Snippets.java"), source);
        ToolProvider javac = ToolProvider.findFirst("javac").orElseThrow(() -> new AssertionError("no javac here"));
        StringWriter errors = new StringWriter();
        int rc = javac.run(new PrintWriter(errors), new PrintWriter(errors), "-proc:none", "-d",
                dir.resolve("out").toString(), "-cp", Path.of("target", "classes").toString(), file.toString());
        assertFalse(rc != 0, "README examples do not compile:\n" + errors + "\n" + source);
    }
}
