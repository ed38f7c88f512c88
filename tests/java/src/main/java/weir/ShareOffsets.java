package weir;

import java.time.Duration;
import java.util.*;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.GroupNotEmptyException;

/**
 * Share-group offsets through the Java Admin client (KIP-932, KIP-1226):
 * listShareGroupOffsets (start offset and lag), alterShareGroupOffsets (refused while the group
 * has a member; after a reset to the earliest offset on the empty group a share consumer receives
 * every record again) and deleteShareGroupOffsets (the state is gone, the next consumer starts
 * from share.auto.offset.reset). Usage: ShareOffsets BOOTSTRAP NAME. Prints PASS/FAIL lines.
 */
public final class ShareOffsets {
    private static final int N = 10;

    public static void main(String[] args) throws Exception {
        String bs = args[0];
        String topic = args[1];
        String group = args[1] + "-group";
        TopicPartition tp = new TopicPartition(topic, 0);
        try (Admin a = Admin.create(Map.of("bootstrap.servers", bs))) {
            a.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all().get();
            ConfigResource g = new ConfigResource(ConfigResource.Type.GROUP, group);
            a.incrementalAlterConfigs(Map.of(g, List.of(new AlterConfigOp(
                new ConfigEntry("share.auto.offset.reset", "earliest"), AlterConfigOp.OpType.SET)))).all().get();
            try (KafkaProducer<String, String> p = new KafkaProducer<>(Check.producerProps(bs))) {
                for (int i = 0; i < N; i++) p.send(new ProducerRecord<>(topic, 0, null, "v" + i));
            }

            Check.scenario("share-offsets-unknown-group", () -> {
                // As Kafka 4.4 (compared by the differential suite): a group id no group has
                // lists no offsets, and setting its offsets initializes the share state for the
                // group's first member.
                String unknown = "no-such-share-group";
                Check.require(offsets(a, unknown).isEmpty(), "offsets of an unknown group: " + offsets(a, unknown));
                a.alterShareGroupOffsets(unknown, Map.of(tp, 2L)).all().get();
                SharePartitionOffsetInfo set = offsets(a, unknown).get(tp);
                Check.require(set != null, "no offset after altering: " + offsets(a, unknown));
                Check.equal(2L, set.startOffset(), "start offset set on a group no group had");
            });

            Check.scenario("share-offsets-list-after-consume", () -> {
                try (KafkaShareConsumer<String, String> c = consumer(bs, group, topic)) {
                    List<String> got = receive(c, N);
                    Check.equal(N, got.size(), "records received");
                }
                SharePartitionOffsetInfo info = offsets(a, group).get(tp);
                Check.require(info != null, "no offset for " + tp + ": " + offsets(a, group));
                Check.equal((long) N, info.startOffset(), "start offset after accepting all");
                Check.equal(Optional.of(0L), info.lag(), "lag after accepting all");
            });

            Check.scenario("share-offsets-alter-non-empty-group", () -> {
                try (KafkaShareConsumer<String, String> c = consumer(bs, group, topic)) {
                    // Everything is accepted: the member joins on poll and gets nothing.
                    long deadline = System.currentTimeMillis() + 30000;
                    while (members(a, group) != 1 && System.currentTimeMillis() < deadline)
                        Check.equal(0, c.poll(Duration.ofMillis(200)).count(), "records after all were accepted");
                    Check.equal(1, members(a, group), "members while the consumer polls");
                    expect(GroupNotEmptyException.class,
                        () -> a.alterShareGroupOffsets(group, Map.of(tp, 0L)).all().get());
                    expect(GroupNotEmptyException.class,
                        () -> a.deleteShareGroupOffsets(group, Set.of(topic)).all().get());
                }
            });

            Check.scenario("share-offsets-alter-to-earliest", () -> {
                awaitMembers(a, group, 0);
                a.alterShareGroupOffsets(group, Map.of(tp, 0L)).all().get();
                SharePartitionOffsetInfo info = offsets(a, group).get(tp);
                Check.equal(0L, info.startOffset(), "start offset after the reset");
                Check.equal(Optional.of((long) N), info.lag(), "lag after the reset");
                try (KafkaShareConsumer<String, String> c = consumer(bs, group, topic)) {
                    List<String> got = receive(c, N);
                    List<String> want = new ArrayList<>();
                    for (int i = 0; i < N; i++) want.add("v" + i);
                    Collections.sort(got);
                    Collections.sort(want);
                    Check.equal(want, got, "records received again after the reset");
                }
            });

            Check.scenario("share-offsets-delete", () -> {
                awaitMembers(a, group, 0);
                Check.require(offsets(a, group).containsKey(tp), "state before the delete");
                a.deleteShareGroupOffsets(group, Set.of(topic)).all().get();
                Map<TopicPartition, SharePartitionOffsetInfo> after = offsets(a, group);
                Check.require(after.get(tp) == null, "state still there after the delete: " + after);
                // The next consumer starts from share.auto.offset.reset (earliest): all again.
                try (KafkaShareConsumer<String, String> c = consumer(bs, group, topic)) {
                    Check.equal(N, receive(c, N).size(), "records received after the delete");
                }
            });
        }
        Check.exit();
    }

    interface Call { void run() throws Exception; }

    static void expect(Class<? extends Throwable> want, Call call) throws Exception {
        try {
            call.run();
        } catch (ExecutionException e) {
            if (want.isInstance(e.getCause())) return;
            throw new AssertionError("expected " + want.getSimpleName() + ", got " + e.getCause(), e);
        }
        throw new AssertionError("expected " + want.getSimpleName() + ", but it succeeded");
    }

    static Map<TopicPartition, SharePartitionOffsetInfo> offsets(Admin a, String group) throws Exception {
        Map<TopicPartition, SharePartitionOffsetInfo> m = a.listShareGroupOffsets(
            Map.of(group, new ListShareGroupOffsetsSpec())).partitionsToOffsetInfo(group).get();
        return m == null ? Map.of() : m;
    }

    static int members(Admin a, String group) throws Exception {
        return a.describeShareGroups(List.of(group)).describedGroups().get(group).get().members().size();
    }

    /** A closed consumer has left: the group is empty (close sends the leave heartbeat). */
    static void awaitMembers(Admin a, String group, int n) throws Exception {
        Check.equal(n, members(a, group), "members of " + group);
    }

    static KafkaShareConsumer<String, String> consumer(String bs, String group, String topic) {
        Properties cp = Check.consumerProps(bs);
        cp.remove("auto.offset.reset");
        cp.remove("enable.auto.commit");
        cp.put("group.id", group);
        cp.put("share.acknowledgement.mode", "explicit");
        KafkaShareConsumer<String, String> c = new KafkaShareConsumer<>(cp);
        c.subscribe(List.of(topic));
        return c;
    }

    /** Accept records until `n` distinct values arrived (or 30 s passed). */
    static List<String> receive(KafkaShareConsumer<String, String> c, int n) {
        Set<String> got = new LinkedHashSet<>();
        long deadline = System.currentTimeMillis() + 30000;
        while (got.size() < n && System.currentTimeMillis() < deadline) {
            for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(500))) {
                c.acknowledge(r, AcknowledgeType.ACCEPT);
                got.add(r.value());
            }
            c.commitSync();
        }
        return new ArrayList<>(got);
    }

    private ShareOffsets() {}
}
