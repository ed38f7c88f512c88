"""The Java client (kafka-clients, pinned in tests/java/pom.xml) against a real `weir` broker:
transactions with transaction version 2 (KIP-890: the broker finalizes transaction.version=2,
the client adds no partitions itself and EndTxn bumps the epoch) and with the original protocol
(--transaction-version 1). The Java program checks Kafka's semantics itself and exits non-zero
on any difference."""
import subprocess
from pathlib import Path

import pytest

from conftest import Broker

ROOT = Path(__file__).resolve().parents[2]
JAVA = ROOT / "tests" / "java" / "target"


def run_java(main, *args, timeout=180):
    jar = JAVA / "weir-java-clients-0.1.0.jar"
    assert jar.exists(), "build tests/java first: mvn -f tests/java/pom.xml package"
    cp = f"{jar}:{JAVA / 'lib'}/*"
    return subprocess.run(
        ["java", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", "-cp", cp, main, *args],
        capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("tv", ["2", "1"])
def test_java_transactions(tmp_path, tv):
    b = Broker(tmp_path, ["--transaction-version", tv])
    b.start()
    try:
        r = run_java("weir.TxnSmoke", b.bootstrap, f"java-txn-tv{tv}", tv)
        assert r.returncode == 0, r.stdout + r.stderr + b.out.read_text()[-3000:]
        assert r.stdout.strip().endswith("OK"), r.stdout
    finally:
        b.stop()


def test_java_share_consumer(tmp_path):
    """KafkaShareConsumer (KIP-932) of the Java client: explicit ACCEPT of every record and one
    RELEASE that comes back with delivery count 2."""
    b = Broker(tmp_path)
    b.start()
    try:
        r = run_java("weir.ShareSmoke", b.bootstrap)
        assert r.returncode == 0, r.stdout + r.stderr + b.out.read_text()[-3000:]
        assert r.stdout.strip().endswith("OK"), r.stdout
    finally:
        b.stop()


@pytest.mark.parametrize("scenario", ["renew", "record-limit"])
def test_java_share_consumer_v2(tmp_path, scenario):
    """ShareFetch / ShareAcknowledge v2 with the Java KafkaShareConsumer: AcknowledgeType.RENEW
    keeps a record past twice its group's 2 s lock without redelivery to another member, then
    ACCEPT (KIP-1222); share.acquire.mode=record_limit bounds every acquisition by
    max.poll.records (KIP-1206). The lock duration needs the broker's minimum lowered."""
    b = Broker(tmp_path, ["--group-share-min-record-lock-duration-ms", "1000"])
    b.start()
    try:
        r = run_java("weir.ShareV2", b.bootstrap, scenario)
        assert r.returncode == 0, r.stdout + r.stderr + b.out.read_text()[-3000:]
        assert r.stdout.strip().endswith("OK"), r.stdout
    finally:
        b.stop()
