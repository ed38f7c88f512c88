"""Share groups (KIP-932) with confluent-kafka's ShareConsumer against a real weir process:
records shared by several consumers, explicit accept / release / reject, redelivery after a
lock expires, the delivery-count limit, where a new group starts (share.auto.offset.reset
through IncrementalAlterConfigs on the GROUP resource), and a kill -9 restart of the broker.
Dead-letter topics (KIP-1191) are in test_share_dlq.py."""
import subprocess
import sys
import threading
import time

import pytest
from confluent_kafka import (AcknowledgeType, KafkaError, KafkaException, Producer,
                             ShareConsumer)
from confluent_kafka.admin import (AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource,
                                   NewTopic, ResourceType)

from conftest import Broker

LOW_LOCK = ["--group-share-min-record-lock-duration-ms", "1000"]


@pytest.fixture
def sbroker(tmp_path):
    b = Broker(tmp_path, extra=LOW_LOCK)
    b.start()
    yield b
    b.stop()


def create(bootstrap, topic, partitions=1, config=None):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, partitions, 1, config=config or {})])[topic].result()


def group_configs(bootstrap, group, **configs):
    entries = [ConfigEntry(k.replace("_", "."), str(v),
                           incremental_operation=AlterConfigOpType.SET)
               for k, v in configs.items()]
    res = ConfigResource(ResourceType.GROUP, group, incremental_configs=entries)
    admin = AdminClient({"bootstrap.servers": bootstrap})
    deadline = time.time() + 30
    while True:
        try:
            for f in admin.incremental_alter_configs([res]).values():
                f.result()
            return
        except KafkaException as e:
            # NOT_CONTROLLER / REQUEST_TIMED_OUT are retriable, as the Java admin client does
            retriable = e.args[0].code() in (KafkaError.NOT_CONTROLLER, KafkaError.REQUEST_TIMED_OUT)
            if not retriable or time.time() > deadline:
                raise
            time.sleep(0.3)


def produce(bootstrap, topic, n, prefix="v", one_batch_each=False):
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0 if one_batch_each else 5})
    for i in range(n):
        p.produce(topic, value=f"{prefix}{i}".encode())
        if one_batch_each:
            p.flush()
    p.flush()


def share_consumer(bootstrap, group, topic, explicit=False, extra=None):
    conf = {"bootstrap.servers": bootstrap, "group.id": group, **(extra or {})}
    if explicit:
        conf["share.acknowledgement.mode"] = "explicit"
    c = ShareConsumer(conf)
    c.subscribe([topic])
    return c


def poll_until(c, want, timeout=30.0, on_msg=None):
    """Poll until `want(got)` holds; returns the (offset, value, delivery count) seen."""
    got = []
    deadline = time.time() + timeout
    while time.time() < deadline and not want(got):
        for m in c.poll(0.5):
            if m.error():
                continue
            got.append((m.offset(), m.value(), m.delivery_count()))
            if on_msg:
                on_msg(m)
    return got


def test_consumers_share_one_partition(sbroker):
    bs = sbroker.bootstrap
    create(bs, "shared")
    produce(bs, "shared", 400)
    for n in (2, 3):
        group = f"g-shared-{n}"
        # Small acquisitions (record_limit, 20 per fetch) and consumers that take their time:
        # no consumer can hold the whole partition.
        group_configs(bs, group, share_auto_offset_reset="earliest",
                      share_acquire_mode="record_limit")
        seen = [[] for _ in range(n)]
        stop = threading.Event()

        def run(i):
            c = share_consumer(bs, group, "shared", extra={"max.poll.records": 20})
            while not stop.is_set():
                for m in c.poll(0.3):
                    if not m.error():
                        seen[i].append(m.offset())
                time.sleep(0.2)
            c.close()

        threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        deadline = time.time() + 60
        while time.time() < deadline and len(set(o for s in seen for o in s)) < 400:
            time.sleep(0.2)
        stop.set()
        for t in threads:
            t.join()
        union = set(o for s in seen for o in s)
        assert union == set(range(400)), (n, sorted(set(range(400)) - union)[:20])
        assert all(seen), [len(s) for s in seen]


def test_explicit_accept_release_reject(sbroker):
    bs = sbroker.bootstrap
    create(bs, "acks")
    group_configs(bs, "g-acks", share_auto_offset_reset="earliest")
    produce(bs, "acks", 6)
    c = share_consumer(bs, "g-acks", "acks", explicit=True)

    def ack(m):
        kind = {0: AcknowledgeType.RELEASE, 1: AcknowledgeType.REJECT}.get(
            m.offset(), AcknowledgeType.ACCEPT)
        if m.offset() == 0 and m.delivery_count() > 1:
            kind = AcknowledgeType.ACCEPT
        c.acknowledge(m, kind)

    got = poll_until(c, lambda g: any(o == 0 and d == 2 for o, _, d in g), on_msg=ack)
    c.commit_sync()
    # offset 0 was released and came back with delivery count 2; 1 was rejected: never again.
    assert (0, b"v0", 2) in got, got
    assert [o for o, _, _ in got].count(1) == 1, got
    assert sorted(set(o for o, _, _ in got)) == list(range(6))
    again = poll_until(c, lambda g: False, timeout=3)
    assert again == [], again
    c.close()


CHILD = """
import sys, time
from confluent_kafka import ShareConsumer
c = ShareConsumer({"bootstrap.servers": sys.argv[1], "group.id": sys.argv[2],
                   "share.acknowledgement.mode": "explicit"})
c.subscribe([sys.argv[3]])
n = 0
while n == 0:
    n = len([m for m in c.poll(0.5) if not m.error()])
print(n, flush=True)
time.sleep(600)
"""


def test_unacknowledged_records_are_redelivered_after_the_lock_expires(sbroker):
    bs = sbroker.bootstrap
    create(bs, "locks")
    group_configs(bs, "g-locks", share_auto_offset_reset="earliest",
                  share_record_lock_duration_ms=1000)
    produce(bs, "locks", 5)
    child = subprocess.Popen([sys.executable, "-c", CHILD, bs, "g-locks", "locks"],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert int(child.stdout.readline()) > 0
        child.kill()  # stops without acknowledging
        child.wait()
        c = share_consumer(bs, "g-locks", "locks")
        got = poll_until(c, lambda g: len(set(o for o, _, _ in g)) >= 5, timeout=30)
        assert set(o for o, _, _ in got) == set(range(5)), got
        assert all(d >= 2 for o, _, d in got if o == 0), got
        c.close()
    finally:
        child.kill()


def test_delivery_count_limit_archives(sbroker):
    bs = sbroker.bootstrap
    create(bs, "limit")
    group_configs(bs, "g-limit", share_auto_offset_reset="earliest",
                  share_delivery_count_limit=2)
    produce(bs, "limit", 3)
    c = share_consumer(bs, "g-limit", "limit", explicit=True)

    def ack(m):
        c.acknowledge(m, AcknowledgeType.RELEASE if m.offset() == 0 else AcknowledgeType.ACCEPT)

    got = poll_until(c, lambda g: [o for o, _, _ in g].count(0) >= 2, on_msg=ack)
    c.commit_sync()
    assert [d for o, _, d in got if o == 0] == [1, 2], got
    assert poll_until(c, lambda g: False, timeout=3) == []
    c.close()


def test_auto_offset_reset(sbroker):
    bs = sbroker.bootstrap
    create(bs, "reset")
    produce(bs, "reset", 3, prefix="old")
    group_configs(bs, "g-earliest", share_auto_offset_reset="earliest")
    early = share_consumer(bs, "g-earliest", "reset")
    late = share_consumer(bs, "g-latest", "reset")
    got_early = poll_until(early, lambda g: len(g) >= 3)
    # The default (latest) group starts at the end: only what is produced after it started.
    assert poll_until(late, lambda g: False, timeout=4) == []
    produce(bs, "reset", 2, prefix="new")
    got_late = poll_until(late, lambda g: len(g) >= 2)
    assert [v for _, v, _ in got_early[:3]] == [b"old0", b"old1", b"old2"]
    assert [v for _, v, _ in got_late] == [b"new0", b"new1"]
    early.close()
    late.close()


def test_kill9_restart_keeps_acknowledgements(tmp_path):
    b = Broker(tmp_path, extra=LOW_LOCK)
    b.start()
    try:
        bs = b.bootstrap
        create(bs, "durable")
        group_configs(bs, "g-durable", share_auto_offset_reset="earliest")
        produce(bs, "durable", 10)
        c = share_consumer(bs, "g-durable", "durable", explicit=True)
        got = poll_until(c, lambda g: len(g) >= 10,
                         on_msg=lambda m: m.offset() < 5 and c.acknowledge(m))
        assert len(got) == 10, got
        c.commit_sync()
        b.proc.kill()  # kill -9 with offsets 5..9 acquired and unacknowledged
        b.proc.wait()
        b.start()
        c2 = share_consumer(bs, "g-durable", "durable")
        again = poll_until(c2, lambda g: len(g) >= 5, timeout=60)
        assert sorted(o for o, _, _ in again) == [5, 6, 7, 8, 9], again
        assert poll_until(c2, lambda g: False, timeout=3) == []
        c2.close()
    finally:
        b.stop()


def test_three_node_cluster(tmp_path):
    """Six partitions led by three brokers: share-partition state whose __share_group_state
    partition another broker leads goes there (Read/Write/InitializeShareGroupState), and a
    group resumes where it left off."""
    import signal
    import socket

    from conftest import ROOT, free_cluster_base
    base = free_cluster_base(offsets=(0, 1, 2))  # dev-cluster: + HTTP port
    weir = str(ROOT / "target" / "debug" / "weir")
    proc = subprocess.Popen([weir, "dev-cluster", "--nodes", "3", "--dir", str(tmp_path / "c"),
                             "--base-port", str(base), "--", *LOW_LOCK],
                            stdout=open(tmp_path / "cluster.out", "ab"), stderr=subprocess.STDOUT)
    try:
        bs = ",".join(f"127.0.0.1:{base + 100 * i}" for i in range(3))
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                for i in range(3):
                    socket.create_connection(("127.0.0.1", base + 100 * i), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.2)
        admin = AdminClient({"bootstrap.servers": bs})
        for _ in range(100):
            try:
                admin.create_topics([NewTopic("spread", 6, 3)])["spread"].result()
                break
            except Exception:  # noqa: BLE001 - the cluster is still electing / registering
                time.sleep(0.3)
        else:
            raise AssertionError("no topic after 100 tries:\n"
                                 + (tmp_path / "cluster.out").read_text(errors="replace")[-4000:])
        group_configs(bs, "g-spread", share_auto_offset_reset="earliest")
        p = Producer({"bootstrap.servers": bs})
        for i in range(60):
            p.produce("spread", key=str(i).encode(), value=f"a{i}".encode(), partition=i % 6)
        p.flush()
        c = share_consumer(bs, "g-spread", "spread")
        got = poll_until(c, lambda g: len(g) >= 60, timeout=90)
        assert sorted(v for _, v, _ in got) == sorted(f"a{i}".encode() for i in range(60))
        c.commit_sync()
        c.close()
        for i in range(6):
            p.produce("spread", value=f"b{i}".encode(), partition=i)
        p.flush()
        c = share_consumer(bs, "g-spread", "spread")
        again = poll_until(c, lambda g: len(g) >= 6, timeout=90)
        assert sorted(v for _, v, _ in again) == sorted(f"b{i}".encode() for i in range(6)), again
        c.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)


def test_partition_leader_kill9_failover(tmp_path):
    """kill -9 the leader of a share-partition while a share consumer works on it: consumption
    continues on the new leader, every record is accepted, none that was acknowledged is
    delivered again."""
    from conftest import ROOT, free_cluster_base, node_logs, start_cluster_node
    weir = str(ROOT / "target" / "debug" / "weir")
    base = free_cluster_base()
    voters = ",".join(f"{i}@127.0.0.1:{base + 100 * (i - 1) + 1}" for i in (1, 2, 3))
    extra = [*LOW_LOCK, "--default-replication-factor", "3", "--broker-session-timeout-ms",
             "3000", "--broker-heartbeat-interval-ms", "500"]
    nodes = {i: start_cluster_node(weir, tmp_path, i, base, voters, extra) for i in (1, 2, 3)}
    bs = ",".join(f"127.0.0.1:{base + 100 * i}" for i in range(3))
    try:
        admin = AdminClient({"bootstrap.servers": bs})
        for _ in range(200):
            try:
                admin.create_topics([NewTopic("fo", 1, 3)])["fo"].result()
                break
            except Exception:  # noqa: BLE001 - still electing / registering
                assert all(n.poll() is None for n in nodes.values()), \
                    node_logs(tmp_path / f"node-{i}" / "weir.log" for i in nodes)
                time.sleep(0.3)
        else:
            raise AssertionError("no topic after 200 tries:\n"
                                 + node_logs(tmp_path / f"node-{i}" / "weir.log" for i in nodes))
        group_configs(bs, "g-fo", share_auto_offset_reset="earliest",
                      share_acquire_mode="record_limit")
        p = Producer({"bootstrap.servers": bs, "acks": "all"})
        for i in range(200):
            p.produce("fo", value=f"r{i}".encode())
        p.flush()
        c = share_consumer(bs, "g-fo", "fo", explicit=True, extra={"max.poll.records": 10})
        accepted, seen = [], []

        def ack(m):
            seen.append(m.offset())
            c.acknowledge(m, AcknowledgeType.ACCEPT)
            accepted.append(m.offset())

        poll_until(c, lambda g: len(g) >= 50, on_msg=ack)
        c.commit_sync()
        acked_before = set(accepted)
        assert len(acked_before) < 200
        leader = admin.list_topics("fo").topics["fo"].partitions[0].leader
        nodes[leader].kill()
        nodes[leader].wait()
        deadline = time.time() + 120
        while time.time() < deadline and len(set(accepted)) < 200:
            for m in c.poll(0.5):
                if not m.error():
                    ack(m)
            try:
                c.commit_sync(5)
            except Exception:  # noqa: BLE001 - retried on the next round after the failover
                pass
        assert set(accepted) == set(range(200)), sorted(set(range(200)) - set(accepted))[:20]
        new_leader = admin.list_topics("fo").topics["fo"].partitions[0].leader
        assert new_leader != leader
        redelivered = [o for o in seen if o in acked_before]
        assert len(redelivered) == len(acked_before), "an acknowledged record came back"
        c.close()
    finally:
        for n in nodes.values():
            if n.poll() is None:
                n.kill()
                n.wait()
