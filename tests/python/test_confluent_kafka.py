"""confluent-kafka (librdkafka) against a real weir process."""
import time

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import (AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource,
                                   NewPartitions, NewTopic)


def consume(bootstrap, topic, partitions, n, timeout=30):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused", "enable.auto.commit": False,
                  "auto.offset.reset": "earliest"})
    c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    out, deadline = [], time.time() + timeout
    while len(out) < n and time.time() < deadline:
        m = c.poll(0.5)
        if m is None:
            continue
        assert m.error() is None, m.error()
        out.append(m)
    c.close()
    return out


@pytest.mark.parametrize("codec", ["none", "gzip", "snappy", "lz4", "zstd"])
def test_produce_consume_every_codec(broker, codec):
    topic = f"codec-{codec}"
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic(topic, 2, 1)])[topic].result(10)
    p = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "compression.type": codec,
                  "linger.ms": 5})
    errors = []
    for i in range(2000):
        p.produce(topic, key=f"k{i % 50}".encode(), value=f"value-{i}".encode() * 3,
                  on_delivery=lambda err, msg: err and errors.append(err))
    assert p.flush(30) == 0
    assert errors == []
    got = consume(broker.bootstrap, topic, 2, 2000)
    assert len(got) == 2000
    seqs = sorted(int(m.value().decode().split("-")[1].replace("value", "")) for m in got)
    assert seqs == list(range(2000))
    for part in (0, 1):
        offsets = [m.offset() for m in got if m.partition() == part]
        assert offsets == list(range(len(offsets)))


def test_admin_round_trip(broker):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic("adm", 1, 1, config={"retention.ms": "3600000",
                                                        "cleanup.policy": "delete"})])["adm"].result(10)
    # a bad topic name gets INVALID_TOPIC_EXCEPTION
    with pytest.raises(Exception) as bad:
        admin.create_topics([NewTopic("bad name!", 1, 1)])["bad name!"].result(10)
    assert "INVALID_TOPIC_EXCEPTION" in str(bad.value) or "illegal" in str(bad.value)

    res = ConfigResource(ConfigResource.Type.TOPIC, "adm")
    cfg = admin.describe_configs([res])[res].result(10)
    assert cfg["retention.ms"].value == "3600000"
    assert cfg["retention.ms"].source == 1  # DYNAMIC_TOPIC_CONFIG
    assert cfg["segment.bytes"].value == "1073741824"

    res2 = ConfigResource(ConfigResource.Type.TOPIC, "adm", incremental_configs=[
        ConfigEntry("retention.ms", "86400000", incremental_operation=AlterConfigOpType.SET)])
    admin.incremental_alter_configs([res2])[res2].result(10)
    cfg = admin.describe_configs([res])[res].result(10)
    assert cfg["retention.ms"].value == "86400000"

    admin.create_partitions([NewPartitions("adm", 3)])["adm"].result(10)
    p = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all"})
    for i in range(30):
        p.produce("adm", value=f"v{i}".encode(), partition=i % 3)
    assert p.flush(30) == 0

    res = admin.delete_records([TopicPartition("adm", 2, 5)])
    low = list(res.values())[0].result(10)
    assert low.low_watermark == 5
    got = consume(broker.bootstrap, "adm", 3, 25, timeout=15)
    assert len(got) == 25  # 10 + 10 + (10 - 5)

    admin.delete_topics(["adm"])["adm"].result(10)
    md = admin.list_topics(timeout=10)
    assert "adm" not in md.topics


def test_restart_keeps_data(broker):
    p = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all"})
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic("keep", 1, 1)])["keep"].result(10)
    for i in range(100):
        p.produce("keep", value=f"{i}".encode())
    assert p.flush(30) == 0
    broker.stop()
    broker.start()
    got = consume(broker.bootstrap, "keep", 1, 100)
    assert [int(m.value()) for m in got] == list(range(100))
