"""kafka-python (pure Python client) against a real weir process."""
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, NewPartitions, NewTopic
from kafka.protocol.consumer import FetchRequest
from kafka.protocol.producer import ProduceRequest


def test_produce_consume(broker):
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    admin.create_topics([NewTopic("kp", 2, 1)])
    p = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")  # kafka-python 3.x: idempotent by default
    # Weir advertises Kafka 4.4's versions (issue #25): kafka-python 3.0 infers the newest
    # generation it knows, 4.3 (DescribeLogDirs v5; Produce v13 is 4.1, ListOffsets v11 4.2),
    # and so produces by topic id (Produce v13) and fetches with Fetch v18 below.
    assert p.config["api_version"] >= (4, 3), p.config["api_version"]
    node = admin.describe_cluster()["brokers"][0]["broker_id"]
    versions = admin.get_broker_version_data(node)
    assert versions.broker_version >= (4, 3), versions.broker_version
    assert versions.api_version(ProduceRequest) == 13
    assert versions.api_version(FetchRequest) == 18
    futures = [p.send("kp", key=f"k{i}".encode(), value=f"v{i}".encode()) for i in range(500)]
    p.flush(30)
    metas = [f.get(timeout=30) for f in futures]
    assert len({(m.partition, m.offset) for m in metas}) == 500
    c = KafkaConsumer(bootstrap_servers=broker.bootstrap, enable_auto_commit=False,
                      consumer_timeout_ms=5000, auto_offset_reset="earliest")
    c.assign([TopicPartition("kp", 0), TopicPartition("kp", 1)])
    c.seek_to_beginning()
    got = [m for m in c]
    assert len(got) == 500
    assert sorted(m.value for m in got) == sorted(f"v{i}".encode() for i in range(500))
    for part in (0, 1):
        offsets = [m.offset for m in got if m.partition == part]
        assert offsets == list(range(len(offsets)))


def test_admin_round_trip(broker):
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    admin.create_topics([NewTopic("kpa", 1, 1, topic_configs={"retention.ms": "3600000"})])
    res = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, "kpa")])
    text = str(res)
    assert "3600000" in text
    admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, "kpa",
                                        configs={"retention.ms": "86400000"})])
    text = str(admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, "kpa")]))
    assert "86400000" in text
    admin.create_partitions({"kpa": NewPartitions(total_count=2)})
    p = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")  # kafka-python 3.x: idempotent by default
    for i in range(20):
        p.send("kpa", value=b"x", partition=i % 2)
    p.flush(30)
    lows = admin.delete_records({TopicPartition("kpa", 0): 4})
    assert "4" in str(lows)
    admin.delete_topics(["kpa"])
    assert "kpa" not in admin.list_topics()
