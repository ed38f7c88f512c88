"""Several log dirs (JBOD) with real clients: kafka-python's describe_log_dirs and
alter_replica_log_dirs on a broker with two dirs, `weir log-dirs move` while an idempotent
confluent-kafka producer runs, and a failed dir (a small tmpfs filled up, as root as CI runs) on
one node of three (after moving a led and a followed replica between dirs under acks=all load):
its partitions go offline there and their leadership moves to the other replicas, its other dir keeps serving, and every acknowledged record is consumed afterwards."""
import os
import subprocess
import threading
import time
from pathlib import Path

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from kafka import KafkaAdminClient
from kafka import errors as kerrors

from conftest import ROOT, Broker, free_cluster_base, node_logs, start_cluster_node

WEIR = os.environ.get("WEIR_BIN", str(ROOT / "target" / "debug" / "weir"))


def wait_for(cond, timeout=60, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            v = cond()
            if v:
                return v
        except Exception:  # noqa: BLE001 - transient client errors while the cluster moves
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what() if callable(what) else what}")


class LoadProducer:
    """An idempotent acks=all producer writing `<n>` values round-robin over `partitions` in a
    thread, remembering what was acknowledged and every delivery error."""

    def __init__(self, bootstrap, topic, partitions):
        self.p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True,
                           "acks": "all", "linger.ms": 5, "message.timeout.ms": 120000})
        self.topic, self.partitions = topic, partitions
        self.acked, self.errors, self.sent = {}, [], 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def on_delivery(self, err, msg):
        if err is not None:
            self.errors.append(err)
        else:
            self.acked.setdefault(msg.partition(), []).append(msg.value().decode())

    def run(self):
        while not self.stop.is_set():
            p = self.partitions[self.sent % len(self.partitions)]
            self.p.produce(self.topic, str(self.sent).encode(), partition=p,
                           on_delivery=self.on_delivery)
            self.sent += 1
            self.p.poll(0)
            time.sleep(0.002)
        self.p.flush(120)

    def acked_count(self):
        return sum(len(v) for v in self.acked.values())

    def finish(self):
        self.stop.set()
        self.thread.join(180)
        assert not self.thread.is_alive(), "the producer did not flush"


def consume_all(bootstrap, topic, partitions, expected):
    """{partition: [values]} read from the beginning until `expected[p]` values per partition."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"check-{time.time()}",
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    c.assign([TopicPartition(topic, p, 0) for p in partitions])
    got = {p: [] for p in partitions}
    deadline = time.time() + 120
    while time.time() < deadline and any(len(got[p]) < expected[p] for p in partitions):
        m = c.poll(0.5)
        if m is None or m.error():
            continue
        got[m.partition()].append(m.value().decode())
    c.close()
    return got


def check_every_acked_record_consumed(bootstrap, topic, load):
    partitions = sorted(load.acked)
    expected = {p: len(load.acked[p]) for p in partitions}
    got = consume_all(bootstrap, topic, partitions, expected)
    for p in partitions:
        # Each partition holds the acknowledged values once each, in the order produced.
        assert got[p] == load.acked[p], (
            f"partition {p}: {len(got[p])} consumed, {expected[p]} acknowledged; "
            f"missing {sorted(set(load.acked[p]) - set(got[p]))[:10]}")


def dirs_of(describe, broker_id):
    """{log dir: (error_code, {(topic, partition): size})} from kafka-python's answer."""
    out = {}
    for b in describe:
        if b["broker"] != broker_id:
            continue
        for d in b["log_dirs"]:
            parts = {(t["name"], p["partition_index"]): p["partition_size"]
                     for t in d["topics"] for p in t["partitions"]}
            out[d["log_dir"]] = (d["error_code"], parts, d)
    return out


def test_describe_and_move_between_two_log_dirs(tmp_path):
    a, b = tmp_path / "dir-a", tmp_path / "dir-b"
    broker = Broker(tmp_path, ["--log-dirs", f"{a},{b}"])
    broker.start()
    try:
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        admin.create_topics([NewTopic("spread", 4, 1)])["spread"].result(30)
        load = LoadProducer(broker.bootstrap, "spread", [0, 1, 2, 3])
        load.thread.start()
        wait_for(lambda: load.acked_count() > 200, what="acknowledged records")

        kadmin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
        dirs = dirs_of(kadmin.describe_log_dirs(), 1)
        assert set(dirs) == {str(a), str(b)}, dirs
        for path, (code, parts, d) in dirs.items():
            assert code == 0
            assert 0 < d["usable_bytes"] <= d["total_bytes"], d
            # New partitions were spread: two in each dir.
            assert len([tp for tp in parts if tp[0] == "spread"]) == 2, (path, parts)
        placed = {tp: path for path, (_, parts, _) in dirs.items() for tp in parts}
        src = placed[("spread", 0)]
        dest = str(b) if src == str(a) else str(a)

        # Kafka's errors: an unknown dir, a partition the cluster does not have.
        r = kadmin.alter_replica_log_dirs({("spread", 0, 1): str(tmp_path / "nowhere"),
                                           ("absent", 0, 1): dest})
        codes = {(k.topic, k.partition): v for k, v in r.items()}
        assert codes[("spread", 0)] is kerrors.LogDirNotFoundError, codes
        assert codes[("absent", 0)] is kerrors.UnknownTopicOrPartitionError, codes

        # Move while the producer keeps writing.
        out = subprocess.run([WEIR, "log-dirs", "-b", broker.bootstrap, "move", "--topic",
                              "spread", "--partition", "0", "--dir", dest],
                             capture_output=True, text=True, timeout=180)
        assert out.returncode == 0, out.stdout + out.stderr
        before = load.acked_count()
        wait_for(lambda: load.acked_count() > before + 200, what="records after the move")
        load.finish()
        assert not load.errors, load.errors[:5]

        dirs = dirs_of(kadmin.describe_log_dirs(), 1)
        assert ("spread", 0) in dirs[dest][1], dirs
        assert ("spread", 0) not in dirs[src][1], dirs
        assert dirs[dest][1][("spread", 0)] > 0
        assert not (Path(src) / "spread-0").exists()
        check_every_acked_record_consumed(broker.bootstrap, "spread", load)

        table = subprocess.run([WEIR, "log-dirs", "-b", broker.bootstrap, "describe"],
                               capture_output=True, text=True, timeout=60)
        assert table.returncode == 0 and "spread-0" in table.stdout, table.stdout + table.stderr
        kadmin.close()
    finally:
        broker.stop()


def fill(path):
    """Write zeros into `path` until the disk refuses (unbuffered: every write reaches it)."""
    fd = os.open(path / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        for chunk in (65536, 512):
            try:
                while True:
                    os.write(fd, b"\0" * chunk)
            except OSError:
                pass
    finally:
        os.close(fd)


def test_a_full_log_dir_moves_its_leaderships_and_loses_no_acknowledged_record(tmp_path):
    # A tmpfs mount needs root; CI runs as root (scripts/test.sh), so does this test.
    assert os.geteuid() == 0, "this test mounts a tmpfs and needs root, as CI runs"
    small = tmp_path / "small"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(small)], check=True)
    base = free_cluster_base(3)
    voters = ",".join(f"{i}@127.0.0.1:{base + 100 * (i - 1) + 1}" for i in (1, 2, 3))
    extra = ["--broker-session-timeout-ms", "3000", "--broker-heartbeat-interval-ms", "500",
             "--auto-leader-rebalance-enable", "false", "--min-insync-replicas", "2"]

    def dirs(i):
        second = small / "logs" if i == 1 else tmp_path / f"node-{i}" / "second"
        return ["--log-dirs", f"{tmp_path / f'node-{i}' / 'logs'},{second}"]
    nodes = {i: start_cluster_node(WEIR, tmp_path, i, base, voters, extra + dirs(i))
             for i in (1, 2, 3)}
    logs = [tmp_path / f"node-{i}" / "weir.log" for i in (1, 2, 3)]
    bs = ",".join(f"127.0.0.1:{base + 100 * i}" for i in range(3))
    try:
        admin = AdminClient({"bootstrap.servers": bs})
        wait_for(lambda: set(admin.list_topics(timeout=10).brokers) == {1, 2, 3},
                 what=lambda: "three live brokers:\n" + node_logs(logs))
        admin.create_topics([NewTopic("jbod", 4, replica_assignment=[[1, 2, 3]] * 4)])[
            "jbod"].result(30)

        def partitions():
            return admin.list_topics("jbod", timeout=10).topics["jbod"].partitions
        wait_for(lambda: all(len(p.isrs) == 3 for p in partitions().values()), what="full ISRs")
        kadmin = KafkaAdminClient(bootstrap_servers=bs)
        on1 = dirs_of(kadmin.describe_log_dirs(brokers=[1]), 1)
        in_small = {tp[1] for tp in on1[str(small / "logs")][1] if tp[0] == "jbod"}
        in_other = {tp[1] for tp in on1[str(tmp_path / "node-1" / "logs")][1] if tp[0] == "jbod"}
        assert in_small and in_other, on1

        load = LoadProducer(bs, "jbod", [0, 1, 2, 3])
        load.thread.start()
        wait_for(lambda: load.acked_count() > 300, what="acknowledged records")

        # Under acks=all load, move a led replica (node 1) and a follower replica (node 2)
        # into their broker's other dir.
        def move(broker, partition, dest):
            out = subprocess.run([WEIR, "log-dirs", "-b", bs, "move", "--topic", "jbod",
                                  "--partition", str(partition), "--dir", dest,
                                  "--broker", str(broker)],
                                 capture_output=True, text=True, timeout=180)
            assert out.returncode == 0, out.stdout + out.stderr + node_logs(logs)
        moved_to_small = min(in_other)
        move(1, moved_to_small, str(small / "logs"))
        on2 = dirs_of(kadmin.describe_log_dirs(brokers=[2]), 2)
        src2 = next(d for d, (_, parts, _) in on2.items() if ("jbod", 0) in parts)
        move(2, 0, next(d for d in on2 if d != src2))
        in_small.add(moved_to_small)
        in_other.discard(moved_to_small)
        on1 = dirs_of(kadmin.describe_log_dirs(brokers=[1]), 1)
        assert {tp[1] for tp in on1[str(small / "logs")][1] if tp[0] == "jbod"} == in_small, on1
        before = load.acked_count()
        wait_for(lambda: load.acked_count() > before + 300, what="records after the moves")

        fill(small)

        def moved():
            ps = partitions()
            return all(ps[p].leader in (2, 3) and 1 not in ps[p].isrs for p in in_small)
        wait_for(moved, timeout=90,
                 what=lambda: f"leaderships of {in_small} off node 1: {partitions()}\n"
                 + node_logs(logs))
        # Node 1 keeps running and keeps leading the partitions of its healthy dir.
        assert nodes[1].poll() is None, node_logs(logs)
        ps = partitions()
        assert all(ps[p].leader == 1 for p in in_other), ps
        on1 = dirs_of(kadmin.describe_log_dirs(brokers=[1]), 1)
        assert on1[str(small / "logs")][0] == 56, on1  # KAFKA_STORAGE_ERROR
        assert on1[str(tmp_path / "node-1" / "logs")][0] == 0, on1
        # Moving a replica into the offline dir, or one of its replicas out: KAFKA_STORAGE_ERROR.
        r = kadmin.alter_replica_log_dirs({
            ("jbod", min(in_other), 1): str(small / "logs"),
            ("jbod", min(in_small), 1): str(tmp_path / "node-1" / "logs")})
        assert set(r.values()) == {kerrors.KafkaStorageError}, r

        before = load.acked_count()
        wait_for(lambda: len({p for p in load.acked if len(load.acked[p]) > 0}) == 4
                 and load.acked_count() > before + 400, timeout=90,
                 what="records acknowledged after the failure")
        load.finish()
        assert not load.errors, load.errors[:5]
        check_every_acked_record_consumed(bs, "jbod", load)
        kadmin.close()
    finally:
        for p in nodes.values():
            if p.poll() is None:
                p.terminate()
        for p in nodes.values():
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        subprocess.run(["umount", str(small)], check=False)
