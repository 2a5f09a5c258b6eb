package io.vhost4j.kernel;

import io.vhost4j.Access;
import io.vhost4j.testkit.VduseNetDevice;
import io.vhost4j.vdpa.IovaFaultException;
import io.vhost4j.vdpa.VduseControl;
import io.vhost4j.vdpa.VduseIotlb;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A {@link VduseNetDevice} in a process of its own, for tests whose VMM side makes the kernel ask the device while it
 * holds the VMM process's address-space lock (unbatched vhost-vdpa UPDATEs): in the test's own JVM, anything there
 * that queues for that lock can stall the answer (see {@link io.vhost4j.vdpa.VduseDevice}).
 *
 * <p>{@link #start} runs {@link #main} in a new JVM with the test's module and class path; the device is created
 * when it says {@code ready}, and answers commands line by line on its standard input: {@code changes} (IOTLB changes
 * the kernel announced), {@code mappings} ({@code start last perm} per mapping, then {@code end}), {@code read IOVA N}
 * (hex bytes, or {@code fault}), {@code write IOVA} ({@link #writeBack}: {@code ok} or {@code fault}); end of input
 * destroys the device. Numbers are hexadecimal.
 */
final class VduseDeviceProcess implements AutoCloseable {
    /** How long the process may take to answer (its JVM starts slowly under TCG). */
    private static final java.time.Duration ANSWER_WAIT = java.time.Duration.ofSeconds(120);
    private final Process process;
    private final BufferedReader out;
    private final PrintStream in;

    private VduseDeviceProcess(Process process) {
        this.process = process;
        this.out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
        this.in = new PrintStream(process.getOutputStream(), true, StandardCharsets.UTF_8);
    }

    /** Creates VDUSE net device {@code name} (queues of {@code queueSize}) in a new process; returns once it exists. */
    static VduseDeviceProcess start(String name, int queueSize) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElseThrow());
        cmd.addAll(List.of("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx64m",
                "--enable-native-access=io.vhost4j,io.vhost4j.testkit,ALL-UNNAMED",
                "--module-path", System.getProperty("jdk.module.path"), "--add-modules", "ALL-MODULE-PATH",
                "-cp", System.getProperty("java.class.path"), VduseDeviceProcess.class.getName(),
                name, Integer.toString(queueSize)));
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        VduseDeviceProcess d = new VduseDeviceProcess(p);
        String first = d.answer("start");
        if (!"ready".equals(first)) {
            d.close();
            throw new IOException("the device process did not start: " + first);
        }
        return d;
    }

    private String ask(String command) throws IOException {
        in.println(command);
        String line = answer(command);
        if (line == null) {
            throw new IOException("the device process ended (exit " + process.exitValue() + ") on " + command);
        }
        return line;
    }

    /**
     * The process's next line, or {@code null} if it ended; a process that says nothing for {@link #ANSWER_WAIT} is
     * killed (a hung device must fail the test, not hang the suite).
     */
    private String answer(String what) throws IOException {
        Thread watchdog = Thread.ofVirtual().start(() -> {
            try {
                Thread.sleep(ANSWER_WAIT);
                System.err.println("VDUSE device process: no answer to " + what + " in " + ANSWER_WAIT + ": killed");
                process.destroyForcibly();
            } catch (InterruptedException answered) {
                // in time
            }
        });
        try {
            return out.readLine();
        } finally {
            watchdog.interrupt();
        }
    }

    /** IOTLB changes the kernel announced to the device. */
    long iotlbChanges() throws IOException {
        return Long.parseLong(ask("changes"), 16);
    }

    /** The device's IOTLB mappings. */
    List<VduseIotlb.Mapping> mappings() throws IOException {
        List<VduseIotlb.Mapping> all = new ArrayList<>();
        String line = ask("mappings");
        while (!line.equals("end")) {
            String[] f = line.split(" ");
            all.add(new VduseIotlb.Mapping(Long.parseUnsignedLong(f[0], 16), Long.parseUnsignedLong(f[1], 16),
                    Access.valueOf(f[2])));
            line = answer("mappings");
            if (line == null) {
                throw new IOException("the device process ended in the middle of its mappings");
            }
        }
        return all;
    }

    /** {@code n} bytes the device reads at {@code iova}, or {@code null} where it faults. */
    byte[] read(long iova, int n) throws IOException {
        String r = ask("read " + Long.toHexString(iova) + " " + Integer.toHexString(n));
        return r.equals("fault") ? null : HexFormat.of().parseHex(r);
    }

    /** Whether the device may write a byte at {@code iova} (it writes back the byte it reads there, if it can). */
    boolean canWrite(long iova) throws IOException {
        return ask("write " + Long.toHexString(iova)).equals("ok");
    }

    /** Ends the process: the device is closed and destroyed there. Remove the vdpa device first. */
    @Override
    public void close() throws IOException {
        in.close();
        try {
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new IOException("the device process did not end");
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }

    /** The device process: {@code NAME QUEUE_SIZE}. */
    public static void main(String[] args) throws Exception {
        PrintStream reply = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        try (VduseControl control = VduseControl.open()) {
            String name = args[0];
            VduseNetDevice device = VduseNetDevice.create(control, name, Integer.parseInt(args[1]));
            try {
                reply.println("ready");
                serve(device, new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)), reply);
            } finally {
                device.close();
                control.destroy(name);
            }
        }
    }

    /**
     * Whether the device may write at {@code iova}: it writes the byte it reads there back, so that nothing of the
     * driver's memory changes (a write-only mapping is not tried: false).
     */
    static boolean writeBack(VduseIotlb iotlb, long iova) {
        MemorySegment b = MemorySegment.ofArray(new byte[1]);
        try {
            iotlb.read(iova, b);
            iotlb.write(iova, b);
            return true;
        } catch (IovaFaultException e) {
            return false;
        }
    }

    private static void serve(VduseNetDevice device, BufferedReader commands, PrintStream reply) throws IOException {
        VduseIotlb iotlb = device.vduse().iotlb();
        for (String line; (line = commands.readLine()) != null; ) {
            String[] f = line.split(" ");
            switch (f[0]) {
                case "changes" -> reply.println(Long.toHexString(device.iotlbChanges()));
                case "mappings" -> {
                    for (VduseIotlb.Mapping m : iotlb.mappings()) {
                        reply.println(Long.toHexString(m.start()) + " " + Long.toHexString(m.last()) + " " + m.perm());
                    }
                    reply.println("end");
                }
                case "read" -> {
                    MemorySegment buf = MemorySegment.ofArray(new byte[Integer.parseInt(f[2], 16)]);
                    try {
                        iotlb.read(Long.parseUnsignedLong(f[1], 16), buf);
                        reply.println(HexFormat.of().formatHex(buf.toArray(ValueLayout.JAVA_BYTE)));
                    } catch (IovaFaultException e) {
                        reply.println("fault");
                    }
                }
                case "write" -> reply.println(writeBack(iotlb, Long.parseUnsignedLong(f[1], 16)) ? "ok" : "fault");
                default -> reply.println("unknown command " + f[0]);
            }
        }
    }
}
