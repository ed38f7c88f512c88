package weir;

import java.time.Duration;
import java.util.*;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.*;

/**
 * The Java AdminClient against a broker: describe cluster, create (and validate-only) topics
 * with configs, describe topics, describe / incrementally alter configs, create partitions,
 * list offsets (earliest, latest, max timestamp), delete records, list / describe consumer
 * groups and their offsets, alter and delete group offsets, delete groups, delete topics, and the
 * errors Kafka gives for an existing or an unknown topic. Usage: AdminMatrix BOOTSTRAP [PREFIX]
 */
public final class AdminMatrix {
    static Admin a;
    static String bs;

    public static void main(String[] args) throws Exception {
        bs = args[0];
        String t = args.length > 1 ? args[1] : "java-admin";
        a = Admin.create(Map.of("bootstrap.servers", bs));
        try {
            Check.scenario("admin-describe-cluster", AdminMatrix::describeCluster);
            Check.scenario("admin-create-topics", () -> createTopics(t));
            Check.scenario("admin-create-topic-errors", () -> createErrors(t));
            Check.scenario("admin-describe-topics", () -> describeTopics(t));
            Check.scenario("admin-describe-topics-by-id", () -> describeTopicsById(t));
            Check.scenario("admin-configs", () -> configs(t));
            Check.scenario("admin-create-partitions", () -> createPartitions(t));
            Check.scenario("admin-list-offsets", () -> listOffsets(t));
            Check.scenario("admin-delete-records", () -> deleteRecords(t));
            Check.scenario("admin-consumer-groups", () -> groups(t));
            Check.scenario("admin-delete-topics", () -> deleteTopics(t));
        } finally {
            a.close(Duration.ofSeconds(5));
        }
        Check.exit();
    }

    static void describeCluster() throws Exception {
        DescribeClusterResult r = a.describeCluster();
        Check.require(r.nodes().get().size() >= 1, "no nodes");
        Check.require(r.controller().get() != null, "no controller");
        Check.require(r.clusterId().get() != null && !r.clusterId().get().isEmpty(), "no cluster id");
        System.out.println("cluster " + r.clusterId().get() + " nodes " + r.nodes().get() + " controller " + r.controller().get());
    }

    static void createTopics(String t) throws Exception {
        a.createTopics(List.of(new NewTopic(t + "-v", 2, (short) 1)), new CreateTopicsOptions().validateOnly(true)).all().get();
        Check.require(!a.listTopics().names().get().contains(t + "-v"), "validateOnly created " + t + "-v");
        CreateTopicsResult r = a.createTopics(List.of(
            new NewTopic(t, 3, (short) 1).configs(Map.of("retention.ms", "3600000", "cleanup.policy", "delete")),
            new NewTopic(t + "-2", Optional.empty(), Optional.empty())));
        r.all().get();
        Check.equal(3, r.numPartitions(t).get(), "numPartitions in CreateTopics answer");
        Check.equal(1, r.replicationFactor(t).get(), "replicationFactor in CreateTopics answer");
        Check.require(r.topicId(t).get() != null, "no topic id");
        Check.require(r.numPartitions(t + "-2").get() >= 1, "default partition count");
        Set<String> names = a.listTopics().names().get();
        Check.require(names.containsAll(List.of(t, t + "-2")), "listTopics " + names);
    }

    static void createErrors(String t) throws Exception {
        try {
            a.createTopics(List.of(new NewTopic(t, 3, (short) 1))).all().get();
            throw new AssertionError("creating an existing topic succeeded");
        } catch (ExecutionException e) {
            Check.require(e.getCause() instanceof TopicExistsException, "existing topic: " + e.getCause());
        }
        try {
            a.describeTopics(List.of(t + "-missing")).allTopicNames().get();
            throw new AssertionError("describing an unknown topic succeeded");
        } catch (ExecutionException e) {
            Check.require(e.getCause() instanceof UnknownTopicOrPartitionException, "unknown topic: " + e.getCause());
        }
        try {
            a.createTopics(List.of(new NewTopic(t + "-bad", 0, (short) 1))).all().get();
            throw new AssertionError("0 partitions accepted");
        } catch (ExecutionException e) {
            Check.require(e.getCause() instanceof InvalidPartitionsException, "0 partitions: " + e.getCause());
        }
    }

    static void describeTopics(String t) throws Exception {
        TopicDescription d = a.describeTopics(List.of(t)).allTopicNames().get().get(t);
        Check.equal(3, d.partitions().size(), "partitions");
        for (var p : d.partitions()) {
            Check.require(p.leader() != null, "partition " + p.partition() + " has no leader");
            Check.equal(1, p.replicas().size(), "replicas of " + p.partition());
            Check.equal(1, p.isr().size(), "isr of " + p.partition());
        }
        Check.require(!d.isInternal(), "internal");
    }

    /** Metadata v12+ with a topic id (the Java client also sends an empty, non-null name). */
    static void describeTopicsById(String t) throws Exception {
        TopicDescription d = a.describeTopics(List.of(t)).allTopicNames().get().get(t);
        TopicDescription byId = a.describeTopics(org.apache.kafka.common.TopicCollection.ofTopicIds(List.of(d.topicId())))
            .allTopicIds().get().get(d.topicId());
        Check.equal(t, byId.name(), "describe by topic id");
    }

    static Map<String, ConfigEntry> topicConfig(String t) throws Exception {
        ConfigResource res = new ConfigResource(ConfigResource.Type.TOPIC, t);
        Map<String, ConfigEntry> m = new HashMap<>();
        for (ConfigEntry e : a.describeConfigs(List.of(res)).all().get().get(res).entries()) m.put(e.name(), e);
        return m;
    }

    static void configs(String t) throws Exception {
        Map<String, ConfigEntry> c = topicConfig(t);
        Check.equal("3600000", c.get("retention.ms").value(), "retention.ms set at creation");
        Check.equal(ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG, c.get("retention.ms").source(), "source of retention.ms");
        Check.require(c.containsKey("segment.bytes"), "segment.bytes not described");
        ConfigResource res = new ConfigResource(ConfigResource.Type.TOPIC, t);
        a.incrementalAlterConfigs(Map.of(res, List.of(
            new AlterConfigOp(new ConfigEntry("retention.ms", "7200000"), AlterConfigOp.OpType.SET),
            new AlterConfigOp(new ConfigEntry("max.message.bytes", "2000000"), AlterConfigOp.OpType.SET)))).all().get();
        c = topicConfig(t);
        Check.equal("7200000", c.get("retention.ms").value(), "retention.ms after SET");
        Check.equal("2000000", c.get("max.message.bytes").value(), "max.message.bytes after SET");
        a.incrementalAlterConfigs(Map.of(res, List.of(
            new AlterConfigOp(new ConfigEntry("max.message.bytes", ""), AlterConfigOp.OpType.DELETE)))).all().get();
        c = topicConfig(t);
        Check.require(c.get("max.message.bytes").source() != ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG,
            "max.message.bytes still a topic override after DELETE: " + c.get("max.message.bytes"));
        try {
            a.incrementalAlterConfigs(Map.of(res, List.of(
                new AlterConfigOp(new ConfigEntry("no.such.config", "1"), AlterConfigOp.OpType.SET)))).all().get();
            throw new AssertionError("unknown config accepted");
        } catch (ExecutionException e) {
            Check.require(e.getCause() instanceof InvalidConfigurationException || e.getCause() instanceof InvalidRequestException,
                "unknown config: " + e.getCause());
        }
        ConfigResource broker = new ConfigResource(ConfigResource.Type.BROKER,
            String.valueOf(a.describeCluster().nodes().get().iterator().next().id()));
        Config bc = a.describeConfigs(List.of(broker)).all().get().get(broker);
        Check.require(bc.entries().size() > 0, "no broker configs");
    }

    static void createPartitions(String t) throws Exception {
        a.createPartitions(Map.of(t, NewPartitions.increaseTo(5))).all().get();
        Check.equal(5, a.describeTopics(List.of(t)).allTopicNames().get().get(t).partitions().size(), "partitions after increase");
        try {
            a.createPartitions(Map.of(t, NewPartitions.increaseTo(2))).all().get();
            throw new AssertionError("decreasing partitions succeeded");
        } catch (ExecutionException e) {
            Check.require(e.getCause() instanceof InvalidPartitionsException, "decrease: " + e.getCause());
        }
    }

    static long ts0;

    static void listOffsets(String t) throws Exception {
        ts0 = System.currentTimeMillis() - 100_000;
        try (KafkaProducer<String, String> p = new KafkaProducer<>(Check.producerProps(bs))) {
            for (int i = 0; i < 10; i++) p.send(new ProducerRecord<>(t, 0, ts0 + (i == 6 ? 50_000 : i), "k" + i, "v" + i));
            p.flush();
        }
        TopicPartition tp = new TopicPartition(t, 0);
        Check.equal(0L, a.listOffsets(Map.of(tp, OffsetSpec.earliest())).partitionResult(tp).get().offset(), "earliest");
        Check.equal(10L, a.listOffsets(Map.of(tp, OffsetSpec.latest())).partitionResult(tp).get().offset(), "latest");
        var max = a.listOffsets(Map.of(tp, OffsetSpec.maxTimestamp())).partitionResult(tp).get();
        Check.equal(6L, max.offset(), "offset of the max timestamp");
        Check.equal(ts0 + 50_000, max.timestamp(), "max timestamp");
        Check.equal(3L, a.listOffsets(Map.of(tp, OffsetSpec.forTimestamp(ts0 + 3))).partitionResult(tp).get().offset(), "offset for timestamp");
        Check.equal(-1L, a.listOffsets(Map.of(tp, OffsetSpec.forTimestamp(ts0 + 60_000))).partitionResult(tp).get().offset(), "offset for a later timestamp");
        TopicPartition empty = new TopicPartition(t, 1);
        Check.equal(0L, a.listOffsets(Map.of(empty, OffsetSpec.latest())).partitionResult(empty).get().offset(), "latest of an empty partition");
    }

    static void deleteRecords(String t) throws Exception {
        TopicPartition tp = new TopicPartition(t, 0);
        DeletedRecords d = a.deleteRecords(Map.of(tp, RecordsToDelete.beforeOffset(4))).lowWatermarks().get(tp).get();
        Check.equal(4L, d.lowWatermark(), "low watermark");
        Check.equal(4L, a.listOffsets(Map.of(tp, OffsetSpec.earliest())).partitionResult(tp).get().offset(), "earliest after delete");
        try (KafkaConsumer<String, String> c = new KafkaConsumer<>(Check.consumerProps(bs))) {
            c.assign(List.of(tp));
            c.seekToBeginning(List.of(tp));
            Check.equal(4L, c.position(tp), "consumer position at the beginning after delete");
            List<ConsumerRecord<String, String>> got = new ArrayList<>();
            long deadline = System.currentTimeMillis() + 10_000;
            while (got.size() < 6 && System.currentTimeMillis() < deadline)
                for (var r : c.poll(Duration.ofMillis(200))) got.add(r);
            Check.equal(6, got.size(), "records left");
            Check.equal("k4", got.get(0).key(), "first record left");
        }
        try {
            a.deleteRecords(Map.of(tp, RecordsToDelete.beforeOffset(11))).all().get();
            throw new AssertionError("deleting past the high watermark succeeded");
        } catch (ExecutionException e) {
            Check.require(e.getCause() instanceof org.apache.kafka.common.errors.OffsetOutOfRangeException, "past the high watermark: " + e.getCause());
        }
        // -1: up to the high watermark.
        Check.equal(10L, a.deleteRecords(Map.of(tp, RecordsToDelete.beforeOffset(-1))).lowWatermarks().get(tp).get().lowWatermark(), "delete to the high watermark");
    }

    @SuppressWarnings("deprecation")
    static void groups(String t) throws Exception {
        String g = t + "-g";
        TopicPartition tp = new TopicPartition(t, 2);
        try (KafkaProducer<String, String> p = new KafkaProducer<>(Check.producerProps(bs))) {
            for (int i = 0; i < 5; i++) p.send(new ProducerRecord<>(t, 2, "k" + i, "v" + i));
            p.flush();
        }
        Properties cp = Check.consumerProps(bs);
        cp.put("group.id", g);
        try (KafkaConsumer<String, String> c = new KafkaConsumer<>(cp)) {
            c.subscribe(List.of(t));
            int n = 0;
            long deadline = System.currentTimeMillis() + 30_000;
            while (n < 5 && System.currentTimeMillis() < deadline) n += c.poll(Duration.ofMillis(200)).count();
            Check.equal(5, n, "records consumed in the group");
            c.commitSync();
            Collection<GroupListing> listed = a.listGroups(ListGroupsOptions.forConsumerGroups()).all().get();
            Check.require(listed.stream().anyMatch(l -> l.groupId().equals(g)), "listGroups " + listed);
            ConsumerGroupDescription d = a.describeConsumerGroups(List.of(g)).describedGroups().get(g).get();
            Check.equal(1, d.members().size(), "members");
            Check.require(d.members().iterator().next().assignment().topicPartitions().size() == 5, "assignment " + d);
            try {
                a.deleteConsumerGroups(List.of(g)).all().get();
                throw new AssertionError("deleting a non-empty group succeeded");
            } catch (ExecutionException e) {
                Check.require(e.getCause() instanceof GroupNotEmptyException, "non-empty group: " + e.getCause());
            }
        }
        Map<TopicPartition, OffsetAndMetadata> off = a.listConsumerGroupOffsets(g).partitionsToOffsetAndMetadata().get();
        Check.equal(5L, off.get(tp).offset(), "committed offset");
        a.alterConsumerGroupOffsets(g, Map.of(tp, new OffsetAndMetadata(2, "meta"))).all().get();
        off = a.listConsumerGroupOffsets(g).partitionsToOffsetAndMetadata().get();
        Check.equal(2L, off.get(tp).offset(), "offset after alter");
        Check.equal("meta", off.get(tp).metadata(), "offset metadata after alter");
        a.deleteConsumerGroupOffsets(g, Set.of(tp)).all().get();
        off = a.listConsumerGroupOffsets(g).partitionsToOffsetAndMetadata().get();
        Check.require(off.get(tp) == null, "offset after delete: " + off);
        ConsumerGroupDescription d = a.describeConsumerGroups(List.of(g)).describedGroups().get(g).get();
        Check.equal(org.apache.kafka.common.GroupState.EMPTY, d.groupState(), "state of the group after its member left");
        a.deleteConsumerGroups(List.of(g)).all().get();
        Collection<GroupListing> listed = a.listGroups(ListGroupsOptions.forConsumerGroups()).all().get();
        Check.require(listed.stream().noneMatch(l -> l.groupId().equals(g)), "deleted group still listed: " + listed);
    }

    static void deleteTopics(String t) throws Exception {
        a.deleteTopics(List.of(t, t + "-2")).all().get();
        long deadline = System.currentTimeMillis() + 10_000;
        Set<String> names;
        do {
            names = a.listTopics().names().get();
        } while ((names.contains(t) || names.contains(t + "-2")) && System.currentTimeMillis() < deadline);
        Check.require(!names.contains(t) && !names.contains(t + "-2"), "topics still listed: " + names);
        try {
            a.deleteTopics(List.of(t)).all().get();
            throw new AssertionError("deleting a deleted topic succeeded");
        } catch (ExecutionException e) {
            Check.require(e.getCause() instanceof UnknownTopicOrPartitionException, "deleted topic: " + e.getCause());
        }
    }
}
