package weir;

import java.time.Duration;
import java.util.*;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.GroupType;
import org.apache.kafka.common.TopicPartition;

/**
 * Consumer groups with the Java client, for one group.protocol (classic or consumer, KIP-848):
 * two members of one group share a topic's partitions (disjoint assignments covering all of
 * them), read every record once, commit; the group is described as having two members of the
 * right type; after both leave, a new member resumes at the committed offsets and reads only the
 * records produced since. Usage: Groups BOOTSTRAP classic|consumer [PREFIX]
 */
public final class Groups {
    static final int PARTS = 4, FIRST = 400, MORE = 40;

    public static void main(String[] args) throws Exception {
        String bs = args[0];
        String protocol = args.length > 1 ? args[1] : "classic";
        String prefix = args.length > 2 ? args[2] : "java-groups";
        String topic = prefix + "-" + protocol;
        String group = topic + "-g";
        try (Admin a = Admin.create(Map.of("bootstrap.servers", bs))) {
            a.createTopics(List.of(new NewTopic(topic, PARTS, (short) 1))).all().get();
        }
        produce(bs, topic, 0, FIRST);
        Check.scenario("group-" + protocol + "-share-commit", () -> share(bs, protocol, topic, group));
        Check.scenario("group-" + protocol + "-resume", () -> resume(bs, protocol, topic, group));
        Check.exit();
    }

    static void produce(String bs, String topic, int from, int n) throws Exception {
        try (KafkaProducer<String, String> p = new KafkaProducer<>(Check.producerProps(bs))) {
            for (int i = from; i < from + n; i++) p.send(new ProducerRecord<>(topic, i % PARTS, "k" + i, "v" + i));
            p.flush();
        }
    }

    static KafkaConsumer<String, String> member(String bs, String protocol, String group, String id) {
        Properties cp = Check.consumerProps(bs);
        cp.put("group.id", group);
        cp.put("group.protocol", protocol);
        cp.put("client.id", id);
        if (protocol.equals("classic")) {
            cp.put("session.timeout.ms", "10000");
            cp.put("heartbeat.interval.ms", "500");
        }
        return new KafkaConsumer<>(cp);
    }

    static void share(String bs, String protocol, String topic, String group) throws Exception {
        Set<String> seen = new HashSet<>();
        int dups = 0;
        try (KafkaConsumer<String, String> c1 = member(bs, protocol, group, "m1");
             KafkaConsumer<String, String> c2 = member(bs, protocol, group, "m2")) {
            c1.subscribe(List.of(topic));
            c2.subscribe(List.of(topic));
            long deadline = System.currentTimeMillis() + 60_000;
            boolean shared = false;
            Set<TopicPartition> a1 = Set.of(), a2 = Set.of();
            while (System.currentTimeMillis() < deadline) {
                for (KafkaConsumer<String, String> c : List.of(c1, c2)) {
                    ConsumerRecords<String, String> rs = c.poll(Duration.ofMillis(100));
                    for (ConsumerRecord<String, String> r : rs)
                        if (!seen.add(r.partition() + ":" + r.offset())) dups++;
                    if (!rs.isEmpty()) c.commitSync();
                }
                a1 = c1.assignment();
                a2 = c2.assignment();
                Set<TopicPartition> union = new HashSet<>(a1);
                union.addAll(a2);
                shared = !a1.isEmpty() && !a2.isEmpty() && Collections.disjoint(a1, a2) && union.size() == PARTS;
                if (shared && seen.size() >= FIRST) break;
            }
            Check.require(shared, "assignments not shared: m1 " + a1 + ", m2 " + a2);
            Check.equal(FIRST, seen.size(), "distinct records read by the two members");
            System.out.println("assignment m1 " + a1 + " m2 " + a2 + " (re-read during rebalances: " + dups + ")");
            try (Admin a = Admin.create(Map.of("bootstrap.servers", bs))) {
                ConsumerGroupDescription d = a.describeConsumerGroups(List.of(group)).describedGroups().get(group).get();
                Check.equal(2, d.members().size(), "members of " + group + " in DescribeGroups: " + d);
                Check.equal(protocol.equals("classic") ? GroupType.CLASSIC : GroupType.CONSUMER, d.type(), "group type");
                Map<TopicPartition, OffsetAndMetadata> off = a.listConsumerGroupOffsets(group)
                    .partitionsToOffsetAndMetadata().get();
                for (int p = 0; p < PARTS; p++) {
                    OffsetAndMetadata o = off.get(new TopicPartition(topic, p));
                    Check.require(o != null, "no committed offset for partition " + p + ": " + off);
                    Check.equal((long) (FIRST / PARTS), o.offset(), "committed offset of partition " + p);
                }
            }
        }
    }

    static void resume(String bs, String protocol, String topic, String group) throws Exception {
        produce(bs, topic, FIRST, MORE);
        List<ConsumerRecord<String, String>> got = new ArrayList<>();
        try (KafkaConsumer<String, String> c = member(bs, protocol, group, "m3")) {
            c.subscribe(List.of(topic));
            long deadline = System.currentTimeMillis() + 60_000;
            while (got.size() < MORE && System.currentTimeMillis() < deadline)
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200))) got.add(r);
            // A little longer: nothing more may come (no record before the committed offsets).
            long until = System.currentTimeMillis() + 1000;
            while (System.currentTimeMillis() < until)
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200))) got.add(r);
            c.commitSync();
            Check.equal(PARTS, c.assignment().size(), "partitions of the only member");
        }
        Check.equal(MORE, got.size(), "records read after resuming");
        for (ConsumerRecord<String, String> r : got) {
            int i = Integer.parseInt(r.key().substring(1));
            Check.require(i >= FIRST, "re-read " + r.key() + " at " + r.partition() + ":" + r.offset() + " before the committed offset");
            Check.require(r.offset() >= FIRST / PARTS, "offset " + r.offset() + " of partition " + r.partition());
        }
    }
}
