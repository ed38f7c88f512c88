"""Share groups (KIP-932) through librdkafka's own C share-consumer API
(rd_kafka_share_consumer_new / rd_kafka_share_poll / rd_kafka_share_acknowledge_type /
rd_kafka_share_commit_sync / rd_kafka_share_consumer_close) against a real weir process.

The C program tests/c/share_consumer.c is compiled here with `cc` and linked against the
librdkafka shared object bundled in the confluent-kafka wheel (which ships no headers: the
program declares the prototypes it uses). It prints one line per record,
`partition offset delivery_count value`; see its header comment for the arguments."""
import glob
import signal
import subprocess
import threading
import time
from pathlib import Path

import confluent_kafka
import pytest

from conftest import ROOT, Broker
from test_share_groups import LOW_LOCK, create, group_configs, produce

SOURCE = ROOT / "tests" / "c" / "share_consumer.c"


def _bundled_librdkafka():
    """The librdkafka shared object of the installed confluent-kafka wheel."""
    pkg = Path(confluent_kafka.__file__).resolve().parent
    found = sorted(glob.glob(str(pkg.parent / "confluent_kafka.libs" / "librdkafka*.so*"))
                   + glob.glob(str(pkg / "**" / "librdkafka*.so*"), recursive=True))
    assert found, f"no bundled librdkafka next to {pkg}"
    return Path(found[0])


@pytest.fixture(scope="module")
def helper(tmp_path_factory):
    lib = _bundled_librdkafka()
    exe = tmp_path_factory.mktemp("c") / "share_consumer"
    subprocess.run(["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-O1", "-o", str(exe),
                    str(SOURCE), f"-L{lib.parent}", f"-l:{lib.name}",
                    f"-Wl,-rpath,{lib.parent}"], check=True)
    return str(exe)


@pytest.fixture
def sbroker(tmp_path):
    b = Broker(tmp_path, extra=LOW_LOCK)
    b.start()
    yield b
    b.stop()


class Helper:
    """One run of the C share consumer; its stdout is parsed as it arrives."""

    def __init__(self, exe, bootstrap, group, topic, mode, max_records=0, timeout_ms=60000,
                 max_poll_records=None, batch_delay_ms=None):
        args = [exe, bootstrap, group, topic, mode, str(max_records), str(timeout_ms)]
        if max_poll_records is not None:
            args.append(str(max_poll_records))
            if batch_delay_ms is not None:
                args.append(str(batch_delay_ms))
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        self.records = []  # (partition, offset, delivery_count, value)
        self.stderr = ""
        self._lock = threading.Lock()
        self._out = threading.Thread(target=self._read, daemon=True)
        self._err = threading.Thread(target=self._read_err, daemon=True)
        self._out.start()
        self._err.start()

    def _read(self):
        for line in self.proc.stdout:
            p, o, d, v = line.rstrip("\n").split(" ", 3)
            with self._lock:
                self.records.append((int(p), int(o), int(d), v))

    def _read_err(self):
        self.stderr = self.proc.stderr.read()

    def seen(self):
        with self._lock:
            return list(self.records)

    def wait(self, timeout=60):
        rc = self.proc.wait(timeout=timeout)
        self._out.join(10)
        self._err.join(10)
        return rc

    def stop(self):
        """SIGTERM: the helper commits what it acknowledged, closes and exits 0."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.wait()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.wait()


def await_until(cond, timeout, what):
    deadline = time.time() + timeout
    while not cond():
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def first_available(exe, bs, group, topic, expect_value):
    """Produce one more record and read the group's next available record: if everything
    before it was acknowledged for good, that is the new one."""
    produce(bs, topic, 1, prefix=expect_value)
    h = Helper(exe, bs, group, topic, "accept", max_records=1, timeout_ms=30000)
    assert h.wait() == 0, h.stderr
    return h.records[0]


def test_two_consumers_share_every_record_once(helper, sbroker):
    bs = sbroker.bootstrap
    n = 300
    create(bs, "c-shared")
    produce(bs, "c-shared", n)
    # Small acquisitions and consumers that take their time: neither can take everything.
    group_configs(bs, "gc-shared", share_auto_offset_reset="earliest",
                  share_acquire_mode="record_limit")
    helpers = [Helper(helper, bs, "gc-shared", "c-shared", "accept", max_poll_records=10,
                      batch_delay_ms=100) for _ in range(2)]
    try:
        await_until(lambda: len({r[1] for h in helpers for r in h.seen()}) >= n, 60,
                    "the two helpers to receive all records")
        rcs = [h.stop() for h in helpers]
    finally:
        for h in helpers:
            h.kill()
    assert rcs == [0, 0], [h.stderr for h in helpers]
    got = [r for h in helpers for r in h.records]
    offsets = sorted(o for _, o, _, _ in got)
    assert offsets == list(range(n)), [o for o in set(offsets) if offsets.count(o) > 1][:20]
    assert all(p == 0 and d == 1 and v == f"v{o}" for p, o, d, v in got), got
    assert all(h.records for h in helpers), [len(h.records) for h in helpers]
    # Every acceptance was committed: the group's next record is a new one.
    assert first_available(helper, bs, "gc-shared", "c-shared", "end")[1:] == (n, 1, "end0")


def test_released_records_are_redelivered(helper, sbroker):
    bs = sbroker.bootstrap
    n = 10
    create(bs, "c-release")
    produce(bs, "c-release", n)
    group_configs(bs, "gc-release", share_auto_offset_reset="earliest")
    # Releases everything it gets until it has had 2n deliveries: the records come back to it.
    rel = Helper(helper, bs, "gc-release", "c-release", "release", max_records=2 * n)
    try:
        assert rel.wait() == 0, rel.stderr
    finally:
        rel.kill()
    counts = {}
    for _, o, d, v in rel.records:
        assert d == counts.get(o, 0) + 1, ("delivery count does not rise by one", rel.records)
        assert v == f"v{o}"
        counts[o] = d
    assert max(counts.values()) >= 2, rel.records
    acc = Helper(helper, bs, "gc-release", "c-release", "accept", max_records=n,
                 timeout_ms=30000)
    assert acc.wait() == 0, acc.stderr
    assert sorted(o for _, o, _, _ in acc.records) == list(range(n)), acc.records
    for _, o, d, _ in acc.records:
        assert d > counts.get(o, 0), (o, d, counts)
    assert first_available(helper, bs, "gc-release", "c-release", "end")[1:] == (n, 1, "end0")


def test_rejected_records_are_not_redelivered(helper, sbroker):
    bs = sbroker.bootstrap
    n = 10
    create(bs, "c-reject")
    produce(bs, "c-reject", n)
    group_configs(bs, "gc-reject", share_auto_offset_reset="earliest")
    rej = Helper(helper, bs, "gc-reject", "c-reject", "reject", max_records=n, timeout_ms=30000)
    assert rej.wait() == 0, rej.stderr
    assert sorted(o for _, o, _, _ in rej.records) == list(range(n)), rej.records
    assert first_available(helper, bs, "gc-reject", "c-reject", "end")[1:] == (n, 1, "end0")


def _held_then_taken_over(exe, bs, group, topic, n, lock_ms, disrupt):
    """A `hold` helper acquires records without acknowledging them; `disrupt(helper)` stops it
    in some way; then an accepting helper must get all `n` records. Returns (records the holder
    had, the accepting helper's records, seconds until the accepting helper had them all)."""
    create(bs, topic)
    produce(bs, topic, n)
    group_configs(bs, group, share_auto_offset_reset="earliest",
                  share_record_lock_duration_ms=lock_ms)
    hold = Helper(exe, bs, group, topic, "hold", timeout_ms=120000)
    try:
        await_until(lambda: hold.seen(), 30, "the holding helper to acquire records")
        disrupt(hold)
        held = {o for _, o, _, _ in hold.seen()}
        assert held and all(d == 1 for _, _, d, _ in hold.seen()), hold.seen()
        t0 = time.time()
        acc = Helper(exe, bs, group, topic, "accept", max_records=n, timeout_ms=60000)
        assert acc.wait(90) == 0, acc.stderr
        elapsed = time.time() - t0
    finally:
        if hold.proc.poll() is None:
            hold.proc.send_signal(signal.SIGCONT)
        hold.kill()
    assert sorted(o for _, o, _, _ in acc.records) == list(range(n)), acc.records
    for _, o, d, _ in acc.records:
        assert d == (2 if o in held else 1), (o, d, sorted(held))
    return held, acc.records, elapsed


def test_paused_consumer_records_return_after_the_lock(helper, sbroker):
    """SIGSTOP keeps the holder's connection open: only the acquisition lock (1 s) frees its
    records."""
    bs = sbroker.bootstrap
    _, _, elapsed = _held_then_taken_over(
        helper, bs, "gc-pause", "c-pause", 20, 1000,
        lambda h: h.proc.send_signal(signal.SIGSTOP))
    assert elapsed < 20, elapsed
    assert first_available(helper, bs, "gc-pause", "c-pause", "end")[1:] == (20, 1, "end0")


def test_killed_consumer_records_return_when_its_connection_closes(helper, sbroker):
    """kill -9 closes the holder's connection: as in Kafka (the share session cache's
    disconnect listener) its records are released at once, long before the 60 s lock."""
    bs = sbroker.bootstrap
    _, _, elapsed = _held_then_taken_over(helper, bs, "gc-kill", "c-kill", 20, 60000,
                                          lambda h: h.kill())
    assert elapsed < 20, elapsed
    assert first_available(helper, bs, "gc-kill", "c-kill", "end")[1:] == (20, 1, "end0")
