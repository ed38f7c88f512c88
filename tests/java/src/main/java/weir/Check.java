package weir;

import java.util.*;
import org.apache.kafka.common.serialization.*;

/**
 * The self-checking harness of the client matrix: each scenario prints `PASS name` or
 * `FAIL name: why` (the stack trace goes to stderr) and {@link #exit()} exits 1 when any failed.
 */
final class Check {
    interface Body { void run() throws Exception; }

    private static int failed;
    private static int passed;

    static void scenario(String name, Body body) {
        long t0 = System.nanoTime();
        try {
            body.run();
            passed++;
            System.out.printf("PASS %s (%.1f s)%n", name, (System.nanoTime() - t0) / 1e9);
        } catch (Throwable t) {
            failed++;
            Throwable root = t;
            while (root.getCause() != null && root.getCause() != root) root = root.getCause();
            String why = t == root ? t.toString() : t + " (cause: " + root + ")";
            System.out.println("FAIL " + name + ": " + why.replace('\n', ' '));
            t.printStackTrace(System.err);
        }
        System.out.flush();
    }

    static void require(boolean ok, String what) {
        if (!ok) throw new AssertionError(what);
    }

    static void equal(Object want, Object got, String what) {
        if (!Objects.equals(want, got))
            throw new AssertionError(what + ": expected " + want + ", got " + got);
    }

    static Properties producerProps(String bs) {
        Properties p = new Properties();
        p.put("bootstrap.servers", bs);
        p.put("key.serializer", StringSerializer.class.getName());
        p.put("value.serializer", StringSerializer.class.getName());
        p.put("acks", "all");
        p.put("enable.idempotence", "true");
        p.put("linger.ms", "5");
        return p;
    }

    static Properties consumerProps(String bs) {
        Properties p = new Properties();
        p.put("bootstrap.servers", bs);
        p.put("key.deserializer", StringDeserializer.class.getName());
        p.put("value.deserializer", StringDeserializer.class.getName());
        p.put("auto.offset.reset", "earliest");
        p.put("enable.auto.commit", "false");
        return p;
    }

    static void exit() {
        System.out.println("passed " + passed + ", failed " + failed);
        System.out.flush();
        System.exit(failed == 0 ? 0 : 1);
    }

    private Check() {}
}
