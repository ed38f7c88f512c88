"""Prometheus /metrics of real brokers during real-client runs (issue 22): the message-in
counter equals the records produced, a consumer group's lag goes to 0 once it has consumed, and
in a 3-node cluster killing a follower makes the under-replicated gauge positive, then 0 again
after it returns. Every scrape is parsed with prometheus_client's text-format parser."""
import socket
import subprocess
import time
import urllib.error
import urllib.request

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from prometheus_client.parser import text_string_to_metric_families

from conftest import ROOT, Broker, free_cluster_base, node_logs


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(port):
    """{(sample name, sorted label pairs): value} from /metrics on 127.0.0.1:port."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = r.read().decode()
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))))


def total(samples, name, **labels):
    """Sum of the samples of `name` whose labels include `labels`."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= set(ls))


def wait_for(cond, timeout, what):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = cond()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def test_messages_in_and_group_lag(tmp_path):
    http = _free_port()
    b = Broker(tmp_path, extra=["--http-listener", f"127.0.0.1:{http}"])
    b.start()
    try:
        topic, n = "metrics-in", 500
        admin = AdminClient({"bootstrap.servers": b.bootstrap})
        admin.create_topics([NewTopic(topic, 3, 1)])[topic].result(30)
        p = Producer({"bootstrap.servers": b.bootstrap, "enable.idempotence": True,
                      "linger.ms": 5})
        for i in range(n):
            p.produce(topic, key=str(i).encode(), value=f"v{i}".encode())
        assert p.flush(30) == 0
        m = scrape(http)
        assert value(m, "kafka_server_brokertopicmetrics_messagesin_total", topic=topic) == n
        assert value(m, "kafka_server_brokertopicmetrics_bytesin_total", topic=topic) > 0
        assert total(m, "kafka_network_requestmetrics_requests_total", request="Produce") >= 1
        assert total(m, "kafka_network_requestmetrics_totaltime_seconds_count",
                     request="Produce") >= 1
        assert value(m, "kafka_server_replicamanager_partitioncount") >= 3
        assert value(m, "kafka_server_socketservermetrics_connection_count") >= 1

        # Consume about half and commit: the lag is what is left; then the rest: lag 0.
        c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "g-metrics",
                      "auto.offset.reset": "earliest", "enable.auto.commit": False})
        c.subscribe([topic])
        got = 0
        deadline = time.time() + 60
        while got < n // 2 and time.time() < deadline:
            msg = c.poll(0.5)
            if msg is not None and not msg.error():
                got += 1
        c.commit(asynchronous=False)
        committed = {tp.partition: tp.offset for tp in c.committed(
            [TopicPartition(topic, i) for i in range(3)], timeout=10) if tp.offset >= 0}
        assert committed, "nothing committed"
        wait_for(lambda: total(scrape(http), "kafka_consumergroup_lag",
                               consumergroup="g-metrics", topic=topic) > 0, 30, "a positive lag")
        m = scrape(http)
        for part, off in committed.items():
            high = c.get_watermark_offsets(TopicPartition(topic, part), timeout=10)[1]
            assert value(m, "kafka_consumergroup_lag", consumergroup="g-metrics", topic=topic,
                         partition=str(part)) == high - off, (part, high, off)
        while got < n and time.time() < deadline:
            msg = c.poll(0.5)
            if msg is not None and not msg.error():
                got += 1
        assert got == n
        c.commit(asynchronous=False)
        wait_for(lambda: value(scrape(http), "kafka_consumergroup_lag_sum",
                               consumergroup="g-metrics") == 0, 30, "lag 0")
        m = scrape(http)
        assert total(m, "kafka_consumergroup_lag", consumergroup="g-metrics") == 0
        assert value(m, "kafka_server_brokertopicmetrics_bytesout_total", topic=topic) > 0
        c.close()
    finally:
        b.stop()


def _start_node(weir, tmp_path, i, base, voters, extra):
    d = tmp_path / f"node-{i}"
    d.mkdir(exist_ok=True)
    port = base + 100 * (i - 1)
    return subprocess.Popen(
        [weir, "serve", "--node-id", str(i), "--process-roles", "broker,controller",
         "--controller-quorum-voters", voters,
         "--listeners", f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{port + 1}",
         "--advertised-listeners", f"PLAINTEXT://127.0.0.1:{port}",
         "--http-listener", f"127.0.0.1:{port + 2}",
         "--log-dirs", str(d / "logs"), *extra],
        stdout=open(d / "weir.log", "ab"), stderr=subprocess.STDOUT)


def _scrape_or_none(port):
    try:
        return scrape(port)
    except (urllib.error.URLError, ConnectionError, OSError):
        return None


def test_under_replicated_after_follower_kill9(tmp_path):
    weir = str(ROOT / "target" / "debug" / "weir")
    base = free_cluster_base(offsets=(0, 1, 2))
    voters = ",".join(f"{i}@127.0.0.1:{base + 100 * (i - 1) + 1}" for i in (1, 2, 3))
    extra = ["--default-replication-factor", "3", "--broker-session-timeout-ms", "3000",
             "--broker-heartbeat-interval-ms", "500", "--replica-lag-time-max-ms", "3000"]
    nodes = {i: _start_node(weir, tmp_path, i, base, voters, extra) for i in (1, 2, 3)}
    http = {i: base + 100 * (i - 1) + 2 for i in (1, 2, 3)}
    bs = ",".join(f"127.0.0.1:{base + 100 * i}" for i in range(3))
    logs = lambda: node_logs(tmp_path / f"node-{i}" / "weir.log" for i in nodes)  # noqa: E731

    def under_replicated(alive):
        scrapes = [_scrape_or_none(http[i]) for i in alive]
        if any(s is None for s in scrapes):
            return None
        # A node still starting (not yet unfenced, partitions not loaded) has no such gauge yet.
        values = [value(s, "kafka_server_replicamanager_underreplicatedpartitions")
                  for s in scrapes]
        if any(v is None for v in values):
            return None
        return sum(values)

    try:
        admin = AdminClient({"bootstrap.servers": bs})
        for _ in range(200):
            try:
                admin.create_topics([NewTopic("urp", 3, 3)])["urp"].result()
                break
            except Exception:  # noqa: BLE001 - still electing / registering
                assert all(n.poll() is None for n in nodes.values()), logs()
                time.sleep(0.3)
        else:
            raise AssertionError("no topic after 200 tries:\n" + logs())
        p = Producer({"bootstrap.servers": bs, "acks": "all"})
        for i in range(30):
            p.produce("urp", value=f"r{i}".encode(), partition=i % 3)
        assert p.flush(60) == 0
        wait_for(lambda: under_replicated((1, 2, 3)) == 0, 60, "a fully replicated start")
        # Every node answers /ready; exactly one is the active controller.
        for i in (1, 2, 3):
            with urllib.request.urlopen(f"http://127.0.0.1:{http[i]}/ready", timeout=5) as r:
                assert r.status == 200
        assert sum(value(scrape(http[i]), "kafka_controller_kafkacontroller_activecontrollercount")
                   for i in (1, 2, 3)) == 1

        # kill -9 a follower of partition 0.
        leader = admin.list_topics("urp").topics["urp"].partitions[0].leader
        victim = next(i for i in (1, 2, 3) if i != leader)
        nodes[victim].kill()
        nodes[victim].wait()
        alive = [i for i in (1, 2, 3) if i != victim]
        urp = wait_for(lambda: (under_replicated(alive) or 0) > 0 and under_replicated(alive),
                       60, "under-replicated partitions after the kill")
        assert urp >= 1, logs()
        assert sum(value(scrape(http[i]), "kafka_server_replicamanager_isrshrinks_total") or 0
                   for i in alive) >= 1, logs()

        # It returns: the ISRs grow back and nothing is under-replicated.
        nodes[victim] = _start_node(weir, tmp_path, victim, base, voters, extra)
        wait_for(lambda: under_replicated((1, 2, 3)) == 0, 90,
                 "no under-replicated partition after the restart")
        assert sum(value(scrape(http[i]), "kafka_server_replicamanager_isrexpands_total") or 0
                   for i in (1, 2, 3)) >= 1, logs()
        assert sum(value(scrape(http[i]), "kafka_controller_kafkacontroller_offlinepartitionscount")
                   for i in (1, 2, 3)) == 0
    finally:
        for n in nodes.values():
            if n.poll() is None:
                n.kill()
                n.wait()
