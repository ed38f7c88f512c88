package weir;

import java.time.Duration;
import java.util.*;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicIdPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.serialization.*;

/**
 * ShareFetch / ShareAcknowledge v2 with the Java KafkaShareConsumer. Scenario {@code renew}
 * (KIP-1222): a consumer in explicit mode keeps one record with AcknowledgeType.RENEW for more
 * than twice the group's {@code share.record.lock.duration.ms} (the broker must run with a low
 * {@code group.share.min.record.lock.duration.ms}), a second consumer of the group never gets it
 * meanwhile, then the first ACCEPTs it (delivery count still 1). Scenario {@code record-limit}
 * (KIP-1206): with {@code share.acquire.mode=record_limit} and {@code max.poll.records=N} every
 * poll has at most N records and a consumer holding its first poll leaves the rest of a single
 * producer batch to a second consumer. Exits non-zero on any difference.
 */
public final class ShareV2 {
    private static final int LOCK_MS = 2000;
    private static final int LIMIT = 5;

    public static void main(String[] args) throws Exception {
        String bs = args[0];
        switch (args[1]) {
            case "renew" -> renew(bs);
            case "record-limit" -> recordLimit(bs);
            default -> throw new IllegalArgumentException(args[1]);
        }
        System.out.println("OK");
    }

    private static void setup(String bs, String topic, String group, Map<String, String> configs) throws Exception {
        try (Admin a = Admin.create(Map.of("bootstrap.servers", bs))) {
            a.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all().get();
            List<AlterConfigOp> ops = new ArrayList<>();
            configs.forEach((k, v) -> ops.add(new AlterConfigOp(new ConfigEntry(k, v), AlterConfigOp.OpType.SET)));
            a.incrementalAlterConfigs(Map.of(new ConfigResource(ConfigResource.Type.GROUP, group), ops)).all().get();
        }
    }

    /** Produce {@code n} records as one batch (one send, one flush, a long linger). */
    private static void produce(String bs, String topic, String prefix, int n) {
        Properties pp = new Properties();
        pp.put("bootstrap.servers", bs);
        pp.put("linger.ms", "1000");
        pp.put("key.serializer", StringSerializer.class.getName());
        pp.put("value.serializer", StringSerializer.class.getName());
        try (KafkaProducer<String, String> p = new KafkaProducer<>(pp)) {
            for (int i = 0; i < n; i++) p.send(new ProducerRecord<>(topic, 0, null, prefix + i));
            p.flush();
        }
    }

    private static KafkaShareConsumer<String, String> consumer(String bs, String group, Map<String, String> extra) {
        Properties cp = new Properties();
        cp.put("bootstrap.servers", bs);
        cp.put("group.id", group);
        cp.put("share.acknowledgement.mode", "explicit");
        cp.put("key.deserializer", StringDeserializer.class.getName());
        cp.put("value.deserializer", StringDeserializer.class.getName());
        cp.putAll(extra);
        return new KafkaShareConsumer<>(cp);
    }

    private static void check(boolean ok, String what) {
        if (!ok) throw new AssertionError(what);
    }

    private static void noErrors(Map<TopicIdPartition, Optional<KafkaException>> r, String what) {
        r.forEach((tp, e) -> check(e.isEmpty(), what + " on " + tp + ": " + e));
    }

    private static void renew(String bs) throws Exception {
        String topic = "java-share-renew";
        String group = "java-renew-group";
        setup(bs, topic, group, Map.of("share.auto.offset.reset", "earliest",
            "share.record.lock.duration.ms", Integer.toString(LOCK_MS)));
        produce(bs, topic, "r", 5);
        Set<String> seenBySecond = ConcurrentHashMap.newKeySet();
        AtomicBoolean stop = new AtomicBoolean();
        long target = -1;
        String targetValue = null;
        long held;
        int renewals = 0;
        Thread second;
        try (KafkaShareConsumer<String, String> c1 = consumer(bs, group, Map.of())) {
            c1.subscribe(List.of(topic));
            long deadline = System.currentTimeMillis() + 60000;
            long acquiredAt = 0;
            while (target < 0 && System.currentTimeMillis() < deadline) {
                ConsumerRecords<String, String> recs = c1.poll(Duration.ofMillis(500));
                for (ConsumerRecord<String, String> r : recs) {
                    if (target < 0) {
                        target = r.offset();
                        targetValue = r.value();
                        acquiredAt = System.currentTimeMillis();
                        c1.acknowledge(r, AcknowledgeType.RENEW);
                    } else {
                        c1.acknowledge(r, AcknowledgeType.ACCEPT);
                    }
                }
                noErrors(c1.commitSync(), "first acknowledgements");
            }
            check(target >= 0, "no record delivered");
            check(c1.acquisitionLockTimeoutMs().orElse(0) == LOCK_MS, "lock timeout " + c1.acquisitionLockTimeoutMs());
            renewals = 1;
            // A second member polls the partition all along: it must never get the renewed record.
            second = new Thread(() -> {
                try (KafkaShareConsumer<String, String> c2 = consumer(bs, group, Map.of())) {
                    c2.subscribe(List.of(topic));
                    while (!stop.get()) {
                        for (ConsumerRecord<String, String> r : c2.poll(Duration.ofMillis(200))) {
                            seenBySecond.add(r.value());
                            c2.acknowledge(r, AcknowledgeType.ACCEPT);
                        }
                        c2.commitSync();
                    }
                }
            });
            second.start();
            // The renewed record comes back to the application; renew it again after some
            // "work" until it has been held for more than twice the original lock.
            boolean accepted = false;
            while (!accepted && System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<String, String> r : c1.poll(Duration.ofMillis(200))) {
                    if (r.offset() != target) {
                        c1.acknowledge(r, AcknowledgeType.ACCEPT);
                        continue;
                    }
                    check(r.deliveryCount().orElse((short) 0) == 1, "delivery count " + r.deliveryCount());
                    held = System.currentTimeMillis() - acquiredAt;
                    if (held > 2L * LOCK_MS + 500) {
                        c1.acknowledge(r, AcknowledgeType.ACCEPT);
                        accepted = true;
                    } else {
                        Thread.sleep(LOCK_MS / 4); // the processing the renewal pays for
                        c1.acknowledge(r, AcknowledgeType.RENEW);
                        renewals++;
                    }
                }
                noErrors(c1.commitSync(), "renew / accept");
            }
            held = System.currentTimeMillis() - acquiredAt;
            check(accepted, "the renewed record was not delivered back (renewals " + renewals + ")");
        }
        // A late record, after the first member left, proves the second one was consuming.
        produce(bs, topic, "late", 1);
        long lateDeadline = System.currentTimeMillis() + 30000;
        while (!seenBySecond.contains("late0") && System.currentTimeMillis() < lateDeadline) {
            Thread.sleep(100);
        }
        stop.set(true);
        second.join();
        System.out.println("renewed " + renewals + " times, held " + held + " ms, second member saw " + seenBySecond);
        check(!seenBySecond.contains(targetValue), "the renewed record was redelivered to another member");
        check(seenBySecond.contains("late0"), "the second member never consumed the late record");
        check(held > 2L * LOCK_MS, "held only " + held + " ms");
    }

    private static void recordLimit(String bs) throws Exception {
        String topic = "java-share-limit";
        String group = "java-limit-group";
        int total = 30;
        setup(bs, topic, group, Map.of("share.auto.offset.reset", "earliest"));
        produce(bs, topic, "l", total);
        Map<String, String> cfg = Map.of("share.acquire.mode", "record_limit",
            "max.poll.records", Integer.toString(LIMIT));
        Set<Long> first = new HashSet<>();
        Set<Long> done = new HashSet<>();
        int polls = 0;
        try (KafkaShareConsumer<String, String> c1 = consumer(bs, group, cfg);
             KafkaShareConsumer<String, String> c2 = consumer(bs, group, cfg)) {
            c1.subscribe(List.of(topic));
            long deadline = System.currentTimeMillis() + 60000;
            List<ConsumerRecord<String, String>> held = new ArrayList<>();
            while (held.isEmpty() && System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<String, String> r : c1.poll(Duration.ofMillis(500))) held.add(r);
            }
            check(!held.isEmpty() && held.size() <= LIMIT, "first poll had " + held.size() + " records");
            held.forEach(r -> first.add(r.offset()));
            // c1 holds its records (no poll, no acknowledgement): with record_limit the broker
            // acquired at most N of the single batch, so c2 gets records of the same batch.
            c2.subscribe(List.of(topic));
            while (done.size() < total - first.size() && System.currentTimeMillis() < deadline) {
                ConsumerRecords<String, String> recs = c2.poll(Duration.ofMillis(500));
                check(recs.count() <= LIMIT, "a poll of " + recs.count() + " records");
                if (recs.count() > 0) polls++;
                for (ConsumerRecord<String, String> r : recs) {
                    check(!first.contains(r.offset()), "offset " + r.offset() + " delivered to both members");
                    done.add(r.offset());
                    c2.acknowledge(r, AcknowledgeType.ACCEPT);
                }
                noErrors(c2.commitSync(), "second member's accept");
            }
            held.forEach(r -> c1.acknowledge(r, AcknowledgeType.ACCEPT));
            noErrors(c1.commitSync(), "first member's accept");
        }
        System.out.println("first member held " + first + ", second member got " + done.size() + " in " + polls + " polls");
        check(done.size() == total - first.size(), "second member got " + done.size() + " of " + (total - first.size()));
        check(polls >= (total - first.size() + LIMIT - 1) / LIMIT, "too few polls: " + polls);
    }
}
