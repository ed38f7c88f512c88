"""Transactions against a real weir process: confluent-kafka (librdkafka) and kafka-python
transactional producers, read_committed vs read_uncommitted consumers, and an exactly-once
consume-transform-produce pipeline (eos_pipeline.py) killed with SIGKILL and restarted."""
import collections
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from kafka import KafkaConsumer, KafkaProducer
from kafka import TopicPartition as KTopicPartition

HERE = Path(__file__).resolve().parent


def create_topics(bootstrap, names, partitions):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for f in admin.create_topics([NewTopic(n, partitions, 1) for n in names]).values():
        f.result(10)


def read_all(bootstrap, topic, partitions, isolation, expect, timeout=60):
    """Exactly `expect` messages of every partition of `topic` from the beginning (fails if fewer
    arrive within `timeout` or another one follows within 1 s)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused",
                  "enable.auto.commit": False, "isolation.level": isolation})
    c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    out, deadline = [], time.time() + timeout
    try:
        while len(out) < expect and time.time() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            assert m.error() is None, m.error()
            out.append(m)
        assert len(out) == expect, f"{topic} ({isolation}): {len(out)} of {expect} messages"
        extra_deadline = time.time() + 1
        while time.time() < extra_deadline:
            m = c.poll(0.2)
            assert m is None or m.error() is not None, f"extra message {m.value()!r}"
    finally:
        c.close()
    return out


def by_partition(msgs):
    out = collections.defaultdict(list)
    for m in msgs:
        out[m.partition()].append(m.value().decode())
    return dict(out)


def send_batch(p, topics, partitions, per, tag):
    for t in topics:
        for part in range(partitions):
            for i in range(per):
                p.produce(t, value=f"{tag}-{t}-{part}-{i}", partition=part)
                p.poll(0)


def expected(topic, partitions, per, tags):
    return {part: [f"{tag}-{topic}-{part}-{i}" for tag in tags for i in range(per)]
            for part in range(partitions)}


def test_confluent_commit_and_abort_across_topics_and_partitions(broker):
    topics, parts, per = ["pytxn-a", "pytxn-b", "pytxn-c"], 4, 25
    create_topics(broker.bootstrap, topics, parts)
    p = Producer({"bootstrap.servers": broker.bootstrap, "transactional.id": "py-confluent",
                  "linger.ms": 2})
    p.init_transactions(30)
    p.begin_transaction()
    send_batch(p, topics, parts, per, "c1")
    p.commit_transaction(30)
    p.begin_transaction()
    send_batch(p, topics, parts, per, "ab")
    assert p.flush(30) == 0
    p.abort_transaction(30)
    p.begin_transaction()
    send_batch(p, topics, parts, per, "c2")
    p.commit_transaction(30)
    for t in topics:
        committed = read_all(broker.bootstrap, t, parts, "read_committed", parts * per * 2)
        assert by_partition(committed) == expected(t, parts, per, ["c1", "c2"])
        every = read_all(broker.bootstrap, t, parts, "read_uncommitted", parts * per * 3)
        assert by_partition(every) == expected(t, parts, per, ["c1", "ab", "c2"])


def test_kafka_python_transactional_producer(broker):
    create_topics(broker.bootstrap, ["kp-txn"], 2)
    p = KafkaProducer(bootstrap_servers=broker.bootstrap, transactional_id="py-kafka-python")
    p.init_transactions()
    p.begin_transaction()
    for i in range(50):
        p.send("kp-txn", value=f"committed-{i}".encode(), partition=i % 2)
    p.commit_transaction()
    p.begin_transaction()
    for i in range(30):
        p.send("kp-txn", value=f"aborted-{i}".encode(), partition=i % 2)
    p.flush(30)
    p.abort_transaction()
    p.close(10)

    def read(isolation, n):
        c = KafkaConsumer(bootstrap_servers=broker.bootstrap, enable_auto_commit=False,
                          isolation_level=isolation, consumer_timeout_ms=5000,
                          auto_offset_reset="earliest")
        c.assign([KTopicPartition("kp-txn", 0), KTopicPartition("kp-txn", 1)])
        c.seek_to_beginning()
        got, deadline = [], time.time() + 60
        while len(got) < n and time.time() < deadline:
            for recs in c.poll(timeout_ms=500).values():
                got.extend(r.value.decode() for r in recs)
        # Nothing beyond n.
        for recs in c.poll(timeout_ms=1000).values():
            got.extend(r.value.decode() for r in recs)
        c.close()
        return got

    committed = read("read_committed", 50)
    assert sorted(committed) == sorted(f"committed-{i}" for i in range(50))
    everything = read("read_uncommitted", 80)
    assert sorted(everything) == sorted([f"committed-{i}" for i in range(50)]
                                        + [f"aborted-{i}" for i in range(30)])
    # The committed records keep their order within each partition.
    confluent = read_all(broker.bootstrap, "kp-txn", 2, "read_committed", 50)
    for part, vals in by_partition(confluent).items():
        assert vals == [f"committed-{i}" for i in range(50) if i % 2 == part]


def _output_end(watcher, topic, parts):
    return sum(watcher.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
               for p in range(parts))


def test_exactly_once_pipeline_survives_sigkill(broker, tmp_path):
    n, parts, seed = 2000, 3, 20240601
    rng = random.Random(seed)
    create_topics(broker.bootstrap, ["eos-input", "eos-output"], parts)
    p = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "linger.ms": 5})
    for i in range(n):
        p.produce("eos-input", key=str(i), value=f"record-{i}", partition=i % parts)
        p.poll(0)
    assert p.flush(30) == 0
    watcher = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "unused-watcher"})

    kills, starts, max_starts = 0, 0, 20
    target_kills = rng.randint(4, 5)
    deadline = time.time() + 600
    while True:
        if starts >= max_starts:
            last = (tmp_path / f"pipeline-{starts - 1}.log").read_text()[-3000:]
            raise AssertionError(f"{starts} runs without finishing; the last one said:\n{last}")
        assert time.time() < deadline, "the pipeline did not finish in time"
        log = tmp_path / f"pipeline-{starts}.log"
        proc = subprocess.Popen(
            [sys.executable, str(HERE / "eos_pipeline.py"), broker.bootstrap, "eos-input",
             "eos-output", "eos-group", "eos-pipeline", "--timeout", "240",
             "--seed", str(seed + starts)],
            stdout=open(log, "wb"), stderr=subprocess.STDOUT)
        starts += 1
        if kills < target_kills:
            # Kill after the output grew by a random amount (transactions committed or aborted
            # alike move its end offset), then a little later still: mid-transaction mostly.
            target = _output_end(watcher, "eos-output", parts) + rng.randint(30, 250)
            wait_deadline = time.time() + 120
            while (proc.poll() is None and time.time() < wait_deadline
                   and _output_end(watcher, "eos-output", parts) < target):
                time.sleep(0.05)
            if proc.poll() is None:
                time.sleep(rng.uniform(0, 0.2))
                proc.send_signal(signal.SIGKILL)
                proc.wait(10)
                kills += 1
                continue
        try:
            rc = proc.wait(timeout=max(1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            proc.kill()
            raise AssertionError("pipeline still running at the deadline:\n" + log.read_text())
        if rc == 0:
            break
        # A transaction error (exit 3) is the pipeline's to survive by restarting, like a kill.
        assert rc == 3, f"pipeline exited {rc}:\n{log.read_text()}"
    watcher.close()
    assert kills >= 4, f"only {kills} kills before the pipeline finished"

    out = read_all(broker.bootstrap, "eos-output", parts, "read_committed", n, timeout=120)
    counts = collections.Counter(m.value().decode() for m in out)
    duplicates = [v for v, c in counts.items() if c > 1]
    assert not duplicates, f"{len(duplicates)} records copied twice, e.g. {duplicates[:5]}"
    assert set(counts) == {f"record-{i}" for i in range(n)}
    # Within each partition the copy keeps the input's order.
    for part, vals in by_partition(out).items():
        assert vals == [f"record-{i}" for i in range(n) if i % parts == part]
