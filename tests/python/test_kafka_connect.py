"""Kafka Connect standalone against a real `weir` broker (issue #25, client/tool matrix: "Kafka
Connect standalone with the FileStream source and sink").

Connect is Kafka 4.4.0's own runtime (org.apache.kafka.connect.cli.ConnectStandalone from
connect-runtime, a dependency of tests/java/pom.xml), run as
`java -cp tests/java/target/weir-java-clients-0.1.0.jar:tests/java/target/lib/* ...`. The
connectors are weir.connect.FileSourceConnector / FileSinkConnector (tests/java): stand-ins for
Kafka's FileStreamSource / FileStreamSink (same configs `file`, `topic` / `topics`, a String record
per line, source offsets = position after the line), because org.apache.kafka:connect-file is not
served by the Maven registry this machine reaches.

One worker runs both connectors: the source reads an input file into a topic that Connect itself
creates (topic.creation.default.*, CreateTopics through its TopicAdmin), with an idempotent
producer; the sink (consumer group `connect-file-sink`, classic or KIP-848 protocol) appends the
topic to an output file. Checked: every line arrives in order, the topic holds exactly the lines
(read back with confluent-kafka), the group is Stable with the sink's consumer and commits the
sink's position; after SIGTERM and 50 more input lines, a new worker resumes the source from its
committed offset (standalone offset file) and the sink from the group's committed offset: exactly
the 50 new lines arrive, no duplicate in the topic or the output file.
"""
import json
import os
import re
import signal
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, KafkaError, TopicPartition
from confluent_kafka.admin import AdminClient

from conftest import _free_port

ROOT = Path(__file__).resolve().parents[2]
JAVA = ROOT / "tests" / "java" / "target"
JAR = JAVA / "weir-java-clients-0.1.0.jar"
CONNECT_MAIN = "org.apache.kafka.connect.cli.ConnectStandalone"
TOPIC = "connect-lines"
SOURCE, SINK = "file-source", "file-sink"
GROUP = f"connect-{SINK}"  # Connect's consumer group of a sink connector
# The host is loaded (2 cores shared): Connect's plugin scan alone takes ~30 s there.
DEADLINE = float(os.environ.get("WEIR_CONNECT_TIMEOUT", "240"))


def input_lines(first, last):
    """Lines first..last (1-based): plain text, one non-ASCII line, one empty line."""
    out = []
    for i in range(first, last + 1):
        if i == 100:
            out.append(f"line {i:04d}: ünïcødé ✓ {uuid.uuid4().hex}")
        elif i == 150:
            out.append("")
        else:
            out.append(f"line {i:04d} {'x' * (i % 37)}")
    return out


def append_lines(path, lines):
    with open(path, "a", encoding="utf-8") as f:
        f.write("".join(line + "\n" for line in lines))


def read_lines(path):
    """Complete lines of the sink's output file (a partial last line is left out)."""
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return []
    return text.split("\n")[:-1]


class Connect:
    """One ConnectStandalone JVM (worker + both connectors), its log in tmp_path."""

    def __init__(self, tmp_path, bootstrap, protocol, run):
        self.rest_port = _free_port()
        self.log = tmp_path / f"connect-{run}.log"
        worker = tmp_path / "worker.properties"
        worker.write_text("\n".join([
            f"bootstrap.servers={bootstrap}",
            "key.converter=org.apache.kafka.connect.storage.StringConverter",
            "value.converter=org.apache.kafka.connect.storage.StringConverter",
            f"offset.storage.file.filename={tmp_path / 'connect.offsets'}",
            "offset.flush.interval.ms=1000",
            f"listeners=http://127.0.0.1:{self.rest_port}",
            # The connectors are on the classpath (no plugin.path): found by scanning it.
            "plugin.discovery=only_scan",
        ]) + "\n")
        source = tmp_path / "source.properties"
        source.write_text("\n".join([
            f"name={SOURCE}",
            "connector.class=weir.connect.FileSourceConnector",
            "tasks.max=1",
            f"file={tmp_path / 'input.txt'}",
            f"topic={TOPIC}",
            "batch.size=64",
            # Connect creates the topic itself (CreateTopics through its TopicAdmin).
            "topic.creation.default.partitions=1",
            "topic.creation.default.replication.factor=-1",
            # Connect's worker producer is not idempotent by default; this one is.
            "producer.override.enable.idempotence=true",
        ]) + "\n")
        sink = tmp_path / "sink.properties"
        sink.write_text("\n".join([
            f"name={SINK}",
            "connector.class=weir.connect.FileSinkConnector",
            "tasks.max=1",
            f"file={tmp_path / 'output.txt'}",
            f"topics={TOPIC}",
            f"consumer.override.group.protocol={protocol}",
        ]) + "\n")
        assert JAR.exists() and list((JAVA / "lib").glob("connect-runtime-*.jar")), \
            "build tests/java first: mvn -f tests/java/pom.xml package"
        self.proc = subprocess.Popen(
            ["java", "-Dorg.slf4j.simpleLogger.defaultLogLevel=info",
             "-cp", f"{JAR}:{JAVA / 'lib'}/*", CONNECT_MAIN, str(worker), str(source), str(sink)],
            stdout=open(self.log, "wb"), stderr=subprocess.STDOUT)

    def log_tail(self, n=6000):
        return self.log.read_text(errors="replace")[-n:]

    def rest(self, path):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.rest_port}{path}", timeout=5) as r:
            return json.loads(r.read())

    def alive(self):
        assert self.proc.poll() is None, f"Connect exited {self.proc.returncode}:\n{self.log_tail()}"

    def stop(self):
        """Stop both connectors through the REST API (KIP-875: their tasks stop, the source's
        offsets are flushed to the offset file, the sink's consumer commits its position and
        leaves the group), then SIGTERM the worker; returns the exit status. Connect's shutdown
        hook can deadlock with Jetty's own (JettyShutdownThread: "Unable to destroy ...
        STARTED", then the REST server's join never returns; seen once in CI under load), a
        race inside Connect that involves no Kafka request: a worker whose connectors have
        stopped and that does not exit within 60 s of SIGTERM is killed (status 143)."""
        if self.proc.poll() is not None:
            return self.proc.returncode
        for name in (SOURCE, SINK):
            req = urllib.request.Request(
                f"http://127.0.0.1:{self.rest_port}/connectors/{name}/stop", method="PUT")
            with urllib.request.urlopen(req, timeout=30) as r:
                assert r.status in (200, 202, 204), r.status
        deadline = time.time() + 60
        while time.time() < deadline:
            states = [self.rest(f"/connectors/{n}/status")["connector"]["state"]
                      for n in (SOURCE, SINK)]
            if states == ["STOPPED", "STOPPED"]:
                break
            time.sleep(0.2)
        else:
            raise AssertionError(f"connectors did not stop: {states}\n" + self.log_tail())
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return 143
        return self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def wait_until(cond, what, connect, broker, timeout=DEADLINE):
    deadline = time.time() + timeout
    while time.time() < deadline:
        connect.alive()
        v = cond()
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError(f"timed out ({timeout:.0f} s) waiting for {what}\n--- Connect:\n"
                         f"{connect.log_tail()}\n--- broker:\n{broker.out.read_text()[-3000:]}")


def connectors_running(connect):
    try:
        states = [connect.rest(f"/connectors/{name}/status") for name in (SOURCE, SINK)]
    except OSError:
        return False  # REST server not up yet, or the connector not created yet (404)
    return all(s["connector"]["state"] == "RUNNING" and len(s["tasks"]) == 1
               and s["tasks"][0]["state"] == "RUNNING" for s in states) and states


def topic_records(bootstrap):
    """All records of TOPIC (partition 0) from offset 0 to the high watermark, with confluent-kafka."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"check-{uuid.uuid4().hex[:8]}",
                  "enable.auto.commit": False, "enable.partition.eof": True})
    try:
        low, high = c.get_watermark_offsets(TopicPartition(TOPIC, 0), timeout=30)
        c.assign([TopicPartition(TOPIC, 0, 0)])
        records, deadline = [], time.time() + 60
        while len(records) < high and time.time() < deadline:
            m = c.poll(1.0)
            if m is None or (m.error() and m.error().code() == KafkaError._PARTITION_EOF):
                continue
            assert not m.error(), m.error()
            records.append(m)
        return low, high, records
    finally:
        c.close()


def committed(admin):
    res = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(GROUP)])[GROUP].result()
    return {(tp.topic, tp.partition): tp.offset for tp in res.topic_partitions}


def check_topic(bootstrap, expected):
    low, high, records = topic_records(bootstrap)
    assert (low, high) == (0, len(expected)), (low, high, len(expected))
    assert [m.offset() for m in records] == list(range(len(expected)))
    assert all(m.key() is None for m in records), [m.key() for m in records if m.key() is not None][:3]
    values = [m.value().decode("utf-8") for m in records]
    assert values == expected, [(i, v, e) for i, (v, e) in enumerate(zip(values, expected)) if v != e][:5]


def group_stable(admin, protocol):
    d = admin.describe_consumer_groups([GROUP])[GROUP].result()
    if d.state.name != "STABLE" or len(d.members) != 1:
        return False
    m = d.members[0]
    tps = [(tp.topic, tp.partition) for tp in (m.assignment.topic_partitions if m.assignment else [])]
    return (m.client_id == f"connector-consumer-{SINK}-0" and tps == [(TOPIC, 0)]
            and d.type.name == protocol.upper()) and d


@pytest.mark.parametrize("protocol", ["classic", "consumer"])
def test_connect_standalone_file_source_and_sink(broker, tmp_path, protocol):
    started = time.time()
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    inp, out = tmp_path / "input.txt", tmp_path / "output.txt"
    first = input_lines(1, 200)
    append_lines(inp, first)

    # --- run 1: 200 lines through source -> topic -> sink ----------------------------------
    connect = Connect(tmp_path, broker.bootstrap, protocol, 1)
    try:
        wait_until(lambda: connectors_running(connect), "both connectors and tasks RUNNING", connect, broker)
        wait_until(lambda: len(read_lines(out)) >= len(first), "200 lines in the output file", connect, broker)
        assert read_lines(out) == first
        # The worker found Weir's cluster id (DescribeCluster through its admin client).
        assert connect.rest("/")["kafka_cluster_id"] == admin.describe_cluster().result().cluster_id
        # Connect created the topic: one partition, as topic.creation.default.partitions says.
        md = admin.list_topics(TOPIC, timeout=30).topics[TOPIC]
        assert md.error is None and sorted(md.partitions) == [0], md
        check_topic(broker.bootstrap, first)
        # The sink's group: Stable, its one member is the sink task's consumer, owning the partition.
        wait_until(lambda: group_stable(admin, protocol), f"group {GROUP} Stable with the sink's consumer",
                   connect, broker)
        rc = connect.stop()
    finally:
        connect.kill()
    assert rc in (0, 143), f"Connect exit status {rc} after SIGTERM:\n{connect.log_tail()}"
    log1 = connect.log.read_text(errors="replace")
    assert "starting at byte 0 after line 0 (stored offset null)" in log1, log1[-4000:]
    # Stopping committed the sink's position (sync commit when its partitions are closed), the
    # member left, and the source's offset is in the standalone offset file.
    assert committed(admin) == {(TOPIC, 0): 200}
    d = admin.describe_consumer_groups([GROUP])[GROUP].result()
    assert d.state.name == "EMPTY" and not d.members, (d.state, d.members)
    first_bytes = sum(len(line.encode()) + 1 for line in first)
    offsets = (tmp_path / "connect.offsets").read_bytes()
    stored = [json.loads(o) for o in re.findall(rb'\{[^{}]*"position"[^{}]*\}', offsets)]
    assert stored == [{"position": first_bytes, "line": 200}], offsets

    # --- run 2: 50 more lines; both connectors resume where they stopped -------------------
    more = input_lines(201, 250)
    append_lines(inp, more)
    connect = Connect(tmp_path, broker.bootstrap, protocol, 2)
    try:
        wait_until(lambda: len(read_lines(out)) >= len(first) + len(more), "250 lines in the output file",
                   connect, broker)
        # No duplicate: neither a source re-reading from the start nor a sink re-consuming the
        # topic from offset 0 can give exactly these 250 lines.
        assert read_lines(out) == first + more
        check_topic(broker.bootstrap, first + more)
        rc = connect.stop()
    finally:
        connect.kill()
    assert rc in (0, 143), f"Connect exit status {rc} after SIGTERM:\n{connect.log_tail()}"
    log2 = connect.log.read_text(errors="replace")
    assert f"starting at byte {first_bytes} after line 200 (stored offset {{" in log2, log2[-4000:]
    assert re.search(rf"Setting offset for partition {TOPIC}-0 to the committed offset "
                     r"FetchPosition\{offset=200\b", log2), log2[-4000:]
    # Nothing came after the stop either.
    assert read_lines(out) == first + more
    assert committed(admin) == {(TOPIC, 0): 250}
    check_topic(broker.bootstrap, first + more)
    for log in (log1, log2):
        errors = [line for line in log.splitlines() if re.match(r"\[[^\]]*\] ERROR ", line)]
        assert not errors, "\n".join(errors[:20])
    print(f"connect standalone ({protocol}) in {time.time() - started:.0f} s")
