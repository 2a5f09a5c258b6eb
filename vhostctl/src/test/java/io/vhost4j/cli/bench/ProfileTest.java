package io.vhost4j.cli.bench;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The methods the bench waits for C2 to compile exist under those names: a renamed one would make the warm-up run
 * into its timeout and the report say "still not compiled" about a method nobody calls.
 */
class ProfileTest {
    private static final List<String> PACKAGES = List.of("io.vhost4j.iotlb", "io.vhost4j.internal.sys",
            "io.vhost4j.testkit");

    @Test
    void everyWatchedMethodExists() {
        List<String> missing = new ArrayList<>();
        for (String m : Stream.concat(Profile.MISS_PATH.stream(), Profile.VIOMMU_PATH.stream()).toList()) {
            String type = m.substring(0, m.indexOf('.')), name = m.substring(m.indexOf('.') + 1);
            boolean found = PACKAGES.stream().map(p -> load(p + "." + type)).anyMatch(c -> c != null
                    && Arrays.stream(c.getDeclaredMethods()).anyMatch(x -> x.getName().equals(name)));
            if (!found) {
                missing.add(m);
            }
        }
        assertEquals(List.of(), missing);
    }

    private static Class<?> load(String className) {
        try {
            return Class.forName(className, false, ProfileTest.class.getClassLoader());
        } catch (ClassNotFoundException e) {
            return null;
        }
    }
}
