package weir;

import java.time.Duration;
import java.util.*;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.*;

/**
 * Transactions with the Java client 4.x against a broker (transaction version 2 when the broker
 * finalizes it): commit, abort, offsets sent to a transaction, READ_COMMITTED vs
 * READ_UNCOMMITTED. Exits non-zero (an exception) when anything differs from Kafka's semantics.
 */
public final class TxnSmoke {
    public static void main(String[] args) throws Exception {
        String bs = args[0];
        String topic = args.length > 1 ? args[1] : "java-txn";
        try (Admin a = Admin.create(Map.of("bootstrap.servers", bs))) {
            a.createTopics(List.of(new NewTopic(topic, 3, (short) 1))).all().get();
            var features = a.describeFeatures().featureMetadata().get().finalizedFeatures();
            System.out.println("features " + features);
            if (args.length > 2 && !String.valueOf(features.get("transaction.version")).contains("max_version_level:" + args[2]))
                throw new AssertionError("transaction.version is not " + args[2] + ": " + features);
        }
        Properties pp = new Properties();
        pp.put("bootstrap.servers", bs);
        pp.put("transactional.id", "java-tx-" + topic);
        pp.put("key.serializer", StringSerializer.class.getName());
        pp.put("value.serializer", StringSerializer.class.getName());
        try (KafkaProducer<String, String> p = new KafkaProducer<>(pp)) {
            p.initTransactions();
            p.beginTransaction();
            for (int i = 0; i < 30; i++) p.send(new ProducerRecord<>(topic, i % 3, null, "c" + i));
            p.sendOffsetsToTransaction(Map.of(new TopicPartition(topic, 0), new OffsetAndMetadata(7)),
                new ConsumerGroupMetadata("java-grp"));
            long t0 = System.nanoTime();
            p.commitTransaction();
            System.out.println("commit ms " + (System.nanoTime() - t0) / 1e6);
            p.beginTransaction();
            for (int i = 0; i < 30; i++) p.send(new ProducerRecord<>(topic, i % 3, null, "a" + i));
            p.flush();
            p.abortTransaction();
            for (int t = 0; t < 5; t++) {
                p.beginTransaction();
                p.send(new ProducerRecord<>(topic, t % 3, null, "d" + t));
                t0 = System.nanoTime();
                p.commitTransaction();
                System.out.println("commit ms " + (System.nanoTime() - t0) / 1e6);
            }
        }
        for (String iso : List.of("read_committed", "read_uncommitted")) {
            Properties cp = new Properties();
            cp.put("bootstrap.servers", bs);
            cp.put("isolation.level", iso);
            cp.put("key.deserializer", StringDeserializer.class.getName());
            cp.put("value.deserializer", StringDeserializer.class.getName());
            try (KafkaConsumer<String, String> c = new KafkaConsumer<>(cp)) {
                List<TopicPartition> tps = List.of(new TopicPartition(topic, 0), new TopicPartition(topic, 1), new TopicPartition(topic, 2));
                c.assign(tps);
                c.seekToBeginning(tps);
                List<String> got = new ArrayList<>();
                long deadline = System.currentTimeMillis() + 15000;
                while (System.currentTimeMillis() < deadline) {
                    for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(300))) got.add(r.value());
                    boolean done = true;
                    Map<TopicPartition, Long> end = c.endOffsets(tps);
                    for (TopicPartition tp : tps) if (c.position(tp) < end.get(tp)) done = false;
                    if (done) break;
                }
                Collections.sort(got);
                System.out.println(iso + " " + got.size() + " " + got);
                Set<String> want = new TreeSet<>();
                for (int i = 0; i < 30; i++) want.add("c" + i);
                for (int t = 0; t < 5; t++) want.add("d" + t);
                if (iso.equals("read_uncommitted")) for (int i = 0; i < 30; i++) want.add("a" + i);
                if (got.size() != want.size() || !new TreeSet<>(got).equals(want))
                    throw new AssertionError(iso + " read " + got + ", expected " + want);
            }
        }
        Properties gp = new Properties();
        gp.put("bootstrap.servers", bs);
        try (Admin a = Admin.create(gp)) {
            var offsets = a.listConsumerGroupOffsets("java-grp").partitionsToOffsetAndMetadata().get();
            System.out.println("group offsets " + offsets);
            OffsetAndMetadata o = offsets.get(new TopicPartition(topic, 0));
            if (o == null || o.offset() != 7) throw new AssertionError("committed offset " + o);
        }
        System.out.println("OK");
    }
}
