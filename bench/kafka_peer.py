#!/usr/bin/env python3
"""Apache Kafka 4.4.0 as a peer broker on loopback (issue #25).

The broker, tools, Streams and Connect jars come from Maven Central through `mvn
dependency:copy-dependencies` on a small pom written into the cache directory
(~/.cache/weir-kafka-4.4.0, or $WEIR_KAFKA_CACHE); nothing else is downloaded. A broker is a single
KRaft node, broker and controller in one process (`process.roles=broker,controller`), formatted with
`kafka.tools.StorageTool format --standalone` and run as `java -cp '<libs>/*' kafka.Kafka
server.properties`, with Kafka's defaults except the single-node replication factors and
`group.initial.rebalance.delay.ms=0`. `durable=True` adds `log.flush.interval.messages=1` (an fsync
per appended batch, as Weir does by default); without it Kafka acknowledges from the page cache.

Usable from bench/compare.py, from tests and from a shell:

    python3 bench/kafka_peer.py libs          # resolve the jars, print the lib directory
    python3 bench/kafka_peer.py run [--durable] # start a broker, print its bootstrap, wait for ^C
    python3 bench/kafka_peer.py cp            # print a classpath usable with `java -cp`

    from kafka_peer import KafkaPeer, kafka_libs
    with KafkaPeer(workdir) as k: ... k.bootstrap ...
"""

import base64
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid

KAFKA_VERSION = "4.4.0"
LOG4J_VERSION = "2.25.5"
# Artifacts resolved with their runtime dependencies: the broker (kafka_2.13 with kafka-server,
# raft, metadata, storage, the coordinators), the command-line tools, Streams, the Connect runtime
# and a log4j2 backend for all of them. (org.apache.kafka:connect-file, the FileStream connectors,
# is not served by the registry this machine reaches.)
ARTIFACTS = [
    ("org.apache.kafka", "kafka_2.13", KAFKA_VERSION),
    ("org.apache.kafka", "kafka-server", KAFKA_VERSION),
    ("org.apache.kafka", "kafka-tools", KAFKA_VERSION),
    ("org.apache.kafka", "kafka-streams", KAFKA_VERSION),
    ("org.apache.kafka", "connect-runtime", KAFKA_VERSION),
    ("org.slf4j", "slf4j-api", "2.0.17"),  # over kafka-clients' 1.7.36, for the slf4j2 binding
    ("org.apache.logging.log4j", "log4j-slf4j2-impl", LOG4J_VERSION),
    ("org.apache.logging.log4j", "log4j-core", LOG4J_VERSION),
]

# Main classes of Kafka 4.4's scripts (bin/*.sh), for `java -cp '<libs>/*' <class>`.
MAIN = {
    "kafka-server-start": "kafka.Kafka",
    "kafka-storage": "kafka.tools.StorageTool",
    "kafka-topics": "org.apache.kafka.tools.TopicCommand",
    "kafka-configs": "org.apache.kafka.tools.ConfigCommand",
    "kafka-consumer-groups": "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
    "kafka-share-groups": "org.apache.kafka.tools.consumer.group.ShareGroupCommand",
    "kafka-console-producer": "org.apache.kafka.tools.ConsoleProducer",
    "kafka-console-consumer": "org.apache.kafka.tools.consumer.ConsoleConsumer",
    "kafka-producer-perf-test": "org.apache.kafka.tools.ProducerPerformance",
    "kafka-consumer-perf-test": "org.apache.kafka.tools.ConsumerPerformance",
    "kafka-get-offsets": "org.apache.kafka.tools.GetOffsetShell",
    "kafka-delete-records": "org.apache.kafka.tools.DeleteRecordsCommand",
    "kafka-broker-api-versions": "org.apache.kafka.tools.BrokerApiVersionsCommand",
    "kafka-log-dirs": "org.apache.kafka.tools.LogDirsCommand",
    "kafka-reassign-partitions": "org.apache.kafka.tools.reassign.ReassignPartitionsCommand",
    "kafka-metadata-quorum": "org.apache.kafka.tools.MetadataQuorumCommand",
    "connect-standalone": "org.apache.kafka.connect.cli.ConnectStandalone",
}

LOG4J2_YAML = """Configuration:
  Appenders:
    Console:
      name: STDOUT
      target: SYSTEM_ERR
      PatternLayout:
        Pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Root:
      level: {level}
      AppenderRef:
        - ref: STDOUT
"""

LOG4J2_PROPERTIES = """status = error
appender.stderr.type = Console
appender.stderr.name = STDERR
appender.stderr.target = SYSTEM_ERR
appender.stderr.layout.type = PatternLayout
appender.stderr.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = {level}
rootLogger.appenderRef.stderr.ref = STDERR
"""


def cache_dir():
    return os.environ.get("WEIR_KAFKA_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")),
        f"weir-kafka-{KAFKA_VERSION}")


def _pom():
    deps = "\n".join(
        f"    <dependency><groupId>{g}</groupId><artifactId>{a}</artifactId>"
        f"<version>{v}</version></dependency>" for g, a, v in ARTIFACTS)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>weir</groupId><artifactId>kafka-peer</artifactId><version>{KAFKA_VERSION}</version>
  <packaging>pom</packaging>
  <dependencies>
{deps}
  </dependencies>
</project>
"""


def kafka_libs(timeout=900):
    """The directory holding Kafka's jars (broker, tools, Streams, Connect), resolved once with
    Maven into the cache; raises RuntimeError when Maven cannot resolve them."""
    cache = cache_dir()
    libs = os.path.join(cache, "libs")
    stamp = os.path.join(cache, "libs.ok")
    pom = _pom()
    if os.path.exists(stamp) and open(stamp).read() == pom:
        return libs
    if not shutil.which("mvn"):
        raise RuntimeError("mvn is not installed (apt-get install maven)")
    os.makedirs(cache, exist_ok=True)
    with open(os.path.join(cache, "pom.xml"), "w") as f:
        f.write(pom)
    shutil.rmtree(libs, ignore_errors=True)
    r = subprocess.run(
        ["mvn", "-B", "-q", "-f", os.path.join(cache, "pom.xml"), "dependency:copy-dependencies",
         f"-DoutputDirectory={libs}", "-DincludeScope=runtime"],
        capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"mvn could not resolve Kafka {KAFKA_VERSION}: "
                           f"{(r.stdout + r.stderr).strip()[-1500:]}")
    with open(stamp, "w") as f:
        f.write(pom)
    return libs


def log4j_config(level="WARN"):
    """A log4j2 config file (stderr, given level) in the cache; returns its path."""
    path = os.path.join(cache_dir(), f"log4j2-{level.lower()}.properties")
    if not os.path.exists(path):
        os.makedirs(cache_dir(), exist_ok=True)
        with open(path + ".tmp", "w") as f:
            f.write(LOG4J2_PROPERTIES.format(level=level))
        os.replace(path + ".tmp", path)
    return path


def java_cmd(main, *args, libs=None, heap=None, log_level="WARN", extra_cp=()):
    """argv running one of Kafka's main classes (a key of MAIN or a class name)."""
    libs = libs or kafka_libs()
    cls = MAIN.get(main, main)
    cp = ":".join([*extra_cp, os.path.join(libs, "*")])
    argv = [os.environ.get("KAFKA_JAVA", "java")]
    if heap:
        argv += [f"-Xms{heap}", f"-Xmx{heap}"]
    argv += [f"-Dlog4j2.configurationFile={log4j_config(log_level)}", "-cp", cp, cls, *args]
    return argv


def run_tool(main, *args, timeout=120, input=None, **kw):
    """Run a Kafka tool to completion; returns subprocess.CompletedProcess (text)."""
    return subprocess.run(java_cmd(main, *args, **kw), capture_output=True, text=True,
                          timeout=timeout, input=input)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class KafkaPeer:
    """A single-node KRaft Kafka (broker + controller in one JVM) on 127.0.0.1."""

    def __init__(self, workdir=None, durable=False, name=None, heap="1g", port=None,
                 extra_props=None):
        self.durable = durable
        self.name = name or ("kafka-durable" if durable else "kafka")
        self.own_workdir = workdir is None
        self.workdir = workdir or tempfile.mkdtemp(prefix="weir-kafka-")
        self.dir = os.path.join(self.workdir, self.name)
        self.port = port or _free_port()
        self.controller_port = _free_port()
        self.heap = heap
        self.extra_props = dict(extra_props or {})
        self.proc = None
        self.out = None

    @property
    def bootstrap(self):
        return f"127.0.0.1:{self.port}"

    def properties(self):
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.bootstrap.servers": f"127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},"
                         f"CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "inter.broker.listener.name": "PLAINTEXT",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": os.path.join(self.dir, "data"),
            "num.partitions": "1",
            "offsets.topic.replication.factor": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
        }
        if self.durable:
            props["log.flush.interval.messages"] = "1"
        props.update(self.extra_props)
        return props

    def start(self, timeout=90):
        libs = kafka_libs()
        os.makedirs(self.dir, exist_ok=True)
        conf = os.path.join(self.dir, "server.properties")
        with open(conf, "w") as f:
            for k, v in self.properties().items():
                f.write(f"{k}={v}\n")
        # A cluster id is 16 random bytes in URL-safe base64, as `kafka-storage random-uuid`;
        # passed as `--cluster-id=ID`, since one in 64 starts with `-` and would read as a flag.
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        r = subprocess.run(java_cmd("kafka-storage", "format", "--standalone", f"--cluster-id={cid}", "-c",
                                    conf, libs=libs),
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError(f"kafka-storage format failed: {(r.stdout + r.stderr)[-1500:]}")
        self.out = open(os.path.join(self.dir, "server.log"), "w")
        argv = java_cmd("kafka-server-start", conf, libs=libs, heap=self.heap, log_level="INFO")
        argv[1:1] = ["-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
                     "-XX:InitiatingHeapOccupancyPercent=35", "-Djava.awt.headless=true"]
        self.proc = subprocess.Popen(argv, stdout=self.out, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.out.close()
                raise RuntimeError(f"{self.name} exited {self.proc.returncode}: "
                                   f"{open(self.out.name).read()[-3000:]}")
            if self._started():
                return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.name} did not start within {timeout} s (see {self.out.name})")

    def _started(self):
        """The broker answers on its port and has logged that it is started (its metadata is
        published, so clients get a usable Metadata answer)."""
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.3).close()
        except OSError:
            return False
        self.out.flush()
        with open(self.out.name, errors="replace") as f:
            text = f.read()
        return "Kafka Server started" in text

    def cpu(self):
        """utime + stime of the broker JVM, in seconds."""
        return _cpu_secs(self.proc.pid)

    def stop(self, timeout=60):
        """SIGTERM (a controlled shutdown), then SIGKILL after `timeout` seconds."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.out and not self.out.closed:
            self.out.close()
        if self.own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def _cpu_secs(pid):
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")


def main(argv):
    cmd = argv[1] if len(argv) > 1 else "libs"
    if cmd == "libs":
        print(kafka_libs())
    elif cmd == "cp":
        print(os.path.join(kafka_libs(), "*"))
    elif cmd == "run":
        # Block SIGINT/SIGTERM so that sigwait receives them and the broker is stopped cleanly.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        k = KafkaPeer(durable="--durable" in argv)
        k.start()
        print(k.bootstrap, flush=True)
        try:
            signal.sigwait({signal.SIGINT, signal.SIGTERM})
        finally:
            k.stop()
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
