package weir;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.*;
import java.util.concurrent.Future;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;

/**
 * Producer (idempotent, acks=all) and consumer round trip with the Java client: keys, values,
 * null values, headers, timestamps, per-partition order and contiguous offsets, for each
 * compression codec. Usage: ProduceConsume BOOTSTRAP [TOPIC_PREFIX]
 */
public final class ProduceConsume {
    public static void main(String[] args) throws Exception {
        String bs = args[0];
        String prefix = args.length > 1 ? args[1] : "java-pc";
        for (String codec : List.of("none", "gzip", "snappy", "lz4", "zstd"))
            Check.scenario("produce-consume-" + codec, () -> roundTrip(bs, prefix + "-" + codec, codec));
        Check.exit();
    }

    static void roundTrip(String bs, String topic, String codec) throws Exception {
        int parts = 3, n = 3000;
        try (Admin a = Admin.create(Map.of("bootstrap.servers", bs))) {
            a.createTopics(List.of(new NewTopic(topic, parts, (short) 1))).all().get();
        }
        Properties pp = Check.producerProps(bs);
        pp.put("compression.type", codec);
        long ts0 = System.currentTimeMillis();
        Map<Integer, List<Long>> acked = new TreeMap<>();
        try (KafkaProducer<String, String> p = new KafkaProducer<>(pp)) {
            List<Future<RecordMetadata>> fs = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                ProducerRecord<String, String> r = new ProducerRecord<>(topic, i % parts, ts0 + i,
                    "k" + i, i % 100 == 99 ? null : "v" + i);
                r.headers().add("h", ("x" + i).getBytes(StandardCharsets.UTF_8));
                fs.add(p.send(r));
            }
            p.flush();
            for (Future<RecordMetadata> f : fs) {
                RecordMetadata md = f.get();
                acked.computeIfAbsent(md.partition(), k -> new ArrayList<>()).add(md.offset());
            }
        }
        for (var e : acked.entrySet()) {
            List<Long> offs = e.getValue();
            for (int i = 0; i < offs.size(); i++)
                Check.equal((long) i, offs.get(i), "acked offset #" + i + " of partition " + e.getKey());
        }
        Properties cp = Check.consumerProps(bs);
        List<ConsumerRecord<String, String>> got = new ArrayList<>();
        try (KafkaConsumer<String, String> c = new KafkaConsumer<>(cp)) {
            List<TopicPartition> tps = new ArrayList<>();
            for (int i = 0; i < parts; i++) tps.add(new TopicPartition(topic, i));
            c.assign(tps);
            c.seekToBeginning(tps);
            long deadline = System.currentTimeMillis() + 30_000;
            while (got.size() < n && System.currentTimeMillis() < deadline)
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200))) got.add(r);
            Map<TopicPartition, Long> end = c.endOffsets(tps);
            for (TopicPartition tp : tps) Check.equal((long) (n / parts), end.get(tp), "end offset of " + tp);
        }
        Check.equal(n, got.size(), "records read back");
        Map<Integer, Long> next = new HashMap<>();
        for (ConsumerRecord<String, String> r : got) {
            int i = Integer.parseInt(r.key().substring(1));
            Check.equal(i % parts, r.partition(), "partition of " + r.key());
            long want = next.getOrDefault(r.partition(), 0L);
            Check.equal(want, r.offset(), "offset in partition " + r.partition());
            next.put(r.partition(), want + 1);
            Check.equal(i % 100 == 99 ? null : "v" + i, r.value(), "value of " + r.key());
            Check.equal(ts0 + i, r.timestamp(), "timestamp of " + r.key());
            Header h = r.headers().lastHeader("h");
            Check.require(h != null, "header h of " + r.key() + " missing");
            Check.equal("x" + i, new String(h.value(), StandardCharsets.UTF_8), "header h of " + r.key());
        }
    }
}
