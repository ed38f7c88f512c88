"""Start a real `weir` broker process for each test (binary from WEIR_BIN or target/debug/weir)."""
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


_HANDED_OUT = set()


def _free_port():
    """A port below the ephemeral range (32768 and up, so no client socket can take it before
    the broker binds it) that binds now and was not handed out before in this process."""
    import random
    for _ in range(10000):
        port = random.randrange(12000, 32000)
        if port in _HANDED_OUT:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    raise RuntimeError("no free port below the ephemeral range")


def free_cluster_base(nodes=3, offsets=(0, 1)):
    """A base port below the ephemeral range (so no client socket takes one meanwhile) whose
    ports base + 100 * i + off for i < nodes and off in offsets can all be bound now."""
    import random
    for _ in range(200):
        base = random.randrange(10000, 32000 - 100 * nodes, 7)
        try:
            socks = []
            for i in range(nodes):
                for off in offsets:
                    s = socket.socket()
                    socks.append(s)
                    s.bind(("127.0.0.1", base + 100 * i + off))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise AssertionError("no free port range for a cluster")


def start_cluster_node(weir, tmp_path, i, base, voters, extra, roles="broker,controller"):
    """Start node `i` (combined by default; `roles="broker"` for a broker-only node, which
    follows the metadata log on its CONTROLLER port) of a cluster whose node j listens on
    base + 100 * (j - 1) (PLAINTEXT) and that port + 1 (CONTROLLER); log in node-i/weir.log."""
    d = tmp_path / f"node-{i}"
    d.mkdir(exist_ok=True)
    port = base + 100 * (i - 1)
    return subprocess.Popen(
        [weir, "serve", "--node-id", str(i), "--process-roles", roles,
         "--controller-quorum-voters", voters,
         "--listeners", f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{port + 1}",
         "--advertised-listeners", f"PLAINTEXT://127.0.0.1:{port}",
         "--log-dirs", str(d / "logs"), *extra],
        stdout=open(d / "weir.log", "ab"), stderr=subprocess.STDOUT)


def node_logs(paths):
    """The tail of each node's log, for an assertion message."""
    out = []
    for p in paths:
        text = Path(p).read_text(errors="replace") if Path(p).exists() else "(no log)"
        out.append(f"--- {p}\n" + "\n".join(text.splitlines()[-40:]))
    return "\n".join(out)


class Broker:
    def __init__(self, data_dir: Path, extra=None):
        self.extra = list(extra or [])
        self.bin = os.environ.get("WEIR_BIN", str(ROOT / "target" / "debug" / "weir"))
        self.port = _free_port()
        self.data_dir = data_dir
        self.out = data_dir / "broker.out"
        self.proc = None

    @property
    def bootstrap(self):
        return f"127.0.0.1:{self.port}"

    def start(self):
        listener = f"PLAINTEXT://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [self.bin, "serve", "--listeners", listener, "--advertised-listeners", listener,
             "--log-dirs", str(self.data_dir / "logs"), *self.extra],
            stdout=open(self.out, "ab"), stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            assert self.proc.poll() is None, self.out.read_text()
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.02)
        raise AssertionError("broker did not start:\n" + self.out.read_text())

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)


@pytest.fixture
def broker(tmp_path):
    b = Broker(tmp_path)
    b.start()
    yield b
    b.stop()
