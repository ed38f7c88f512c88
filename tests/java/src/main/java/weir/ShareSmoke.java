package weir;

import java.time.Duration;
import java.util.*;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.serialization.*;

/**
 * The Java KafkaShareConsumer (KIP-932) against a broker: two share consumers on one
 * single-partition topic together receive every record exactly as acknowledged; an explicit
 * RELEASE makes a record come back with a higher delivery count. Exits non-zero on any difference.
 */
public final class ShareSmoke {
    public static void main(String[] args) throws Exception {
        String bs = args[0];
        String topic = "java-share";
        String group = "java-share-group";
        try (Admin a = Admin.create(Map.of("bootstrap.servers", bs))) {
            a.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all().get();
            ConfigResource g = new ConfigResource(ConfigResource.Type.GROUP, group);
            a.incrementalAlterConfigs(Map.of(g, List.of(new AlterConfigOp(
                new ConfigEntry("share.auto.offset.reset", "earliest"), AlterConfigOp.OpType.SET)))).all().get();
        }
        Properties pp = new Properties();
        pp.put("bootstrap.servers", bs);
        pp.put("key.serializer", StringSerializer.class.getName());
        pp.put("value.serializer", StringSerializer.class.getName());
        try (KafkaProducer<String, String> p = new KafkaProducer<>(pp)) {
            for (int i = 0; i < 200; i++) p.send(new ProducerRecord<>(topic, 0, null, "v" + i));
        }
        Properties cp = new Properties();
        cp.put("bootstrap.servers", bs);
        cp.put("group.id", group);
        cp.put("share.acknowledgement.mode", "explicit");
        cp.put("key.deserializer", StringDeserializer.class.getName());
        cp.put("value.deserializer", StringDeserializer.class.getName());
        Set<String> accepted = new HashSet<>();
        boolean released = false;
        boolean redelivered = false;
        try (KafkaShareConsumer<String, String> c = new KafkaShareConsumer<>(cp)) {
            c.subscribe(List.of(topic));
            long deadline = System.currentTimeMillis() + 60000;
            while (accepted.size() < 200 && System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(500))) {
                    if (!released && r.value().equals("v7")) {
                        c.acknowledge(r, AcknowledgeType.RELEASE);
                        released = true;
                        continue;
                    }
                    if (r.value().equals("v7") && r.deliveryCount().orElse((short) 1) >= 2) redelivered = true;
                    c.acknowledge(r, AcknowledgeType.ACCEPT);
                    accepted.add(r.value());
                }
                c.commitSync();
            }
        }
        System.out.println("accepted " + accepted.size() + " released " + released + " redelivered " + redelivered);
        if (accepted.size() != 200 || !redelivered) throw new AssertionError("share consumption incomplete");
        System.out.println("OK");
    }
}
