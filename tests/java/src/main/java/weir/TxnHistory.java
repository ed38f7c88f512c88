package weir;

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.FileWriter;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.ApplicationRecoverableException;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.errors.OutOfOrderSequenceException;
import org.apache.kafka.common.errors.RetriableException;
import org.apache.kafka.common.errors.UnsupportedVersionException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * The transactional history workload of {@code weir-chaos --workload txn} (Jepsen's Kafka
 * workload) with the Java client: P transactional producers (distinct {@code transactional.id}s,
 * transaction version 2 when the broker finalizes it) run transactions writing unique values
 * {@code p{i}-t{n}-{k}} to random partitions, committing most and aborting ~20% (seeded); C
 * READ_COMMITTED consumers, assigned to every partition (no group), record every record in
 * order. The history goes to a JSON-lines file, flushed every 200 ms:
 *
 * <pre>
 * {"type":"txn","producer":0,"seq":3,"writes":[["txn-a",1,"p0-t3-0"]],"outcome":"committed"}
 * {"type":"txn",...,"outcome":"unknown","reason":"commit: ..."}   (also "aborted")
 * {"type":"read","consumer":1,"topic":"txn-a","partition":1,"offset":7,"value":"p0-t3-0"}
 * {"type":"note","text":"..."}
 * {"type":"producers-stopped"}   then   {"type":"done","txns":..,"committed":..,"reads":..}
 * </pre>
 *
 * Outcomes as in weir-chaos's txn_workload.rs: Committed when commitTransaction returned,
 * Aborted when abortTransaction returned, Unknown(reason) otherwise; a transaction whose send
 * failed is aborted; a retriable error of commit/abort is retried (3 calls in all); an error
 * that needs a new producer (fenced, fatal) recreates it (initTransactions fences the old one).
 *
 * <p>Args: bootstrap topics(comma-separated) partitions producers consumers duration-seconds
 * seed output-file [stdin]. After the duration the producers stop after their current
 * transaction, the consumers read 5 s more, and the program exits 0. With {@code stdin} the
 * program is also driven by lines on its standard input: {@code stop-producers} stops the
 * producers (the consumers go on), {@code stop} (or the end of the input) stops everything.
 */
public final class TxnHistory {
    static final int TXN_TIMEOUT_MS = 10_000;
    static final int CALL_TIMEOUT_MS = 30_000;
    static final int MAX_WRITES = 6;
    static final int ABORT_PERCENT = 20;
    static final int PACE_MS = 20;
    static final int MAX_NOTES = 500;

    /** splitmix64, as weir-chaos's rng.rs. */
    static final class Rng {
        long s;

        Rng(long s) { this.s = s; }

        long next() {
            s += 0x9e3779b97f4a7c15L;
            long z = s;
            z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
            z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
            return z ^ (z >>> 31);
        }

        long below(long n) { return Long.remainderUnsigned(next(), n); }

        long range(long lo, long hi) { return lo + below(hi - lo + 1); }

        Rng fork() { return new Rng(next()); }
    }

    /** The history file: whole lines, flushed by a timer. */
    static final class Out {
        private final Writer w;
        private int notes;
        private boolean failed;

        Out(String path) throws IOException {
            w = new BufferedWriter(new FileWriter(path, StandardCharsets.UTF_8), 1 << 16);
        }

        synchronized void line(String json) {
            try {
                w.write(json);
                w.write('\n');
            } catch (IOException e) {
                if (!failed) System.err.println("TxnHistory: writing the history: " + e);
                failed = true;
            }
        }

        void note(String text) {
            synchronized (this) {
                if (notes++ >= MAX_NOTES) return;
            }
            line("{\"type\":\"note\",\"text\":" + str(text) + "}");
        }

        synchronized void flush() {
            try {
                w.flush();
            } catch (IOException e) {
                failed = true;
            }
        }

        synchronized void close() throws IOException { w.close(); }
    }

    static String str(String s) {
        StringBuilder b = new StringBuilder(s.length() + 2).append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                default -> {
                    if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
                    else b.append(c);
                }
            }
        }
        return b.append('"').toString();
    }

    final String bootstrap;
    final List<TopicPartition> all = new ArrayList<>();
    final Out out;
    final AtomicBoolean stopProducers = new AtomicBoolean();
    final AtomicBoolean stopConsumers = new AtomicBoolean();
    final AtomicLong txns = new AtomicLong();
    final AtomicLong committed = new AtomicLong();
    final AtomicLong reads = new AtomicLong();

    TxnHistory(String bootstrap, String topics, int partitions, Out out) {
        this.bootstrap = bootstrap;
        for (String t : topics.split(",")) {
            for (int p = 0; p < partitions; p++) all.add(new TopicPartition(t, p));
        }
        this.out = out;
    }

    static String describe(Throwable e) {
        String s = e.getClass().getSimpleName() + ": " + e.getMessage();
        if (e.getCause() != null && e.getCause() != e) {
            s += " (cause " + e.getCause().getClass().getSimpleName() + ": " + e.getCause().getMessage() + ")";
        }
        return s;
    }

    enum Next { RETRY, ABORT, GIVE_UP }

    /** What a transactional call's error asks for (a bare KafkaException judged by its cause). */
    static Next nextStep(Throwable e) {
        if (e.getClass() == KafkaException.class && e.getCause() != null) e = e.getCause();
        if (e instanceof RetriableException) return Next.RETRY;
        if (e instanceof ApplicationRecoverableException || e instanceof OutOfOrderSequenceException
            || e instanceof AuthorizationException || e instanceof UnsupportedVersionException
            || e instanceof IllegalStateException) return Next.GIVE_UP;
        if (e instanceof KafkaException) return Next.ABORT;
        return Next.GIVE_UP;
    }

    static String transactionalId(int i) { return "chaos-java-txn-" + i; }

    KafkaProducer<String, String> newProducer(int id) {
        Properties pp = new Properties();
        pp.put("bootstrap.servers", bootstrap);
        pp.put("transactional.id", transactionalId(id));
        pp.put("client.id", "txn-history-p" + id);
        pp.put("acks", "all");
        pp.put("enable.idempotence", "true");
        pp.put("transaction.timeout.ms", String.valueOf(TXN_TIMEOUT_MS));
        // delivery.timeout.ms >= linger.ms + request.timeout.ms, within the transaction timeout.
        pp.put("delivery.timeout.ms", String.valueOf(TXN_TIMEOUT_MS));
        pp.put("request.timeout.ms", "5000");
        pp.put("linger.ms", "5");
        pp.put("max.block.ms", String.valueOf(CALL_TIMEOUT_MS));
        pp.put("metadata.max.age.ms", "5000");
        pp.put("retry.backoff.ms", "100");
        pp.put("key.serializer", StringSerializer.class.getName());
        pp.put("value.serializer", StringSerializer.class.getName());
        KafkaProducer<String, String> p = new KafkaProducer<>(pp);
        try {
            p.initTransactions();
        } catch (RuntimeException e) {
            p.close(Duration.ZERO);
            throw e;
        }
        return p;
    }

    /** A finished transaction's outcome: "committed", "aborted" or "unknown" with a reason. */
    record Outcome(String kind, String reason, boolean recreate) {}

    static Outcome abort(KafkaProducer<String, String> p, String why) {
        String last = "";
        for (int i = 0; i < 3; i++) {
            try {
                p.abortTransaction();
                return new Outcome("aborted", null, false);
            } catch (RuntimeException e) {
                last = describe(e);
                if (nextStep(e) != Next.RETRY) break;
            }
        }
        return new Outcome("unknown", why + "abort: " + last, true);
    }

    static Outcome commit(KafkaProducer<String, String> p) {
        String last = "";
        for (int i = 0; i < 3; i++) {
            try {
                p.commitTransaction();
                return new Outcome("committed", null, false);
            } catch (RuntimeException e) {
                last = describe(e);
                Next n = nextStep(e);
                if (n == Next.RETRY) continue;
                if (n == Next.ABORT) return abort(p, "commit: " + last + "; then ");
                break;
            }
        }
        return new Outcome("unknown", "commit: " + last, true);
    }

    /** One transaction; null when it could not even begin (then the producer is recreated). */
    Outcome oneTxn(KafkaProducer<String, String> p, int id, long seq, Rng rng, StringBuilder writes) {
        try {
            p.beginTransaction();
        } catch (RuntimeException e) {
            out.note("producer " + id + " begin: " + describe(e));
            return null;
        }
        long n = rng.range(1, Math.max(1, MAX_WRITES));
        String failed = null;
        for (long k = 0; k < n; k++) {
            TopicPartition tp = all.get((int) rng.below(all.size()));
            String value = "p" + id + "-t" + seq + "-" + k;
            try {
                Future<RecordMetadata> f = p.send(new ProducerRecord<>(tp.topic(), tp.partition(), null, value));
                if (f.isDone()) f.get(); // failed at once: not appended to the transaction
            } catch (Exception e) {
                failed = describe(e instanceof java.util.concurrent.ExecutionException && e.getCause() != null ? e.getCause() : e);
                break;
            }
            if (writes.length() > 0) writes.append(',');
            writes.append('[').append(str(tp.topic())).append(',').append(tp.partition()).append(',').append(str(value)).append(']');
        }
        boolean wantsAbort = rng.below(100) < ABORT_PERCENT;
        if (failed != null) return abort(p, "send: " + failed + "; then ");
        if (wantsAbort) return abort(p, "");
        return commit(p);
    }

    void producerLoop(int id, Rng rng) {
        KafkaProducer<String, String> p = null;
        long seq = 0;
        boolean dangling = false;
        while (!stopProducers.get()) {
            if (p == null) {
                try {
                    p = newProducer(id);
                } catch (RuntimeException e) {
                    out.note("create producer " + id + ": " + describe(e));
                    sleep(500); // a back-off before the next attempt
                    continue;
                }
            }
            StringBuilder writes = new StringBuilder();
            Outcome o = oneTxn(p, id, seq, rng, writes);
            boolean recreate = o == null || o.recreate();
            if (o != null) {
                String line = "{\"type\":\"txn\",\"producer\":" + id + ",\"seq\":" + seq + ",\"writes\":[" + writes
                    + "],\"outcome\":\"" + o.kind() + "\"" + (o.reason() != null ? ",\"reason\":" + str(o.reason()) : "") + "}";
                out.line(line);
                if (o.kind().equals("committed")) committed.incrementAndGet();
                if (o.kind().equals("unknown")) out.note("producer " + id + " transaction " + seq + ": unknown: " + o.reason());
                txns.incrementAndGet();
                seq++;
            }
            dangling = recreate;
            if (recreate) {
                closeQuietly(p);
                p = null;
            } else {
                sleep(PACE_MS);
            }
        }
        if (p != null) closeQuietly(p);
        if (dangling) {
            // Fence the last producer so its transaction of unknown outcome completes now.
            try {
                closeQuietly(newProducer(id));
            } catch (RuntimeException e) {
                out.note("fencing producer " + id + " at the end: " + describe(e));
            }
        }
    }

    static void closeQuietly(KafkaProducer<String, String> p) {
        try {
            p.close(Duration.ofSeconds(1));
        } catch (RuntimeException e) {
            // closing a broken producer: nothing to record
        }
    }

    void consumerLoop(int id) {
        Properties cp = new Properties();
        cp.put("bootstrap.servers", bootstrap);
        cp.put("client.id", "txn-history-c" + id);
        cp.put("isolation.level", "read_committed");
        cp.put("enable.auto.commit", "false");
        cp.put("auto.offset.reset", "earliest");
        cp.put("fetch.max.wait.ms", "100");
        cp.put("metadata.max.age.ms", "5000");
        cp.put("key.deserializer", StringDeserializer.class.getName());
        cp.put("value.deserializer", StringDeserializer.class.getName());
        long errors = 0;
        try (KafkaConsumer<String, String> c = new KafkaConsumer<>(cp)) {
            c.assign(all);
            c.seekToBeginning(all);
            while (!stopConsumers.get()) {
                try {
                    for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(100))) {
                        out.line("{\"type\":\"read\",\"consumer\":" + id + ",\"topic\":" + str(r.topic()) + ",\"partition\":"
                            + r.partition() + ",\"offset\":" + r.offset() + ",\"value\":" + str(r.value() == null ? "" : r.value()) + "}");
                        reads.incrementAndGet();
                    }
                } catch (KafkaException e) {
                    if (errors++ < 3) out.note("consumer " + id + ": " + describe(e));
                    sleep(100);
                }
            }
        } catch (RuntimeException e) {
            out.note("consumer " + id + " failed: " + describe(e));
        }
        if (errors > 0) out.note("consumer " + id + ": " + errors + " errors");
    }

    static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 8) {
            System.err.println("usage: weir.TxnHistory bootstrap topics partitions producers consumers duration-seconds seed output-file [stdin]");
            System.exit(2);
        }
        System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
        int producers = Integer.parseInt(args[3]);
        int consumers = Integer.parseInt(args[4]);
        long deadline = System.nanoTime() + Long.parseLong(args[5]) * 1_000_000_000L;
        Rng rng = new Rng(Long.parseUnsignedLong(args[6]));
        boolean stdin = args.length > 8 && args[8].equals("stdin");
        Out out = new Out(args[7]);
        TxnHistory h = new TxnHistory(args[0], args[1], Integer.parseInt(args[2]), out);

        Thread flusher = new Thread(() -> {
            while (true) {
                sleep(200);
                out.flush();
            }
        }, "flusher");
        flusher.setDaemon(true);
        flusher.start();
        if (stdin) {
            Thread control = new Thread(() -> {
                try (BufferedReader r = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
                    String l;
                    while ((l = r.readLine()) != null) {
                        if (l.trim().equals("stop-producers")) h.stopProducers.set(true);
                        if (l.trim().equals("stop")) break;
                    }
                } catch (IOException e) {
                    // the end of the input: stop
                }
                h.stopProducers.set(true);
                h.stopConsumers.set(true);
            }, "control");
            control.setDaemon(true);
            control.start();
        }

        List<Thread> cs = new ArrayList<>();
        for (int i = 0; i < consumers; i++) {
            int id = i;
            cs.add(new Thread(() -> h.consumerLoop(id), "consumer-" + i));
        }
        List<Thread> ps = new ArrayList<>();
        for (int i = 0; i < producers; i++) {
            int id = i;
            Rng r = rng.fork();
            ps.add(new Thread(() -> h.producerLoop(id, r), "producer-" + i));
        }
        cs.forEach(Thread::start);
        ps.forEach(Thread::start);

        while (!h.stopProducers.get() && System.nanoTime() < deadline) sleep(100);
        h.stopProducers.set(true);
        for (Thread t : ps) t.join();
        out.line("{\"type\":\"producers-stopped\"}");
        out.flush();
        System.out.println("producers stopped: " + h.txns.get() + " transactions, " + h.committed.get() + " committed");
        long grace = System.nanoTime() + 5_000_000_000L;
        while (!h.stopConsumers.get() && (stdin ? System.nanoTime() < Math.max(deadline, grace) + 600_000_000_000L
                                                : System.nanoTime() < grace)) sleep(100);
        h.stopConsumers.set(true);
        for (Thread t : cs) t.join();
        out.line("{\"type\":\"done\",\"txns\":" + h.txns.get() + ",\"committed\":" + h.committed.get() + ",\"reads\":" + h.reads.get() + "}");
        out.close();
        System.out.println("done: " + h.txns.get() + " transactions, " + h.committed.get() + " committed, " + h.reads.get() + " reads");
        System.exit(0);
    }
}
