package weir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.*;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.serialization.*;
import org.apache.kafka.streams.*;
import org.apache.kafka.streams.kstream.*;

/**
 * A Kafka Streams word count with processing.guarantee=exactly_once_v2: the words are re-keyed
 * (a repartition topic), counted in a state store backed by a changelog topic, and written to an
 * output topic read with read_committed. Then the local state is wiped and a new instance must
 * restore the counts from the changelog and continue them. Usage: WordCount BOOTSTRAP [APP_ID]
 */
public final class WordCount {
    public static void main(String[] args) throws Exception {
        String bs = args[0];
        String app = args.length > 1 ? args[1] : "java-wc";
        String in = app + "-in", out = app + "-out";
        try (Admin a = Admin.create(Map.of("bootstrap.servers", bs))) {
            a.createTopics(List.of(new NewTopic(in, 2, (short) 1), new NewTopic(out, 2, (short) 1))).all().get();
        }
        Path state = Files.createTempDirectory("weir-wc-");
        Map<String, Long> want = new TreeMap<>();
        Check.scenario("streams-eos-v2-wordcount", () -> {
            produce(bs, in, List.of("a b c", "a b", "a", "d a"), want);
            KafkaStreams s = start(bs, app, in, out, state);
            try {
                awaitCounts(bs, out, want);
            } finally {
                close(s);
            }
            try (Admin a = Admin.create(Map.of("bootstrap.servers", bs))) {
                Set<String> names = a.listTopics().names().get();
                Check.require(names.contains(app + "-counts-repartition"), "no repartition topic: " + names);
                Check.require(names.contains(app + "-counts-changelog"), "no changelog topic: " + names);
            }
        });
        Check.scenario("streams-eos-v2-restore-from-changelog", () -> {
            KafkaStreams old = new KafkaStreams(topology(in, out), props(bs, app, state));
            old.cleanUp();  // wipe the local store: the counts must come back from the changelog
            old.close();
            produce(bs, in, List.of("a c e"), want);
            KafkaStreams s = start(bs, app, in, out, state);
            try {
                awaitCounts(bs, out, want);
            } finally {
                close(s);
            }
        });
        Check.exit();
    }

    /** Close and leave the group, so that the next instance need not wait for the session timeout. */
    @SuppressWarnings("deprecation")
    static void close(KafkaStreams s) {
        s.close(new KafkaStreams.CloseOptions().leaveGroup(true).timeout(Duration.ofSeconds(30)));
    }

    static Topology topology(String in, String out) {
        StreamsBuilder b = new StreamsBuilder();
        b.stream(in, Consumed.with(Serdes.String(), Serdes.String()))
            .flatMapValues(v -> Arrays.asList(v.split(" ")))
            .groupBy((k, w) -> w, Grouped.with("counts", Serdes.String(), Serdes.String()))
            .count(Materialized.as("counts"))
            .toStream()
            .to(out, Produced.with(Serdes.String(), Serdes.Long()));
        return b.build();
    }

    static Properties props(String bs, String app, Path state) {
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, app);
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bs);
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, "200");
        p.put(StreamsConfig.STATE_DIR_CONFIG, state.toString());
        p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, "0");
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
        return p;
    }

    static KafkaStreams start(String bs, String app, String in, String out, Path state) throws Exception {
        KafkaStreams s = new KafkaStreams(topology(in, out), props(bs, app, state));
        s.setUncaughtExceptionHandler(e -> {
            e.printStackTrace();
            return org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        s.start();
        long deadline = System.currentTimeMillis() + 60_000;
        while (s.state() != KafkaStreams.State.RUNNING && System.currentTimeMillis() < deadline) {
            Check.require(s.state() != KafkaStreams.State.ERROR && s.state() != KafkaStreams.State.NOT_RUNNING,
                "streams " + s.state());
            Thread.sleep(100);
        }
        Check.equal(KafkaStreams.State.RUNNING, s.state(), "streams state");
        return s;
    }

    static void produce(String bs, String in, List<String> lines, Map<String, Long> want) throws Exception {
        try (KafkaProducer<String, String> p = new KafkaProducer<>(Check.producerProps(bs))) {
            int i = 0;
            for (String line : lines) {
                p.send(new ProducerRecord<>(in, "line" + i++, line));
                for (String w : line.split(" ")) want.merge(w, 1L, Long::sum);
            }
            p.flush();
        }
    }

    /** Read the output from the start (read_committed) until each word's last count is as wanted. */
    static void awaitCounts(String bs, String out, Map<String, Long> want) {
        Properties cp = Check.consumerProps(bs);
        cp.put("isolation.level", "read_committed");
        cp.put("value.deserializer", LongDeserializer.class.getName());
        Map<String, Long> got = new TreeMap<>();
        try (KafkaConsumer<String, Long> c = new KafkaConsumer<>(cp)) {
            var tps = c.partitionsFor(out).stream()
                .map(pi -> new org.apache.kafka.common.TopicPartition(out, pi.partition())).toList();
            c.assign(tps);
            c.seekToBeginning(tps);
            long deadline = System.currentTimeMillis() + 90_000;
            while (!got.equals(want) && System.currentTimeMillis() < deadline)
                for (ConsumerRecord<String, Long> r : c.poll(Duration.ofMillis(200))) got.put(r.key(), r.value());
        }
        Check.equal(want, got, "word counts");
    }
}
