"""ACL authorization (issue 21, point 3) with a real client (confluent-kafka / librdkafka) and the
`weir acls` CLI against a real weir process with the authorizer on.

Who the client is: Weir has no SASL or mTLS yet, so every client of a PLAINTEXT listener is
Kafka's `User:ANONYMOUS`. The test therefore changes what that principal may do the way a Kafka
operator bootstraps ACLs: it restarts the broker (same log dir: the ACLs live in the replicated
metadata and survive) with `super.users=User:ANONYMOUS` for the admin phases and without it for
the "ordinary user" phases. Once SASL exists, `as_user` returns that user's SASL settings, the
admin is a separate super user, and the restarts go (see `Phase`)."""
import subprocess
import sys
import time
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from conftest import Broker

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import kafka_peer  # noqa: E402

USER = "User:ANONYMOUS"  # the only principal a PLAINTEXT client can have today


def as_user(broker, user=USER):
    """Client settings of `user` (today: PLAINTEXT, i.e. User:ANONYMOUS)."""
    assert user == USER, "needs SASL: every PLAINTEXT client is User:ANONYMOUS"
    return {"bootstrap.servers": broker.bootstrap}


class Phase:
    """The broker with the authorizer on, restarted on the same log dir with or without
    `super.users=User:ANONYMOUS`."""

    def __init__(self, tmp_path):
        self.broker = Broker(tmp_path)

    def start(self, anonymous_is_super_user):
        self.broker.stop()
        self.broker.extra = ["--authorizer"]
        if anonymous_is_super_user:
            self.broker.extra += ["--super-users", USER]
        self.broker.start()
        return self.broker


def produce_one(broker, topic, timeout=20):
    """Produce one record; the delivery error code (None = delivered)."""
    p = Producer({**as_user(broker), "acks": "all", "message.timeout.ms": timeout * 1000})
    result = []
    p.produce(topic, value=b"v", on_delivery=lambda err, msg: result.append(err))
    p.flush(timeout + 5)
    assert result, f"no delivery report for {topic}"
    return result[0].code() if result[0] else None


def consume_error(broker, topic, timeout=20):
    """Try to read `topic` in a group: the first error code the consumer reports, or None when a
    record arrives."""
    c = Consumer({**as_user(broker), "group.id": "readers", "auto.offset.reset": "earliest",
                  "enable.auto.commit": False})
    c.subscribe([topic])
    deadline = time.time() + timeout
    try:
        while time.time() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                return m.error().code()
            return None
    finally:
        c.close()
    raise AssertionError(f"neither a record nor an error from {topic} in {timeout}s")


def create_topic_error(broker, name):
    admin = AdminClient(as_user(broker))
    try:
        admin.create_topics([NewTopic(name, 1, 1)])[name].result(15)
        return None
    except Exception as e:  # KafkaException wrapping the KafkaError
        return e.args[0].code()


def listed_topics(broker):
    md = AdminClient(as_user(broker)).list_topics(timeout=15)
    return sorted(t for t in md.topics if not t.startswith("__"))


def weir_acls(broker, *args):
    return subprocess.run([broker.bin, "acls", "-b", broker.bootstrap, *args],
                          capture_output=True, text=True, timeout=60)


def test_deny_by_default_prefix_grant_deny_wins_and_super_user(tmp_path):
    phase = Phase(tmp_path)
    try:
        # A super user can do everything: create topics, produce, consume.
        b = phase.start(anonymous_is_super_user=True)
        for t in ["p-a", "p-b", "q-a"]:
            assert create_topic_error(b, t) is None
        assert produce_one(b, "q-a") is None
        assert consume_error(b, "q-a") is None
        assert listed_topics(b) == ["p-a", "p-b", "q-a"]

        # An ordinary user with no ACLs: no listing, producing, consuming, creating, nor ACLs.
        b = phase.start(anonymous_is_super_user=False)
        assert listed_topics(b) == []
        assert produce_one(b, "q-a") == KafkaError.TOPIC_AUTHORIZATION_FAILED
        assert consume_error(b, "q-a") in (KafkaError.GROUP_AUTHORIZATION_FAILED,
                                           KafkaError.TOPIC_AUTHORIZATION_FAILED)
        assert create_topic_error(b, "p-new") == KafkaError.TOPIC_AUTHORIZATION_FAILED
        denied = weir_acls(b, "create", "--allow-principal", USER, "--operation", "WRITE",
                           "--topic", "p-", "--resource-pattern-type", "prefixed")
        assert denied.returncode != 0 and "CLUSTER_AUTHORIZATION_FAILED" in denied.stderr, denied
        assert "CLUSTER_AUTHORIZATION_FAILED" in weir_acls(b, "list").stderr

        # The super user grants WRITE on the prefix p- (and ALTER on the cluster: the user may
        # manage ACLs itself, a delegation Kafka allows too).
        b = phase.start(anonymous_is_super_user=True)
        out = weir_acls(b, "create", "--allow-principal", USER, "--operation", "WRITE",
                        "--topic", "p-", "--resource-pattern-type", "prefixed")
        assert out.returncode == 0, out
        assert "PREFIXED" in out.stdout and "WRITE" in out.stdout
        out = weir_acls(b, "create", "--allow-principal", USER, "--operation", "ALTER",
                        "--cluster")
        assert out.returncode == 0, out

        # The user can produce to p-* only, and sees only those topics (WRITE implies DESCRIBE).
        b = phase.start(anonymous_is_super_user=False)
        assert produce_one(b, "p-a") is None
        assert produce_one(b, "p-b") is None
        assert produce_one(b, "q-a") == KafkaError.TOPIC_AUTHORIZATION_FAILED
        assert listed_topics(b) == ["p-a", "p-b"]
        assert consume_error(b, "p-a") in (KafkaError.GROUP_AUTHORIZATION_FAILED,
                                           KafkaError.TOPIC_AUTHORIZATION_FAILED)
        assert create_topic_error(b, "p-c") == KafkaError.TOPIC_AUTHORIZATION_FAILED

        # kafka-acls' --consumer (READ, DESCRIBE on the topic, READ on the group): now it reads.
        out = weir_acls(b, "create", "--allow-principal", USER, "--consumer", "--topic", "p-a",
                        "--group", "readers")
        assert out.returncode == 0 and "created 3 ACL(s)" in out.stdout, out
        assert consume_error(b, "p-a") is None
        assert consume_error(b, "q-a") == KafkaError.TOPIC_AUTHORIZATION_FAILED

        # A DENY overrides the ALLOW (created by the user itself, with ALTER on the cluster).
        out = weir_acls(b, "create", "--deny-principal", USER, "--operation", "WRITE",
                        "--topic", "p-b")
        assert out.returncode == 0, out
        assert produce_one(b, "p-b") == KafkaError.TOPIC_AUTHORIZATION_FAILED
        assert produce_one(b, "p-a") is None
        listed = weir_acls(b, "list", "--topic", "p-b", "--resource-pattern-type", "match")
        assert listed.returncode == 0, listed
        assert "DENY" in listed.stdout and "PREFIXED" in listed.stdout

        # Deleting the DENY gives the write back.
        out = weir_acls(b, "delete", "--deny-principal", USER, "--operation", "WRITE",
                        "--topic", "p-b")
        assert out.returncode == 0 and "deleted 1 ACL(s)" in out.stdout, out
        assert produce_one(b, "p-b") is None
    finally:
        phase.broker.stop()


@pytest.fixture(scope="module")
def libs():
    try:
        return kafka_peer.kafka_libs()
    except (RuntimeError, subprocess.TimeoutExpired, FileNotFoundError) as e:
        pytest.skip(f"Kafka {kafka_peer.KAFKA_VERSION} jars unavailable: {e}")


def test_kafka_acls_tool(tmp_path, libs):
    """Kafka 4.4's own kafka-acls (AclCommand, AdminClient createAcls / describeAcls /
    deleteAcls) against Weir, as a super user; then, without super.users, refused."""
    phase = Phase(tmp_path)

    def acls(*args, ok=True):
        r = kafka_peer.run_tool("org.apache.kafka.tools.AclCommand", "--bootstrap-server",
                                phase.broker.bootstrap, *args, libs=libs, timeout=120)
        if ok:
            assert r.returncode == 0, r.stdout + r.stderr[-3000:]
        return r

    try:
        phase.start(anonymous_is_super_user=True)
        acls("--add", "--allow-principal", "User:alice", "--operation", "Read",
             "--topic", "orders", "--group", "app")
        acls("--add", "--allow-principal", "User:bob", "--producer", "--topic", "p-",
             "--resource-pattern-type", "prefixed")
        listed = acls("--list").stdout
        assert "name=orders, patternType=LITERAL" in listed, listed
        assert "name=app, patternType=LITERAL" in listed, listed
        # --producer is WRITE, DESCRIBE and CREATE on the prefix.
        for op in ("WRITE", "DESCRIBE", "CREATE"):
            assert f"principal=User:bob, host=*, operation={op}, permissionType=ALLOW" in listed
        # MATCH: what applies to topic p-1 is the prefix.
        match = acls("--list", "--topic", "p-1", "--resource-pattern-type", "match").stdout
        assert "name=p-, patternType=PREFIXED" in match and "orders" not in match, match
        acls("--remove", "--force", "--allow-principal", "User:bob", "--producer", "--topic", "p-",
             "--resource-pattern-type", "prefixed")
        listed = acls("--list").stdout
        assert "User:bob" not in listed and "User:alice" in listed, listed
        # The same in `weir acls`.
        out = weir_acls(phase.broker, "list", "--json")
        assert out.returncode == 0 and '"principal":"User:alice"' in out.stdout, out

        phase.start(anonymous_is_super_user=False)
        r = acls("--list", ok=False)
        assert "ClusterAuthorizationException" in r.stdout + r.stderr, r.stdout + r.stderr[-3000:]
    finally:
        phase.broker.stop()
