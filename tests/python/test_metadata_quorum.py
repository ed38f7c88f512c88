"""KIP-853 with Kafka 4.4's own `kafka-metadata-quorum` tool (the Java Admin's addRaftVoter /
removeRaftVoter / describeMetadataQuorum) against three real `weir` nodes: a fourth, dedicated
controller started outside `controller.quorum.voters` follows the log as an observer, is added
with `add-controller` (reading its node id, directory id and endpoint from its config and
meta.properties, as with Kafka), then an original voter is removed with `remove-controller` and
stopped — while confluent-kafka's AdminClient creates topics in a loop, every one succeeding."""
import json
import os
import subprocess
import sys
import threading
import time

import pytest
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from conftest import ROOT, free_cluster_base, node_logs, start_cluster_node

sys.path.insert(0, str(ROOT / "bench"))
import kafka_peer  # noqa: E402

WEIR = os.environ.get("WEIR_BIN", str(ROOT / "target" / "debug" / "weir"))


@pytest.fixture
def libs():
    try:
        return kafka_peer.kafka_libs()
    except (RuntimeError, subprocess.TimeoutExpired, FileNotFoundError) as e:
        pytest.skip(f"Kafka {kafka_peer.KAFKA_VERSION} jars unavailable: {e}")


def quorum(bs):
    """`weir quorum describe --json` of `bs`, or None while it cannot answer."""
    r = subprocess.run([WEIR, "quorum", "describe", "--json", "-b", bs],
                       capture_output=True, text=True, timeout=30)
    return json.loads(r.stdout) if r.returncode == 0 else None


def wait_for(cond, what, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what() if callable(what) else what}")


class Creator(threading.Thread):
    """Creates topics one after another until stopped; each is retried until it exists."""

    def __init__(self, bs):
        super().__init__(daemon=True)
        self.bs, self.created, self.errors, self.stop, self.failed = bs, [], [], False, None

    def run(self):
        admin = AdminClient({"bootstrap.servers": self.bs, "topic.metadata.refresh.interval.ms": 1000})
        i = 0
        while not self.stop:
            name, started, attempt = f"kip853-{i}", time.time(), 0
            while True:
                attempt += 1
                try:
                    admin.create_topics([NewTopic(name, 1, 1)], operation_timeout=10)[name].result(timeout=30)
                    break
                except KafkaException as e:
                    if e.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS and attempt > 1:
                        break
                    self.errors.append(f"{name}#{attempt}: {e}")
                if time.time() - started > 60:
                    self.failed = f"{name} not created within 60 s: {self.errors[-5:]}"
                    return
                admin = AdminClient({"bootstrap.servers": self.bs,
                                     "topic.metadata.refresh.interval.ms": 1000})
                time.sleep(0.2)
            self.created.append(name)
            i += 1

    def progress(self, more, what):
        target = len(self.created) + more
        wait_for(lambda: self.failed or len(self.created) >= target, what)
        assert not self.failed, self.failed


def test_add_and_remove_controller_with_kafkas_tool_while_topics_are_created(tmp_path, libs):
    base = free_cluster_base(4)
    voters = ",".join(f"{i}@127.0.0.1:{base + 100 * (i - 1) + 1}" for i in (1, 2, 3))
    nodes = {i: start_cluster_node(WEIR, tmp_path, i, base, voters, []) for i in (1, 2, 3)}
    logs = [tmp_path / f"node-{i}" / "weir.log" for i in (1, 2, 3, 4)]
    bs = ",".join(f"127.0.0.1:{base + 100 * i}" for i in range(3))
    creator = None
    try:
        wait_for(lambda: (quorum(bs) or {}).get("voters") and sorted(quorum(bs)["voters"]) == [1, 2, 3],
                 lambda: "three voters:\n" + node_logs(logs))
        creator = Creator(bs)
        creator.start()
        creator.progress(5, "topics before any change")

        nodes[4] = start_cluster_node(WEIR, tmp_path, 4, base, voters, [], roles="controller")
        wait_for(lambda: 4 in ((quorum(bs) or {}).get("observers") or []),
                 lambda: "node 4 observing:\n" + node_logs(logs))
        cport = base + 300 + 1
        props = tmp_path / "controller-4.properties"
        props.write_text("process.roles=controller\nnode.id=4\ncontroller.listener.names=CONTROLLER\n"
                         f"listeners=CONTROLLER://127.0.0.1:{cport}\n"
                         f"advertised.listeners=CONTROLLER://127.0.0.1:{cport}\n"
                         f"log.dirs={tmp_path / 'node-4' / 'logs'}\n")
        r = kafka_peer.run_tool("kafka-metadata-quorum", "--bootstrap-server", bs,
                                "--command-config", str(props), "add-controller", libs=libs, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr[-3000:]
        assert "Added controller 4" in r.stdout, r.stdout
        wait_for(lambda: sorted((quorum(bs) or {}).get("voters") or []) == [1, 2, 3, 4], "four voters")
        creator.progress(5, "topics after adding controller 4")

        r = kafka_peer.run_tool("kafka-metadata-quorum", "--bootstrap-server", bs, "remove-controller",
                                "--controller-id", "1", "--controller-directory-id",
                                "AAAAAAAAAAAAAAAAAAAAAA", libs=libs, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr[-3000:]
        nodes[1].terminate()
        nodes[1].wait(timeout=30)
        rest = ",".join(f"127.0.0.1:{base + 100 * i}" for i in (1, 2))
        wait_for(lambda: sorted((quorum(rest) or {}).get("voters") or []) == [2, 3, 4], "voters 2, 3, 4")
        creator.progress(5, "topics after removing controller 1")

        r = kafka_peer.run_tool("kafka-metadata-quorum", "--bootstrap-server", rest, "describe",
                                "--status", libs=libs, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr[-3000:]
        assert '"id": 4' in r.stdout and '"id": 1,' not in r.stdout.split("CurrentObservers")[0], r.stdout
        creator.stop = True
        creator.join(timeout=120)
        assert not creator.failed, creator.failed
        listed = AdminClient({"bootstrap.servers": rest}).list_topics(timeout=10).topics
        missing = [t for t in creator.created if t not in listed]
        assert not missing, missing
    finally:
        if creator:
            creator.stop = True
        for p in nodes.values():
            if p.poll() is None:
                p.kill()
                p.wait()
