"""Client quotas (issue 23, point 2) with real clients against a real weir process:
`producer_byte_rate=1048576` is set for client-id `slow` through AlterClientQuotas (the
`weir quotas alter` CLI: neither confluent-kafka nor kafka-python has the quota admin calls);
then a `slow` producer and a `fast` producer (no quota) produce as fast as they can at the same
time. Once the slow one is first throttled it is held within ±20 % of 1 MiB/s over 10 s, the fast one is not slowed (at
least 3× the limit), and the slow one's client sees `throttle_time_ms` (librdkafka's
throttle_cb). The quota is also described back, and bad keys / values are refused.

The broker runs with `quota.window.num=2` (Kafka's default is 11 windows of 1 s). Weir measures
rates as Kafka does: a new rate is divided by at least `num − 1` windows, so a client starting at
full speed is admitted a burst of about `(num − 1) × quota` before its first throttle, and when a
window holding a burst expires the client may send that much again. With 11 windows a cold start
sends ~10 s' worth at once and is then held back until it expires, so any 10-second measurement
is dominated by where that burst falls; with 2 windows the bursts are one second's worth and the
10-second average is meaningful. Batches of 200 kB keep each request's overshoot small."""
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from conftest import Broker

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import kafka_peer  # noqa: E402

LIMIT = 1048576
RUN_S = 10.0
VALUE = b"x" * 10_000


def weir(broker, *args):
    return subprocess.run([broker.bin, "quotas", "-b", broker.bootstrap, *args],
                          capture_output=True, text=True, timeout=30)


def produce_for(broker, client_id, topic, seconds, out, warm_up=False):
    """Produce `VALUE`s as fast as the client can for `seconds` (after, with `warm_up`, its
    first throttle); `out` gets the bytes acknowledged within that time and the throttle times
    the client was told."""
    throttles = []
    acked = [0]
    p = Producer({"bootstrap.servers": broker.bootstrap, "client.id": client_id, "acks": 1,
                  "linger.ms": 5, "batch.size": 200_000, "queue.buffering.max.kbytes": 4096,
                  "throttle_cb": lambda ev: throttles.append(ev.throttle_time)})
    window = {"start": None, "end": None}

    def delivered(err, msg):
        now = time.monotonic()
        if err is None and window["start"] is not None and window["start"] <= now <= window["end"]:
            acked[0] += len(msg.value())

    def begin():
        window["start"] = time.monotonic()
        window["end"] = window["start"] + seconds

    if not warm_up:
        begin()
    give_up = time.monotonic() + 3 * seconds
    while time.monotonic() < (window["end"] or give_up):
        if window["start"] is None and throttles:
            begin()
        try:
            p.produce(topic, value=VALUE, on_delivery=delivered)
            p.poll(0)
        except BufferError:
            p.poll(0.05)  # returns as soon as a delivery frees queue space
    # Deliveries after the window are not counted; let the rest finish (bounded).
    p.flush(30)
    out.update(acked=acked[0], rate=acked[0] / seconds, throttles=throttles,
               measured=window["start"] is not None)


@pytest.fixture
def quota_broker(tmp_path):
    b = Broker(tmp_path, ["--quota-window-num", "2"])
    b.start()
    yield b
    b.stop()


def test_producer_byte_rate_is_enforced_per_client_id(quota_broker):
    broker = quota_broker
    r = weir(broker, "alter", "--entity-type", "clients", "--entity-name", "slow",
             "--add-config", f"producer_byte_rate={LIMIT}")
    assert r.returncode == 0, r.stderr
    d = weir(broker, "describe", "--entity-type", "clients", "--entity-name", "slow", "--json")
    assert d.returncode == 0, d.stderr
    assert json.loads(d.stdout) == [{"entity": {"client-id": "slow"},
                                     "values": {"producer_byte_rate": float(LIMIT)}}]
    # Unknown keys and bad values are refused with a message; nothing is applied.
    bad = weir(broker, "alter", "--entity-type", "clients", "--entity-name", "slow",
               "--add-config", "producer_byte_rate=2000,bogus_rate=1")
    assert bad.returncode != 0 and "INVALID_REQUEST" in bad.stderr and "bogus_rate" in bad.stderr
    bad = weir(broker, "alter", "--entity-type", "clients", "--entity-name", "slow",
               "--add-config", "producer_byte_rate=0")
    assert bad.returncode != 0 and "positive" in bad.stderr
    assert json.loads(weir(broker, "describe", "--json").stdout)[0]["values"] == {
        "producer_byte_rate": float(LIMIT)}

    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    for t in ("q-slow", "q-fast"):
        admin.create_topics([NewTopic(t, 1, 1)])[t].result(timeout=30)

    slow, fast = {}, {}
    threads = [threading.Thread(target=produce_for, args=(broker, "slow", "q-slow", RUN_S, slow, True)),
               threading.Thread(target=produce_for, args=(broker, "fast", "q-fast", RUN_S, fast))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=RUN_S + 60)
    assert not any(t.is_alive() for t in threads), "producers did not finish"
    assert slow["measured"], "the slow client was never throttled"
    print(f"slow: {slow['rate'] / LIMIT:.2f} MiB/s, throttled {len(slow['throttles'])} times; "
          f"fast: {fast['rate'] / LIMIT:.2f} MiB/s")
    assert 0.8 * LIMIT <= slow["rate"] <= 1.2 * LIMIT, slow["rate"] / LIMIT
    assert fast["rate"] >= 3 * LIMIT, fast["rate"] / LIMIT
    assert slow["throttles"] and max(slow["throttles"]) > 0, "the slow client saw no throttle"
    assert not any(fast["throttles"]), "the unlimited client was throttled"


@pytest.fixture(scope="module")
def libs():
    try:
        return kafka_peer.kafka_libs()
    except (RuntimeError, subprocess.TimeoutExpired, FileNotFoundError) as e:
        pytest.skip(f"Kafka {kafka_peer.KAFKA_VERSION} jars unavailable: {e}")


def test_kafka_configs_tool_alters_and_describes_quotas(broker, libs):
    """Kafka 4.4's own kafka-configs (ConfigCommand: the Java AdminClient's alterClientQuotas /
    describeClientQuotas) against Weir: named and default entities, delete, describe all."""
    def kc(*args):
        r = kafka_peer.run_tool("kafka-configs", "--bootstrap-server", broker.bootstrap, *args,
                                libs=libs, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr[-3000:]
        return r.stdout

    kc("--alter", "--entity-type", "clients", "--entity-name", "slow",
       "--add-config", "producer_byte_rate=1048576,consumer_byte_rate=2000")
    kc("--alter", "--entity-type", "users", "--entity-name", "alice", "--entity-type", "clients",
       "--entity-default", "--add-config", "request_percentage=25")
    out = kc("--describe", "--entity-type", "clients", "--entity-name", "slow")
    assert "Quota configs for client-id 'slow' are consumer_byte_rate=2000.0, " \
           "producer_byte_rate=1048576.0" in out, out
    out = kc("--describe", "--entity-type", "users", "--entity-name", "alice",
             "--entity-type", "clients", "--entity-default")
    assert "user-principal 'alice', the default client-id are request_percentage=25.0" in out, out
    kc("--alter", "--entity-type", "clients", "--entity-name", "slow",
       "--delete-config", "consumer_byte_rate")
    out = kc("--describe", "--entity-type", "clients", "--entity-name", "slow")
    assert "are producer_byte_rate=1048576.0" in out and "consumer_byte_rate" not in out, out
    # The same in `weir quotas describe`.
    listed = json.loads(weir(broker, "describe", "--json").stdout)
    assert {"entity": {"user": "alice", "client-id": None},
            "values": {"request_percentage": 25.0}} in listed, listed
