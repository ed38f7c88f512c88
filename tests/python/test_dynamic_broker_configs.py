"""Dynamic broker configs (issue 23) with real clients against a real weir process:
confluent-kafka's AdminClient changes and describes BROKER resource "1" (this node) with
IncrementalAlterConfigs / DescribeConfigs; the cluster-wide default (BROKER resource "", which
neither librdkafka nor kafka-python can name) goes through `weir configs --broker-defaults`;
kafka-python's KafkaAdminClient describes with synonyms and uses the legacy AlterConfigs. Lowering `log.segment.bytes` makes new segments roll at the new
size without a restart (counted as .log files in the partition dir); sources and synonyms are
reported as Kafka reports them; read-only and unknown names are refused and nothing of a
refused request applies; `validate_only` changes nothing; the values survive a restart (they
are in the metadata log)."""
import json
import subprocess
import time

import pytest
from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import (AdminClient, AlterConfigOpType, ConfigEntry,
                                   ConfigResource, ConfigSource, NewTopic, ResourceType)

from conftest import Broker

SEGMENT = 1048576
VALUE = b"v" * 10_000


_ADMINS = {}


def admin(broker):
    """One AdminClient per broker (a client dropped while its futures run fails them)."""
    if broker.bootstrap not in _ADMINS:
        _ADMINS[broker.bootstrap] = AdminClient({"bootstrap.servers": broker.bootstrap})
    return _ADMINS[broker.bootstrap]


def describe(broker, rtype, name):
    res = ConfigResource(rtype, name)
    fut = admin(broker).describe_configs([res], request_timeout=15)[res]
    return fut.result(timeout=20)


def alter(broker, name, ops, validate_only=False):
    """IncrementalAlterConfigs of BROKER resource `name`; ops = [(key, op, value)]."""
    res = ConfigResource(ResourceType.BROKER, name, incremental_configs=[
        ConfigEntry(k, v, incremental_operation=op) for k, op, v in ops])
    futs = admin(broker).incremental_alter_configs([res], request_timeout=15,
                                                   validate_only=validate_only)
    return futs[res].result(timeout=20)


def refused(broker, name, ops):
    with pytest.raises(KafkaException) as e:
        alter(broker, name, ops)
    return e.value.args[0]


def weir_configs(broker, *args):
    out = subprocess.run([broker.bin, "configs", "-b", broker.bootstrap, *args],
                         capture_output=True, text=True, timeout=30)
    return out


def defaults(broker):
    out = weir_configs(broker, "describe", "--broker-defaults", "--json")
    assert out.returncode == 0, out.stderr
    return {e["name"]: (e["value"], e["source"]) for e in json.loads(out.stdout)}


def produce(broker, topic, n):
    p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5,
                  "batch.size": 100_000})
    for _ in range(n):
        p.produce(topic, VALUE)
        p.poll(0)
    assert p.flush(30) == 0


def segments(broker, topic):
    return sorted((broker.data_dir / "logs" / f"{topic}-0").glob("*.log"))


def wait_for(cond, what, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def node(tmp_path):
    b = Broker(tmp_path, extra=["--http-listener", "none"])
    b.start()
    yield b
    b.stop()


def test_confluent_dynamic_broker_configs_apply_live_and_survive_a_restart(node):
    topic = "dyn"
    admin(node).create_topics([NewTopic(topic, 1, 1)])[topic].result(timeout=20)
    before = describe(node, ResourceType.BROKER, "1")
    assert before["log.segment.bytes"].source == ConfigSource.DEFAULT_CONFIG.value
    assert not before["log.segment.bytes"].is_read_only
    assert before["node.id"].is_read_only

    # The cluster-wide default lowers log.segment.bytes: new segments roll at 1 MiB at once.
    assert defaults(node) == {}
    out = weir_configs(node, "alter", "--broker-defaults", "--set",
                       f"log.segment.bytes={SEGMENT}")
    assert out.returncode == 0, out.stderr
    assert defaults(node) == {"log.segment.bytes": (str(SEGMENT),
                                                    "DYNAMIC_DEFAULT_BROKER_CONFIG")}
    now = describe(node, ResourceType.BROKER, "1")
    e = now["log.segment.bytes"]
    assert (e.value, e.source) == (str(SEGMENT), ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG.value)
    assert "log.segment.bytes" in e.synonyms, e.synonyms
    t = describe(node, ResourceType.TOPIC, topic)["segment.bytes"]
    assert (t.value, t.source) == (str(SEGMENT), ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG.value)

    produce(node, topic, 350)  # ~3.5 MB
    wait_for(lambda: len(segments(node, topic)) >= 3, "segments of 1 MiB")
    assert len(segments(node, topic)) <= 5, segments(node, topic)

    # Per-broker beats the cluster default; a topic shows where its default came from.
    alter(node, "1", [("log.retention.ms", AlterConfigOpType.SET, "3600000"),
                      ("log.cleanup.policy", AlterConfigOpType.APPEND, "compact")])
    t = describe(node, ResourceType.TOPIC, topic)
    assert (t["retention.ms"].value, t["retention.ms"].source) == \
        ("3600000", ConfigSource.DYNAMIC_BROKER_CONFIG.value)
    assert t["cleanup.policy"].value == "compact,delete"
    alter(node, "1", [("log.cleanup.policy", AlterConfigOpType.SUBTRACT, "compact")])
    assert describe(node, ResourceType.TOPIC, topic)["cleanup.policy"].value == "delete"

    # Read-only and unknown names are refused, and nothing of the request applies.
    err = refused(node, "1", [("log.retention.bytes", AlterConfigOpType.SET, "1000"),
                              ("node.id", AlterConfigOpType.SET, "2")])
    assert err.name() == "INVALID_REQUEST", err
    assert "node.id" in err.str()
    err = refused(node, "1", [("no.such.config", AlterConfigOpType.SET, "1")])
    assert err.name() == "INVALID_CONFIG", err
    err = refused(node, "1", [("log.segment.bytes", AlterConfigOpType.SET, "nope")])
    assert err.name() == "INVALID_CONFIG", err
    out = weir_configs(node, "alter", "--broker-defaults", "--set", "process.roles=broker")
    assert out.returncode != 0 and "INVALID_REQUEST" in out.stderr, out.stderr
    out = weir_configs(node, "alter", "--broker-defaults", "--set", "no.such=1")
    assert out.returncode != 0 and "INVALID_CONFIG" in out.stderr, out.stderr
    # validate_only changes nothing.
    alter(node, "1", [("log.retention.bytes", AlterConfigOpType.SET, "2000")], validate_only=True)
    after = describe(node, ResourceType.BROKER, "1")
    assert after["log.retention.bytes"].source == ConfigSource.DEFAULT_CONFIG.value
    assert after["log.retention.bytes"].value == "-1"

    # The values are in the metadata log: a restart keeps them, and they still apply.
    node.stop()
    node.start()
    again = describe(node, ResourceType.BROKER, "1")
    assert (again["log.segment.bytes"].value, again["log.segment.bytes"].source) == \
        (str(SEGMENT), ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG.value)
    assert (again["log.retention.ms"].value, again["log.retention.ms"].source) == \
        ("3600000", ConfigSource.DYNAMIC_BROKER_CONFIG.value)
    count = len(segments(node, topic))
    produce(node, topic, 250)
    wait_for(lambda: len(segments(node, topic)) >= count + 2, "more 1 MiB segments")

    # Deleting the default puts Kafka's default back.
    out = weir_configs(node, "alter", "--broker-defaults", "--delete", "log.segment.bytes")
    assert out.returncode == 0, out.stderr
    assert defaults(node) == {}
    e = describe(node, ResourceType.BROKER, "1")["log.segment.bytes"]
    assert (e.value, e.source) == ("1073741824", ConfigSource.DEFAULT_CONFIG.value)


def test_kafka_python_describes_synonyms_and_alters_a_broker(node):
    from kafka.admin import ConfigResource as KConfigResource
    from kafka.admin import ConfigResourceType, KafkaAdminClient, NewTopic

    client = KafkaAdminClient(bootstrap_servers=node.bootstrap, request_timeout_ms=15000)
    try:
        broker = KConfigResource(ConfigResourceType.BROKER, "1")
        allc = client.describe_configs([broker], include_synonyms=True, config_filter="all")
        mine = allc["broker"]["1"]
        assert mine["log.retention.hours"]["value"] == "168"
        assert mine["log.retention.hours"]["config_source"] == "DEFAULT_CONFIG"
        assert mine["node.id"]["read_only"]

        # Legacy AlterConfigs (replaces the broker's dynamic set).
        result = client.alter_configs(
            [KConfigResource(ConfigResourceType.BROKER, "1",
                             configs={"log.retention.minutes": "30",
                                      "message.max.bytes": "2000000"})],
            incremental=False)
        assert result["broker"]["1"] == "OK", result
        modified = client.describe_configs([KConfigResource(ConfigResourceType.BROKER, "1")],
                                           include_synonyms=True)["broker"]["1"]
        assert modified["log.retention.minutes"]["value"] == "30"
        assert modified["log.retention.minutes"]["config_source"] == "DYNAMIC_BROKER_CONFIG"
        # The chain log.retention.ms > minutes > hours: hours' synonyms name minutes first.
        hours = client.describe_configs(
            [KConfigResource(ConfigResourceType.BROKER, "1", ["log.retention.hours"])],
            include_synonyms=True, config_filter="all")["broker"]["1"]["log.retention.hours"]
        names = [(s["name"], s["source"]) for s in hours["synonyms"]]
        assert names == [("log.retention.minutes", "DYNAMIC_BROKER_CONFIG"),
                         ("log.retention.hours", "DEFAULT_CONFIG")], names
        # A topic's defaults now come from there (in the topic's unit).
        client.create_topics([NewTopic("kp", 1, 1)])
        t = client.describe_configs([KConfigResource(ConfigResourceType.TOPIC, "kp")],
                                    include_synonyms=True, config_filter="all")["topic"]["kp"]
        assert t["retention.ms"]["value"] == "1800000"
        assert t["retention.ms"]["config_source"] == "DYNAMIC_BROKER_CONFIG"
        assert t["max.message.bytes"]["value"] == "2000000"

        # A read-only config is refused with its name.
        bad = client.alter_configs(
            [KConfigResource(ConfigResourceType.BROKER, "1", configs={"log.dirs": "/x"})],
            incremental=False, raise_on_unknown=False)
        assert "InvalidRequest" in bad["broker"]["1"] and "log.dirs" in bad["broker"]["1"], bad
    finally:
        client.close()
