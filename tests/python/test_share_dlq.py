"""Dead-letter topics for share groups (KIP-1191) with confluent-kafka's ShareConsumer against a
real weir process, as Kafka 4.4 does them: the copy and its `__dlq.errors.*` headers; a DLQ
name in the `__` namespace refused with INVALID_CONFIG; a name without the broker's
`errors.deadletterqueue.topic.name.prefix`, a hand-made topic without
`errors.deadletterqueue.group.enable=true` and a missing topic without auto-creation each get
the record archived without a copy (an error in the broker's log, nothing in the topic, and the
record not copied later once the DLQ is usable); with
`errors.deadletterqueue.auto.create.topics.enable=true` the broker creates the DLQ topic."""
import time

import pytest
from confluent_kafka import AcknowledgeType, Consumer, KafkaError, KafkaException
from confluent_kafka import TopicPartition as CTP
from confluent_kafka.admin import (AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource,
                                   ResourceType)

from conftest import Broker
from test_share_groups import LOW_LOCK, create, group_configs, produce, share_consumer, poll_until

ENABLE = "errors.deadletterqueue.group.enable"
REFUSED = "dead letters archived without a DLQ copy"


@pytest.fixture
def sbroker(tmp_path):
    b = Broker(tmp_path, extra=LOW_LOCK)
    b.start()
    yield b
    b.stop()


def ack_offsets(bs, group, topic, reject, expect):
    """One explicit share consumer: REJECT the offsets in `reject`, ACCEPT the others, until
    every offset in `expect` was delivered; returns (offset, value, delivery count) seen."""
    c = share_consumer(bs, group, topic, explicit=True)

    def ack(m):
        c.acknowledge(m, AcknowledgeType.REJECT if m.offset() in reject else AcknowledgeType.ACCEPT)

    got = poll_until(c, lambda g: expect <= {o for o, _, _ in g}, on_msg=ack)
    c.commit_sync()
    c.close()
    assert expect <= {o for o, _, _ in got}, got
    return got


def wait_until(cond, timeout=30.0, what="condition"):
    deadline = time.time() + timeout
    while not cond():
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def wait_for_log(broker, *needles):
    """Wait for a line of the broker's output holding every one of `needles`."""
    def found():
        return any(all(n in line for n in needles)
                   for line in broker.out.read_text(errors="replace").splitlines())
    wait_until(found, what=f"a broker log line with {needles}")


def topics(bs):
    return AdminClient({"bootstrap.servers": bs}).list_topics(timeout=10).topics


def topic_configs(bs, topic):
    res = ConfigResource(ResourceType.TOPIC, topic)
    admin = AdminClient({"bootstrap.servers": bs})
    return {k: e.value for k, e in admin.describe_configs([res])[res].result(10).items()}


def dlq_records(bs, topic):
    """Every record of `topic`, all partitions, up to their high watermarks."""
    c = Consumer({"bootstrap.servers": bs, "group.id": "dlq-reader", "enable.auto.commit": False})
    parts = topics(bs)[topic].partitions
    want = sum(c.get_watermark_offsets(CTP(topic, p), timeout=10)[1] for p in parts)
    c.assign([CTP(topic, p, 0) for p in parts])
    out = []
    deadline = time.time() + 20
    while len(out) < want and time.time() < deadline:
        m = c.poll(0.5)
        if m is not None and not m.error():
            out.append(m)
    c.close()
    assert len(out) == want, (want, out)
    return out


def headers(m):
    return {k: v.decode() for k, v in (m.headers() or [])}


def wait_for_copies(bs, topic, n):
    """Wait until `topic` holds `n` records; return them."""
    wait_until(lambda: topic in topics(bs) and len(dlq_records(bs, topic)) >= n,
               what=f"{n} records in {topic}")
    return dlq_records(bs, topic)


def test_dead_letter_topic(sbroker):
    bs = sbroker.bootstrap
    create(bs, "src")
    create(bs, "dlq.src", config={ENABLE: "true"})
    group_configs(bs, "g-dlq", share_auto_offset_reset="earliest",
                  share_delivery_count_limit=2,
                  errors_deadletterqueue_topic_name="dlq.src",
                  errors_deadletterqueue_copy_record_enable="true")
    produce(bs, "src", 4)
    c = share_consumer(bs, "g-dlq", "src", explicit=True)

    def ack(m):
        kind = {1: AcknowledgeType.REJECT, 2: AcknowledgeType.RELEASE}.get(
            m.offset(), AcknowledgeType.ACCEPT)
        c.acknowledge(m, kind)

    got = poll_until(c, lambda g: [o for o, _, _ in g].count(2) >= 2, on_msg=ack)
    c.commit_sync()
    assert poll_until(c, lambda g: False, timeout=3) == []
    c.close()
    assert [o for o, _, _ in got].count(1) == 1
    dead = wait_for_copies(bs, "dlq.src", 2)
    assert len(dead) == 2, dead
    by_offset = {}
    for m in dead:
        h = headers(m)
        assert h["__dlq.errors.topic"] == "src"
        assert h["__dlq.errors.partition"] == "0"
        assert h["__dlq.errors.group"] == "g-dlq"
        assert "__dlq.errors.message" in h
        by_offset[int(h["__dlq.errors.offset"])] = (m.value(), h["__dlq.errors.delivery.count"])
    assert by_offset == {1: (b"v1", "1"), 2: (b"v2", "2")}, by_offset


def assert_archived_then_copied(broker, group, src, dlq, reason, make_usable):
    """Offset 0 of `src` is rejected while `dlq` is unusable for `reason`: archived without a
    copy. Once `make_usable()` ran, a rejected offset 2 is copied — and only it: had offset 0
    stayed pending it would be copied first (the copier takes pending records in offset
    order, each copy durable before the next)."""
    bs = broker.bootstrap
    produce(bs, src, 2)
    ack_offsets(bs, group, src, reject={0}, expect={0, 1})
    wait_for_log(broker, REFUSED, f"group={group}", reason)
    assert dlq not in topics(bs) or dlq_records(bs, dlq) == []
    make_usable()
    produce(bs, src, 1, prefix="w")
    ack_offsets(bs, group, src, reject={2}, expect={2})
    copies = wait_for_copies(bs, dlq, 1)
    assert [int(headers(m)["__dlq.errors.offset"]) for m in copies] == [2], copies


def test_dlq_name_rules(sbroker):
    bs = sbroker.bootstrap
    create(bs, "names")
    # The `__` namespace is refused when the group config is set (Kafka's GroupConfig.validate).
    with pytest.raises(KafkaException) as e:
        group_configs(bs, "g-names", errors_deadletterqueue_topic_name="__names")
    assert e.value.args[0].code() == KafkaError.INVALID_CONFIG
    assert "must not start with '__'" in e.value.args[0].str()
    # A name without the broker's `dlq.` prefix is accepted there: Kafka 4.4 checks the prefix
    # when it writes a dead letter, and archives the record without a copy.
    create(bs, "names-dlq", config={ENABLE: "true"})
    group_configs(bs, "g-names", share_auto_offset_reset="earliest",
                  errors_deadletterqueue_topic_name="names-dlq")
    create(bs, "dlq.names", config={ENABLE: "true"})

    def usable():
        group_configs(bs, "g-names", share_auto_offset_reset="earliest",
                      errors_deadletterqueue_topic_name="dlq.names")
    assert_archived_then_copied(sbroker, "g-names", "names", "dlq.names",
                                "does not start with the DLQ topic prefix", usable)
    assert dlq_records(bs, "names-dlq") == []


def test_hand_made_dlq_topic_needs_group_enable(sbroker):
    bs = sbroker.bootstrap
    create(bs, "plain")
    create(bs, "dlq.plain")
    assert topic_configs(bs, "dlq.plain")[ENABLE] == "false"
    group_configs(bs, "g-plain", share_auto_offset_reset="earliest",
                  errors_deadletterqueue_topic_name="dlq.plain")

    def usable():
        res = ConfigResource(ResourceType.TOPIC, "dlq.plain", incremental_configs=[
            ConfigEntry(ENABLE, "true", incremental_operation=AlterConfigOpType.SET)])
        admin = AdminClient({"bootstrap.servers": bs})
        for f in admin.incremental_alter_configs([res]).values():
            f.result()
        assert topic_configs(bs, "dlq.plain")[ENABLE] == "true"
    assert_archived_then_copied(sbroker, "g-plain", "plain", "dlq.plain",
                                f"does not have {ENABLE}=true", usable)


def test_missing_dlq_topic_without_auto_create(sbroker):
    bs = sbroker.bootstrap
    create(bs, "lost")
    group_configs(bs, "g-lost", share_auto_offset_reset="earliest",
                  errors_deadletterqueue_topic_name="dlq.lost")

    def usable():
        assert "dlq.lost" not in topics(bs)
        create(bs, "dlq.lost", config={ENABLE: "true"})
    assert_archived_then_copied(sbroker, "g-lost", "lost", "dlq.lost",
                                "does not exist", usable)


def test_auto_created_dlq_topic(tmp_path):
    # Topic auto-creation for clients is off: only the DLQ copier creates topics here.
    b = Broker(tmp_path, extra=LOW_LOCK + [
        "--errors-deadletterqueue-auto-create-topics-enable", "true",
        "--auto-create-topics-enable", "false", "--num-partitions", "3"])
    b.start()
    try:
        bs = b.bootstrap
        create(bs, "auto", partitions=1)
        group_configs(bs, "g-auto", share_auto_offset_reset="earliest",
                      errors_deadletterqueue_topic_name="dlq.auto",
                      errors_deadletterqueue_copy_record_enable="true")
        assert "dlq.auto" not in topics(bs)
        produce(bs, "auto", 2)
        ack_offsets(bs, "g-auto", "auto", reject={1}, expect={0, 1})
        copies = wait_for_copies(bs, "dlq.auto", 1)
        # Created as Kafka's ShareGroupDLQStateManager asks: the broker's num.partitions and
        # default.replication.factor, errors.deadletterqueue.group.enable=true, CreateTime.
        assert len(topics(bs)["dlq.auto"].partitions) == 3
        cfg = topic_configs(bs, "dlq.auto")
        assert cfg[ENABLE] == "true"
        assert cfg["message.timestamp.type"] == "CreateTime"
        assert len(copies) == 1, copies
        h = headers(copies[0])
        assert (h["__dlq.errors.topic"], h["__dlq.errors.partition"], h["__dlq.errors.offset"],
                h["__dlq.errors.group"], h["__dlq.errors.delivery.count"]) == (
                    "auto", "0", "1", "g-auto", "1")
        assert copies[0].value() == b"v1" and copies[0].partition() == 0
    finally:
        b.stop()
