"""ElectLeaders (key 43) with confluent-kafka's AdminClient.elect_leaders against three real
`weir` nodes: a preferred election gives leadership back to the first replica; an unclean one
gives a leaderless partition to a live replica outside its ISR; the errors Kafka answers."""
import subprocess
import time

from confluent_kafka import ElectionType, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from conftest import ROOT, free_cluster_base, node_logs, start_cluster_node

EXTRA = ["--broker-session-timeout-ms", "3000", "--broker-heartbeat-interval-ms", "500",
         "--auto-leader-rebalance-enable", "false"]


def wait_for(cond, timeout=60, what="condition"):
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


def create(admin, topic):
    """Create `topic`; True also when an earlier attempt whose answer was lost created it."""
    try:
        admin.create_topics([topic])[topic.topic].result()
    except KafkaException as e:
        if e.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
            raise
    return True


def partition(admin, topic, p=0):
    return admin.list_topics(topic, timeout=10).topics[topic].partitions[p]


def elect(admin, kind, parts):
    """{(topic, partition): KafkaError or None} from elect_leaders."""
    f = admin.elect_leaders(kind, parts)
    return {(tp.topic, tp.partition): tp.error for tp in f.result(timeout=30)}


def test_preferred_and_unclean_elections(tmp_path):
    weir = str(ROOT / "target" / "debug" / "weir")
    base = free_cluster_base(5)
    voters = ",".join(f"{i}@127.0.0.1:{base + 100 * (i - 1) + 1}" for i in (1, 2, 3))
    nodes = {i: start_cluster_node(weir, tmp_path, i, base, voters, EXTRA) for i in (1, 2, 3)}
    # Two broker-only nodes hold the unclean test's partition, so killing both keeps the quorum.
    for i in (4, 5):
        nodes[i] = start_cluster_node(weir, tmp_path, i, base, voters, EXTRA, roles="broker")
    logs = [tmp_path / f"node-{i}" / "weir.log" for i in (1, 2, 3)]
    bs = ",".join(f"127.0.0.1:{base + 100 * i}" for i in range(3))

    def restart(i):
        roles = "broker" if i > 3 else "broker,controller"
        nodes[i] = start_cluster_node(weir, tmp_path, i, base, voters, EXTRA, roles=roles)
    try:
        admin = AdminClient({"bootstrap.servers": bs})
        # Every broker live (Metadata lists the unfenced ones), so the assignments' first
        # replicas lead.
        wait_for(lambda: set(admin.list_topics(timeout=10).brokers) == {1, 2, 3, 4, 5},
                 what=lambda: "five live brokers:\n" + node_logs(logs))
        wait_for(lambda: create(admin, NewTopic("pref", 1, replica_assignment=[[1, 2, 3]])),
                 what=lambda: "topic creation:\n" + node_logs(logs))
        wait_for(lambda: len(partition(admin, "pref").isrs) == 3, what="a full ISR")
        p = partition(admin, "pref")
        preferred = p.replicas[0]
        assert p.leader == preferred

        # Nothing to do while the preferred replica leads.
        r = elect(admin, ElectionType.PREFERRED, [TopicPartition("pref", 0)])
        assert r[("pref", 0)].code() == 84, r  # ELECTION_NOT_NEEDED

        # The preferred leader dies: leadership moves; back, it rejoins the ISR as a follower.
        nodes[preferred].kill()
        nodes[preferred].wait()
        wait_for(lambda: partition(admin, "pref").leader not in (-1, preferred), what="failover")
        r = elect(admin, ElectionType.PREFERRED, [TopicPartition("pref", 0)])
        assert r[("pref", 0)].code() == 80, r  # PREFERRED_LEADER_NOT_AVAILABLE
        restart(preferred)
        wait_for(lambda: preferred in partition(admin, "pref").isrs, what="the ISR rejoin")
        assert partition(admin, "pref").leader != preferred, "no automatic rebalance here"
        # `weir leaders elect` (the CLI over ElectLeaders) gives it back.
        out = subprocess.run([weir, "leaders", "elect", "-b", bs, "--preferred", "--topic", "pref"],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0 and "pref-0: leader elected" in out.stdout, out
        wait_for(lambda: partition(admin, "pref").leader == preferred, what="the preferred leader")
        # Over all partitions, only those whose leader changes are reported: none now.
        assert admin.elect_leaders(ElectionType.PREFERRED, None).result(timeout=30) == {}
        out = subprocess.run([weir, "leaders", "elect", "-b", bs, "--preferred"],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0 and "no partition needed an election" in out.stdout, out

        r = elect(admin, ElectionType.PREFERRED, [TopicPartition("nope", 0)])
        assert r[("nope", 0)].code() == 3, r  # UNKNOWN_TOPIC_OR_PARTITION

        # Unclean: on the broker-only nodes 4 and 5; the follower dies (the ISR shrinks to the
        # leader), then the leader; the follower comes back: live, not in the ISR, so the
        # partition stays leaderless until an unclean election gives it to the follower, alone
        # in the ISR.
        wait_for(lambda: create(admin, NewTopic("dirty", 1, replica_assignment=[[4, 5]])),
                 what="topic creation")
        wait_for(lambda: len(partition(admin, "dirty").isrs) == 2, what="a full ISR")
        d = partition(admin, "dirty")
        leader, follower = d.leader, [x for x in d.replicas if x != d.leader][0]
        nodes[follower].kill()
        nodes[follower].wait()
        wait_for(lambda: partition(admin, "dirty").isrs == [leader], what="the ISR shrink")
        nodes[leader].kill()
        nodes[leader].wait()
        restart(follower)
        wait_for(lambda: follower in admin.list_topics(timeout=10).brokers
                 and partition(admin, "dirty").leader == -1, what="a leaderless partition")
        r = elect(admin, ElectionType.PREFERRED, [TopicPartition("dirty", 0)])
        assert r[("dirty", 0)].code() == 80, r
        r = elect(admin, ElectionType.UNCLEAN, [TopicPartition("dirty", 0)])
        assert r[("dirty", 0)] is None, r
        wait_for(lambda: partition(admin, "dirty").leader == follower, what="the unclean leader")
        assert partition(admin, "dirty").isrs == [follower]
        r = elect(admin, ElectionType.UNCLEAN, [TopicPartition("dirty", 0)])
        assert r[("dirty", 0)].code() == 84, r  # it has a leader now
        log = "".join(p.read_text() for p in logs)
        assert "UNCLEAN leader election" in log
    finally:
        for n in nodes.values():
            if n.poll() is None:
                n.kill()
                n.wait()
