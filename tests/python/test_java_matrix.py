"""The Java client matrix and Kafka's own command-line tools against a real `weir` broker (issue #25).

* tests/java (kafka-clients 4.4.0, `mvn -f tests/java/pom.xml package`): weir.ProduceConsume,
  weir.Groups (group.protocol=classic and consumer, KIP-848), weir.AdminMatrix, weir.ShareOffsets
  (Admin list/alter/deleteShareGroupOffsets, KIP-932/KIP-1226) and weir.WordCount
  (Kafka Streams, exactly_once_v2, repartition and changelog topics, restore) check Kafka's
  semantics themselves and print `PASS name` / `FAIL name: why`; each must exit 0 with every
  expected scenario passed.
* Kafka 4.4.0's tools (kafka-tools jar and its dependencies, resolved with Maven by
  bench/kafka_peer.py into ~/.cache/weir-kafka-4.4.0), each run as `java -cp '<libs>/*' <main>`:
  kafka-topics, kafka-configs, kafka-console-producer / -consumer, kafka-consumer-groups (describe,
  reset-offsets), kafka-share-groups (describe, reset-offsets, delete-offsets),
  kafka-producer-perf-test, kafka-get-offsets, kafka-broker-api-versions.

Each test starts a fresh broker (WEIR_BIN, as conftest.Broker). With JAVA_MATRIX_BOOTSTRAP=host:port
every test runs against that broker instead (e.g. `python3 bench/kafka_peer.py run` for Apache Kafka
itself, to tell a Weir difference from a test mistake); topic and group names are then made unique.
"""
import json
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from conftest import Broker

ROOT = Path(__file__).resolve().parents[2]
JAVA = ROOT / "tests" / "java" / "target"
sys.path.insert(0, str(ROOT / "bench"))
import kafka_peer  # noqa: E402


@pytest.fixture
def bs(tmp_path):
    """Bootstrap of a fresh weir broker (or of JAVA_MATRIX_BOOTSTRAP)."""
    if os.environ.get("JAVA_MATRIX_BOOTSTRAP"):
        yield os.environ["JAVA_MATRIX_BOOTSTRAP"]
        return
    b = Broker(tmp_path)
    b.start()
    try:
        yield b.bootstrap
    finally:
        b.stop()
        if os.environ.get("JAVA_MATRIX_KEEP_LOG"):
            print(b.out.read_text()[-5000:])


def name(base):
    return f"{base}-{uuid.uuid4().hex[:6]}" if os.environ.get("JAVA_MATRIX_BOOTSTRAP") else base


# ------------------------------------------------------------------------------ the Java matrix


def run_java(main, *args, timeout=240):
    jar = JAVA / "weir-java-clients-0.1.0.jar"
    assert jar.exists(), "build tests/java first: mvn -f tests/java/pom.xml package"
    cp = f"{jar}:{JAVA / 'lib'}/*"
    return subprocess.run(
        ["java", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", "-cp", cp, main, *args],
        capture_output=True, text=True, timeout=timeout)


# Scenarios that fail because of a known Weir difference from Kafka (not a test mistake: each
# passes against Apache Kafka 4.4.0, see JAVA_MATRIX_BOOTSTRAP above). They are expected to fail
# against Weir; once one passes, the test fails so that its entry is removed here.
KNOWN_WEIR_BUGS = {}


def check_matrix(r, expected):
    out = r.stdout
    fails = {m.group(1): m.group(0) for m in re.finditer(r"^FAIL (\S+):.*$", out, re.M)}
    passed = {m.group(1) for m in re.finditer(r"^PASS (\S+)", out, re.M)}
    unknown = {k: v for k, v in fails.items() if k not in KNOWN_WEIR_BUGS}
    assert not unknown, "\n".join(unknown.values()) + "\n" + out + r.stderr[-4000:]
    assert r.returncode == (1 if fails else 0), f"exit {r.returncode}\n{out}{r.stderr[-4000:]}"
    assert set(expected) <= passed | set(fails), f"missing scenarios {set(expected) - passed}:\n{out}"
    against_weir = not os.environ.get("JAVA_MATRIX_BOOTSTRAP")
    fixed = [k for k in KNOWN_WEIR_BUGS if k in passed and against_weir]
    assert not fixed, f"{fixed} pass now: remove them from KNOWN_WEIR_BUGS"
    if fails:
        pytest.xfail("; ".join(f"{k}: {KNOWN_WEIR_BUGS[k]}" for k in fails))


def test_java_produce_consume(bs):
    r = run_java("weir.ProduceConsume", bs, name("java-pc"))
    check_matrix(r, [f"produce-consume-{c}" for c in ("none", "gzip", "snappy", "lz4", "zstd")])


@pytest.mark.parametrize("protocol", ["classic", "consumer"])
def test_java_groups(bs, protocol):
    r = run_java("weir.Groups", bs, protocol, name("java-groups"))
    check_matrix(r, [f"group-{protocol}-share-commit", f"group-{protocol}-resume"])


def test_java_admin(bs):
    r = run_java("weir.AdminMatrix", bs, name("java-admin"))
    check_matrix(r, ["admin-describe-cluster", "admin-create-topics", "admin-create-topic-errors",
                     "admin-describe-topics", "admin-describe-topics-by-id", "admin-configs", "admin-create-partitions",
                     "admin-list-offsets", "admin-delete-records", "admin-consumer-groups",
                     "admin-delete-topics"])


SHARE_OFFSETS = ["share-offsets-unknown-group", "share-offsets-list-after-consume",
                 "share-offsets-alter-non-empty-group", "share-offsets-alter-to-earliest",
                 "share-offsets-delete"]


def test_java_share_group_offsets(bs):
    r = run_java("weir.ShareOffsets", bs, name("java-share-offsets"))
    check_matrix(r, SHARE_OFFSETS)


def test_java_streams_wordcount_eos_v2(bs):
    r = run_java("weir.WordCount", bs, name("java-wc"), timeout=300)
    check_matrix(r, ["streams-eos-v2-wordcount", "streams-eos-v2-restore-from-changelog"])


# ------------------------------------------------------------------------ Kafka's command line


@pytest.fixture(scope="module")
def libs():
    try:
        return kafka_peer.kafka_libs()
    except (RuntimeError, subprocess.TimeoutExpired, FileNotFoundError) as e:
        pytest.skip(f"Kafka {kafka_peer.KAFKA_VERSION} jars unavailable: {e}")


def tool(libs, main, *args, input=None, timeout=120, ok=True):
    r = kafka_peer.run_tool(main, *args, input=input, timeout=timeout, libs=libs)
    if ok:
        assert r.returncode == 0, f"{main} {' '.join(args)} exited {r.returncode}:\n{r.stdout}\n{r.stderr[-4000:]}"
    return r


def test_cli_topics(bs, libs):
    t = name("cli-topics")
    tool(libs, "kafka-topics", "--bootstrap-server", bs, "--create", "--topic", t,
         "--partitions", "3", "--replication-factor", "1", "--config", "retention.ms=3600000")
    r = tool(libs, "kafka-topics", "--bootstrap-server", bs, "--list")
    assert t in r.stdout.split(), r.stdout
    r = tool(libs, "kafka-topics", "--bootstrap-server", bs, "--describe", "--topic", t)
    assert re.search(rf"Topic: {t}\s+TopicId: \S+\s+PartitionCount: 3\s+ReplicationFactor: 1", r.stdout), r.stdout
    assert "retention.ms=3600000" in r.stdout, r.stdout
    assert len(re.findall(r"Partition: \d+\s+Leader: \d+\s+Replicas: \d+\s+Isr: \d+", r.stdout)) == 3, r.stdout
    tool(libs, "kafka-topics", "--bootstrap-server", bs, "--alter", "--topic", t, "--partitions", "5")
    r = tool(libs, "kafka-topics", "--bootstrap-server", bs, "--describe", "--topic", t)
    assert "PartitionCount: 5" in r.stdout, r.stdout
    # DescribeTopicPartitions (KIP-966) paged 2 partitions at a time through the cursor.
    r = tool(libs, "kafka-topics", "--bootstrap-server", bs, "--describe", "--topic", t,
             "--partition-size-limit-per-response", "2")
    parts = re.findall(r"Partition: (\d+)\s+Leader: \d+", r.stdout)
    assert sorted(map(int, parts)) == [0, 1, 2, 3, 4], r.stdout
    r = tool(libs, "kafka-topics", "--bootstrap-server", bs, "--create", "--topic", t,
             "--partitions", "1", ok=False)
    assert r.returncode != 0 and "already exists" in (r.stdout + r.stderr), r.stdout + r.stderr
    tool(libs, "kafka-topics", "--bootstrap-server", bs, "--delete", "--topic", t)
    r = tool(libs, "kafka-topics", "--bootstrap-server", bs, "--list")
    assert t not in r.stdout.split(), r.stdout


def test_cli_configs(bs, libs):
    t = name("cli-configs")
    tool(libs, "kafka-topics", "--bootstrap-server", bs, "--create", "--topic", t,
         "--partitions", "1", "--replication-factor", "1")
    tool(libs, "kafka-configs", "--bootstrap-server", bs, "--entity-type", "topics",
         "--entity-name", t, "--alter", "--add-config", "retention.ms=12345,segment.ms=600000")
    r = tool(libs, "kafka-configs", "--bootstrap-server", bs, "--entity-type", "topics",
             "--entity-name", t, "--describe")
    assert "retention.ms=12345" in r.stdout and "segment.ms=600000" in r.stdout, r.stdout
    tool(libs, "kafka-configs", "--bootstrap-server", bs, "--entity-type", "topics",
         "--entity-name", t, "--alter", "--delete-config", "retention.ms")
    r = tool(libs, "kafka-configs", "--bootstrap-server", bs, "--entity-type", "topics",
             "--entity-name", t, "--describe")
    assert "retention.ms=12345" not in r.stdout and "segment.ms=600000" in r.stdout, r.stdout
    r = tool(libs, "kafka-configs", "--bootstrap-server", bs, "--entity-type", "brokers",
             "--entity-default", "--describe")
    assert r.returncode == 0


def consume(libs, bs, t, group, n):
    r = tool(libs, "kafka-console-consumer", "--bootstrap-server", bs, "--topic", t,
             "--group", group, "--from-beginning", "--max-messages", str(n), "--timeout-ms", "30000",
             "--formatter-property", "print.key=true", "--formatter-property", "key.separator=:")
    return sorted(line for line in r.stdout.splitlines() if line.strip())


def test_cli_console_and_consumer_groups(bs, libs):
    t, g = name("cli-console"), name("cli-console-g")
    tool(libs, "kafka-topics", "--bootstrap-server", bs, "--create", "--topic", t,
         "--partitions", "2", "--replication-factor", "1")
    lines = [f"k{i}:v{i}" for i in range(10)]
    tool(libs, "kafka-console-producer", "--bootstrap-server", bs, "--topic", t,
         "--reader-property", "parse.key=true", "--reader-property", "key.separator=:",
         "--producer-property", "acks=all", input="\n".join(lines) + "\n")
    assert consume(libs, bs, t, g, 10) == sorted(lines)
    r = tool(libs, "kafka-consumer-groups", "--bootstrap-server", bs, "--describe", "--group", g)
    rows = [line.split() for line in r.stdout.splitlines() if line.startswith(g)]
    assert len(rows) == 2, r.stdout
    # GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG ...
    assert sum(int(x[3]) for x in rows) == 10 and all(x[5] == "0" for x in rows), r.stdout
    r = tool(libs, "kafka-consumer-groups", "--bootstrap-server", bs, "--list")
    assert g in r.stdout.split(), r.stdout
    r = tool(libs, "kafka-consumer-groups", "--bootstrap-server", bs, "--reset-offsets",
             "--group", g, "--topic", t, "--to-earliest", "--execute")
    rows = [line.split() for line in r.stdout.splitlines() if line.startswith(g)]
    assert len(rows) == 2 and all(x[-1] == "0" for x in rows), r.stdout
    r = tool(libs, "kafka-consumer-groups", "--bootstrap-server", bs, "--describe", "--group", g,
             "--offsets")
    rows = [line.split() for line in r.stdout.splitlines() if line.startswith(g)]
    assert sorted(x[3] for x in rows) == ["0", "0"], r.stdout
    assert consume(libs, bs, t, g, 10) == sorted(lines)
    r = tool(libs, "kafka-consumer-groups", "--bootstrap-server", bs, "--reset-offsets",
             "--group", g, "--topic", f"{t}:0", "--to-offset", "2", "--execute")
    assert re.search(rf"{g}\s+{t}\s+0\s+2", r.stdout), r.stdout
    tool(libs, "kafka-consumer-groups", "--bootstrap-server", bs, "--delete", "--group", g)
    r = tool(libs, "kafka-consumer-groups", "--bootstrap-server", bs, "--list")
    assert g not in r.stdout.split(), r.stdout


def test_cli_producer_perf_test(bs, libs):
    t = name("cli-perf")
    tool(libs, "kafka-topics", "--bootstrap-server", bs, "--create", "--topic", t,
         "--partitions", "2", "--replication-factor", "1")
    r = tool(libs, "kafka-producer-perf-test", "--topic", t, "--num-records", "50000",
             "--record-size", "100", "--throughput", "-1", "--bootstrap-server", bs,
             "--producer-props", "acks=all", "enable.idempotence=true", timeout=180)
    assert re.search(r"^50000 records sent, .* records/sec", r.stdout, re.M), r.stdout
    r = tool(libs, "kafka-get-offsets", "--bootstrap-server", bs, "--topic", t, "--time", "-1")
    # topic:partition:offset per line
    assert sum(int(line.rsplit(":", 1)[1]) for line in r.stdout.split()) == 50000, r.stdout
    r = tool(libs, "kafka-consumer-perf-test", "--bootstrap-server", bs, "--topic", t,
             "--num-records", "50000", "--timeout", "30000", timeout=180)
    # start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, ...
    assert re.search(r"^\d{4}-.*, [\d.]+, [\d.]+, 50000, ", r.stdout, re.M), r.stdout


def test_cli_broker_api_versions(bs, libs):
    r = tool(libs, "kafka-broker-api-versions", "--bootstrap-server", bs)
    assert "Produce(0):" in r.stdout and "Fetch(1):" in r.stdout, r.stdout
    assert "UNSUPPORTED" not in r.stdout.split("Produce(0)")[0], r.stdout
    # Kafka 4.4's newest versions, and the 4.4 client uses them (issue #25).
    for api in ("Produce(0): 3 to 13 [usable: 13]", "Fetch(1): 4 to 18 [usable: 18]",
                "ListOffsets(2): 1 to 11 [usable: 11]", "ApiVersions(18): 0 to 5 [usable: 5]",
                "DescribeLogDirs(35): 1 to 5 [usable: 5]", "OffsetCommit(8): 2 to 10 [usable: 10]",
                "OffsetFetch(9): 1 to 10 [usable: 10]", "TxnOffsetCommit(28): 0 to 6 [usable: 6]",
                "DeleteGroups(42): 0 to 3 [usable: 3]", "WriteTxnMarkers(27): 1 to 2 [usable: 2]",
                "WriteShareGroupState(85): 0 to 1 [usable: 1]",
                # v6 is unstable in Kafka 4.4: neither its broker nor its client uses it.
                "InitProducerId(22): 0 to 5 [usable: 5]"):
        assert api in r.stdout, r.stdout


def test_cli_metadata_quorum(bs, libs):
    """kafka-metadata-quorum describe (DescribeQuorum v2): the single node leads and is caught up."""
    r = tool(libs, "kafka-metadata-quorum", "--bootstrap-server", bs, "describe", "--status")
    assert re.search(r"LeaderId:\s+1\b", r.stdout), r.stdout
    assert re.search(r"HighWatermark:\s+[1-9]\d*", r.stdout), r.stdout
    assert re.search(r"CurrentVoters:\s+\[.*\b1\b", r.stdout), r.stdout
    r = tool(libs, "kafka-metadata-quorum", "--bootstrap-server", bs, "describe", "--replication")
    assert re.search(r"^1\s+\S+\s+\d+\s+0\s+.*Leader", r.stdout, re.M), r.stdout


def test_cli_metadata_quorum_remove_controller(bs, libs):
    """kafka-metadata-quorum remove-controller (the Java Admin's removeRaftVoter, KIP-853): the
    only voter and a node that does not vote are refused with VOTER_NOT_FOUND, as Kafka; the
    quorum is unchanged. (Adding and removing voters in a cluster: crates/weir/tests/quorum_changes.rs.)"""
    if os.environ.get("JAVA_MATRIX_BOOTSTRAP"):
        pytest.skip("needs a single-voter weir broker")
    for voter in ("1", "7"):
        r = tool(libs, "kafka-metadata-quorum", "--bootstrap-server", bs, "remove-controller",
                 "--controller-id", voter, "--controller-directory-id", "AAAAAAAAAAAAAAAAAAAAAA",
                 ok=False)
        assert r.returncode != 0, r.stdout
        assert "VoterNotFoundException" in r.stdout + r.stderr, r.stdout + r.stderr[-3000:]
    r = tool(libs, "kafka-metadata-quorum", "--bootstrap-server", bs, "describe", "--status")
    assert re.search(r"CurrentVoters:\s+\[.*\b1\b", r.stdout), r.stdout


def test_cli_log_dirs(bs, libs):
    """kafka-log-dirs --describe (DescribeLogDirs v5): the topic's partitions in the log dir."""
    t = name("cli-logdirs")
    tool(libs, "kafka-topics", "--bootstrap-server", bs, "--create", "--topic", t,
         "--partitions", "2", "--replication-factor", "1")
    r = tool(libs, "kafka-log-dirs", "--bootstrap-server", bs, "--describe", "--topic-list", t)
    data = json.loads(r.stdout.strip().splitlines()[-1])
    dirs = data["brokers"][0]["logDirs"]
    assert [d["error"] for d in dirs] == [None], r.stdout
    parts = sorted((p["partition"], p["size"], p["isFuture"]) for d in dirs for p in d["partitions"])
    assert parts == [(f"{t}-0", 0, False), (f"{t}-1", 0, False)], r.stdout


def test_cli_log_dirs_move_between_two_dirs(tmp_path, libs):
    """kafka-reassign-partitions with `log_dirs` (AlterReplicaLogDirs through the Java
    AdminClient) moves a replica into the other log dir of a two-dir broker; kafka-log-dirs
    --describe then lists it there."""
    a, b = tmp_path / "dir-a", tmp_path / "dir-b"
    broker = Broker(tmp_path, ["--log-dirs", f"{a},{b}"])
    broker.start()
    try:
        bs = broker.bootstrap
        t = name("cli-jbod")
        tool(libs, "kafka-topics", "--bootstrap-server", bs, "--create", "--topic", t,
             "--partitions", "2", "--replication-factor", "1")

        def where():
            r = tool(libs, "kafka-log-dirs", "--bootstrap-server", bs, "--describe",
                     "--topic-list", t)
            dirs = json.loads(r.stdout.strip().splitlines()[-1])["brokers"][0]["logDirs"]
            assert sorted(d["logDir"] for d in dirs) == sorted([str(a), str(b)]), r.stdout
            return {p["partition"]: d["logDir"] for d in dirs for p in d["partitions"]}
        before = where()
        assert sorted(before.values()) == sorted([str(a), str(b)]), before
        dest = str(b) if before[f"{t}-0"] == str(a) else str(a)
        plan = tmp_path / "plan.json"
        plan.write_text(json.dumps({"version": 1, "partitions": [
            {"topic": t, "partition": 0, "replicas": [1], "log_dirs": [dest]}]}))
        tool(libs, "kafka-reassign-partitions", "--bootstrap-server", bs,
             "--reassignment-json-file", str(plan), "--execute")
        deadline = time.time() + 60
        while where()[f"{t}-0"] != dest:
            assert time.time() < deadline, where()
            time.sleep(0.5)
    finally:
        broker.stop()


def test_cli_share_groups(bs, libs):
    """kafka-share-groups.sh on a share group that weir.ShareOffsets left with all ten records
    accepted: describe (start offset, lag), reset-offsets (dry run, execute), delete-offsets."""
    t = name("cli-share")
    g = f"{t}-group"
    check_matrix(run_java("weir.ShareOffsets", bs, t), SHARE_OFFSETS)

    def describe():
        r = tool(libs, "kafka-share-groups", "--bootstrap-server", bs, "--describe", "--group", g)
        # GROUP TOPIC PARTITION START-OFFSET LAG
        return [line.split()[1:] for line in r.stdout.splitlines() if line.startswith(g)], r.stdout

    rows, out = describe()
    assert rows == [[t, "0", "10", "0"]], out
    r = tool(libs, "kafka-share-groups", "--bootstrap-server", bs, "--reset-offsets", "--group", g,
             "--topic", t, "--to-offset", "4", "--dry-run")
    assert re.search(rf"{g}\s+{t}\s+0\s+4", r.stdout), r.stdout
    assert describe()[0] == [[t, "0", "10", "0"]]
    tool(libs, "kafka-share-groups", "--bootstrap-server", bs, "--reset-offsets", "--group", g,
         "--topic", t, "--to-earliest", "--execute")
    rows, out = describe()
    assert rows == [[t, "0", "0", "10"]], out
    r = tool(libs, "kafka-share-groups", "--bootstrap-server", bs, "--describe", "--group", g,
             "--state")
    assert re.search(rf"{g}\s+\S+\s+\(\d+\)\s+Empty\s+0", r.stdout), r.stdout
    r = tool(libs, "kafka-share-groups", "--bootstrap-server", bs, "--delete-offsets", "--group", g,
             "--topic", t)
    assert re.search(rf"{t}\s+Successful", r.stdout), r.stdout
    rows, out = describe()
    assert rows == [] and "no offset information" in out, out
