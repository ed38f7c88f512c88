"""Rolling restart under load (issue #23), driven by `weir cluster rolling-restart`.

Three combined broker+controller nodes; topic `rolling` with 3 partitions, replication factor 3
and min.insync.replicas=2. A real idempotent acks=all producer (confluent-kafka) and a consumer
group of two confluent-kafka consumers run throughout while `weir cluster rolling-restart`
restarts every node in turn through a small script the test writes: SIGTERM (controlled
shutdown), wait for the process to exit, start it again; the CLI waits until every broker is
back, unfenced, and no partition is under-replicated before the next node.

What is demanded afterwards:
- the producer saw no delivery error, and every record it produced was acknowledged;
- it kept getting acknowledgements while each node was away (stopped or catching up);
- every acknowledged record was consumed exactly once, in order, per partition, at the offset
  its acknowledgement named. "Consumed" is defined by the committed offsets: a consumer polls a
  batch, commits the offsets after it synchronously (`enable.auto.commit=false`), and only a
  batch whose commit succeeded counts as consumed; after a failed commit it seeks back and reads
  the batch again (a commit whose outcome is unknown — a timeout, a dropped connection — is
  settled by reading the committed offsets back). Kafka's consumer group alone is at-least-once
  across rebalances; with consumption tied to the commit, a duplicate in the output means the
  group coordinator lost or regressed a committed offset across the restarts (or the log holds a
  record twice), and a gap means a record was lost — both are failures;
- each node logged a controlled shutdown;
- leadership is back on the preferred replicas (first replica) of every partition, internal
  ones included, within `leader.imbalance.check.interval.seconds` (5 s here, plus a little for
  the controller's tick and metadata propagation) after the cluster is whole again.
"""
import json
import os
import signal
import subprocess
import sys
import threading
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from conftest import ROOT, free_cluster_base, node_logs

TOPIC = "rolling"
PARTITIONS = 3
MAX_RECORDS = 30_000
RATE = 500  # records per second: 30,000 last a minute, longer than the restarts take
INTERVAL = 5  # leader.imbalance.check.interval.seconds
SLACK = 3  # the controller's 250 ms tick, metadata propagation, the client's refresh

EXTRA = ["--broker-heartbeat-interval-ms", "500", "--broker-session-timeout-ms", "4000",
         "--auto-leader-rebalance-enable", "true",
         "--leader-imbalance-check-interval-seconds", str(INTERVAL),
         "--offsets-topic-num-partitions", "6"]

# Started and restarted by the CLI's --restart-command: `restart N` SIGTERMs node N (pid file),
# waits for it to exit and starts it again, detached, writing the new pid; `start N` only
# starts it. Events (term, exited, started) with times go to events.jsonl.
SCRIPT = r'''
import json, os, signal, subprocess, sys, time
spec = json.load(open(sys.argv[1]))
mode, node = sys.argv[2], sys.argv[3]
n = spec["nodes"][node]

def event(kind):
    with open(spec["events"], "a") as f:
        f.write(json.dumps({"node": int(node), "event": kind, "t": time.time()}) + "\n")

def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")

if mode == "restart":
    pid = int(open(n["pidfile"]).read())
    os.kill(pid, signal.SIGTERM)
    event("term")
    deadline = time.time() + 60
    while alive(pid):
        if time.time() > deadline:
            sys.exit(f"node {node} (pid {pid}) did not exit within 60 s of SIGTERM")
        time.sleep(0.05)
    event("exited")
p = subprocess.Popen(n["argv"], stdout=open(n["log"], "ab"), stderr=subprocess.STDOUT,
                     stdin=subprocess.DEVNULL, start_new_session=True)
open(n["pidfile"], "w").write(str(p.pid))
event("started")
'''


def wait_for(cond, timeout, what):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            v = cond()
            if v:
                return v
        except KafkaException as e:
            last = e
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what() if callable(what) else what} "
                         f"(last error: {last!r})")


class Load:
    """The producer and the consumer group, each in its own thread."""

    def __init__(self, bs):
        self.bs = bs
        self.lock = threading.Lock()
        self.produced = 0
        self.acked = {}  # (partition, seq) -> offset
        self.ack_times = []
        self.delivery_errors = []
        self.consumed = []  # (partition, offset, value), in commit order
        self.consumer_errors = []
        self.commit_failures = 0
        self.by_consumer = {}  # consumer name -> records it counted as consumed
        self.stop_producing = threading.Event()
        self.stop_consuming = threading.Event()
        self.threads = [threading.Thread(target=self.produce, daemon=True)]
        self.threads += [threading.Thread(target=self.consume, args=(f"c{i}",), daemon=True)
                         for i in range(2)]

    def start(self):
        for t in self.threads:
            t.start()

    def on_delivery(self, err, msg):
        with self.lock:
            if err is not None:
                self.delivery_errors.append(str(err))
                return
            p, seq = msg.value().decode().split(":")
            self.acked[(int(p), int(seq))] = msg.offset()
            self.ack_times.append(time.time())

    def produce(self):
        prod = Producer({"bootstrap.servers": self.bs, "enable.idempotence": True,
                         "acks": "all", "linger.ms": 5})
        seq = [0] * PARTITIONS
        started = time.time()
        while not self.stop_producing.is_set() and self.produced < MAX_RECORDS:
            p = self.produced % PARTITIONS
            prod.produce(TOPIC, key=str(p), value=f"{p}:{seq[p]}", partition=p,
                         on_delivery=self.on_delivery)
            seq[p] += 1
            self.produced += 1
            prod.poll(0)
            ahead = self.produced / RATE - (time.time() - started)
            if ahead > 0:
                self.stop_producing.wait(ahead)
        left = prod.flush(120)
        if left:
            with self.lock:
                self.delivery_errors.append(f"{left} record(s) not delivered at flush")

    def consume(self, name):
        c = Consumer({"bootstrap.servers": self.bs, "group.id": "rolling-group",
                      "client.id": name, "enable.auto.commit": False,
                      "auto.offset.reset": "earliest", "session.timeout.ms": 10000,
                      "heartbeat.interval.ms": 1000})
        c.subscribe([TOPIC])
        try:
            while not self.stop_consuming.is_set():
                msgs = c.consume(num_messages=500, timeout=0.5)
                batch = []
                for m in msgs:
                    if m.error() is None:
                        batch.append(m)
                    else:
                        self.consumer_errors.append(str(m.error()))
                if batch:
                    self.settle(c, batch, name)
        finally:
            c.close()

    def settle(self, c, batch, name):
        """Commit the offsets after `batch`; count its records of each partition whose commit
        took effect as consumed, seek back to re-read the others."""
        first, end = {}, {}
        for m in batch:
            first.setdefault(m.partition(), m.offset())
            end[m.partition()] = m.offset() + 1
        done = set()
        try:
            res = c.commit(offsets=[TopicPartition(TOPIC, p, o) for p, o in end.items()],
                           asynchronous=False)
            done = {tp.partition for tp in res if tp.error is None}
            unknown = set()
        except KafkaException as e:
            code = e.args[0].code()
            definite = (KafkaError.REBALANCE_IN_PROGRESS, KafkaError.ILLEGAL_GENERATION,
                        KafkaError.UNKNOWN_MEMBER_ID, KafkaError.NOT_COORDINATOR,
                        KafkaError.COORDINATOR_NOT_AVAILABLE,
                        KafkaError.COORDINATOR_LOAD_IN_PROGRESS)
            unknown = set() if code in definite else set(end)
        if unknown:
            done |= self.committed_back(c, end, unknown)
        with self.lock:
            mine = [(m.partition(), m.offset(), m.value().decode())
                    for m in batch if m.partition() in done]
            self.consumed += mine
            self.by_consumer[name] = self.by_consumer.get(name, 0) + len(mine)
            self.commit_failures += len(set(end) - done)
        for p in set(end) - done:
            try:
                c.seek(TopicPartition(TOPIC, p, first[p]))
            except KafkaException:
                pass  # no longer assigned: the next owner starts at the committed offset

    def committed_back(self, c, end, parts):
        """The partitions among `parts` whose committed offset reads back as `end`."""
        deadline = time.time() + 60
        while True:
            try:
                got = c.committed([TopicPartition(TOPIC, p) for p in parts], timeout=10)
                return {tp.partition for tp in got if tp.offset == end[tp.partition]}
            except KafkaException:
                if time.time() > deadline:
                    raise

    def consumed_all(self):
        with self.lock:
            return len(self.consumed) >= len(self.acked)


def test_rolling_restart_under_load(tmp_path):
    weir = str(ROOT / "target" / "debug" / "weir")
    base = free_cluster_base(3)
    voters = ",".join(f"{i}@127.0.0.1:{base + 100 * (i - 1) + 1}" for i in (1, 2, 3))
    bs = ",".join(f"127.0.0.1:{base + 100 * i}" for i in range(3))
    nodes = {}
    for i in (1, 2, 3):
        d = tmp_path / f"node-{i}"
        d.mkdir()
        port = base + 100 * (i - 1)
        nodes[str(i)] = {
            "argv": [weir, "serve", "--node-id", str(i), "--process-roles", "broker,controller",
                     "--controller-quorum-voters", voters,
                     "--listeners", f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{port + 1}",
                     "--advertised-listeners", f"PLAINTEXT://127.0.0.1:{port}",
                     "--log-dirs", str(d / "logs"), *EXTRA],
            "log": str(d / "weir.log"), "pidfile": str(d / "pid")}
    events = tmp_path / "events.jsonl"
    spec = tmp_path / "nodes.json"
    spec.write_text(json.dumps({"nodes": nodes, "events": str(events)}))
    script = tmp_path / "restart_node.py"
    script.write_text(SCRIPT)
    logs = [n["log"] for n in nodes.values()]
    load = None

    def cli(*args, timeout=60):
        return subprocess.run([weir, "cluster", "rolling-restart", "-b", bs, *args],
                              capture_output=True, text=True, timeout=timeout)
    try:
        for i in nodes:
            subprocess.run([sys.executable, str(script), str(spec), "start", i], check=True)
        admin = AdminClient({"bootstrap.servers": bs})
        wait_for(lambda: set(admin.list_topics(timeout=10).brokers) == {1, 2, 3}, 60,
                 lambda: "three live brokers:\n" + node_logs(logs))
        fs = admin.create_topics([NewTopic(TOPIC, PARTITIONS, 3,
                                           config={"min.insync.replicas": "2"})])
        fs[TOPIC].result(timeout=30)
        wait_for(lambda: all(len(p.isrs) == 3 for p in
                             admin.list_topics(TOPIC, timeout=10).topics[TOPIC].partitions.values()),
                 60, "full ISRs")

        # Bad input and the dry run change nothing.
        restart = f"{sys.executable} {script} {spec} restart {{id}}"
        bad = cli("--restart-command", restart, "--nodes", "9")
        assert bad.returncode != 0 and "node 9 is neither a registered broker nor a quorum voter" in bad.stderr, bad
        dry = cli("--restart-command", restart, "--dry-run")
        assert dry.returncode == 0, dry
        for i in (1, 2, 3):
            assert f"would restart node {i}: {restart.replace('{id}', str(i))}" in dry.stdout, dry
        assert "term" not in events.read_text(), "the dry run restarted something"

        load = Load(bs)
        load.start()
        wait_for(lambda: len(load.acked) > 500 and load.consumed, 60,
                 lambda: f"load to flow ({len(load.acked)} acked, {len(load.consumed)} consumed, "
                         f"errors {load.delivery_errors[:3]} {load.consumer_errors[-3:]})")

        out = cli("--restart-command", restart, "--timeout", "120", "--json", timeout=600)
        assert out.returncode == 0, f"{out}\n" + node_logs(logs)
        whole_at = time.time()
        report = json.loads(out.stdout)
        assert sorted(report["order"]) == [1, 2, 3] and report["error"] is None, report
        assert [s["id"] for s in report["restarted"]] == report["order"], report

        # Leadership back on the preferred replicas within the check interval.
        def preferred():
            md = admin.list_topics(timeout=10)
            parts = [p for t in md.topics.values() for p in t.partitions.values()]
            return parts and all(p.leader == p.replicas[0] for p in parts)
        wait_for(preferred, INTERVAL + SLACK, lambda: "preferred leaders: " + str(
            {(t, p.id): (p.leader, p.replicas) for t, tm in admin.list_topics(timeout=10)
             .topics.items() for p in tm.partitions.values() if p.leader != p.replicas[0]}))
        took = time.time() - whole_at

        load.stop_producing.set()
        load.threads[0].join(180)
        assert not load.threads[0].is_alive(), "the producer did not finish"
        wait_for(load.consumed_all, 120,
                 lambda: f"consumers to catch up ({len(load.consumed)} of {len(load.acked)})")
        load.stop_consuming.set()
        for t in load.threads[1:]:
            t.join(60)

        assert load.delivery_errors == [], load.delivery_errors[:10]
        assert len(load.acked) == load.produced, (len(load.acked), load.produced)
        evs = [json.loads(line) for line in events.read_text().splitlines()]
        for step in report["restarted"]:
            i = step["id"]
            term = next(e["t"] for e in evs if e["node"] == i and e["event"] == "term")
            started = next(e["t"] for e in evs
                           if e["node"] == i and e["event"] == "started" and e["t"] >= term)
            back = started + step["rejoin_ms"] / 1000 + 0.5
            assert any(term <= t <= back for t in load.ack_times), \
                f"no acknowledgement while node {i} was away ({term:.1f}..{back:.1f})"
        # Exactly once, in order, at the acknowledged offset, per partition.
        for p in range(PARTITIONS):
            got = [(off, v) for (pp, off, v) in load.consumed if pp == p]
            seqs = [int(v.split(":")[1]) for _, v in got]
            n = sum(1 for (pp, _) in load.acked if pp == p)
            assert seqs == list(range(n)), \
                f"partition {p}: {len(seqs)} consumed, {n} acknowledged; " \
                f"duplicates {len(seqs) - len(set(seqs))}, first out of order at " \
                f"{next((k for k, s in enumerate(seqs) if s != k), None)}"
            assert all(load.acked[(p, s)] == off for s, (off, _) in zip(seqs, got)), \
                f"partition {p}: a record consumed at another offset than acknowledged"
        assert len([n for n in load.by_consumer.values() if n]) == 2, load.by_consumer
        for path in logs:
            text = open(path, errors="replace").read()
            assert "controlled shutdown: leadership moved" in text, \
                f"no controlled shutdown in {path}\n" + node_logs([path])
        print(f"rolling restart: {report}; {len(load.acked)} records acknowledged and consumed; "
              f"preferred leaders back {took:.1f}s after the cluster was whole; consumed per "
              f"member {load.by_consumer}, {load.commit_failures} partition commit(s) failed "
              f"and re-read")
    finally:
        if load is not None:
            load.stop_producing.set()
            load.stop_consuming.set()
        for n in nodes.values():
            try:
                os.kill(int(open(n["pidfile"]).read()), signal.SIGKILL)
            except (OSError, ValueError):
                pass
