#!/usr/bin/env python3
"""How long one /metrics scrape takes with many partitions on one node (issue #22: "10,000
partitions must not make a scrape slower than 1 s"): a broker with one topic of N partitions
(all led by it; each has its `kafka_log_log_size` series), scraped --scrapes times with
per-partition series on, then the same on a second fresh broker with
`--metrics-per-partition false`. Prints the median and worst scrape time, the broker's CPU time
per scrape (less sensitive to a busy machine than the wall time) and the body size.
Loopback only; bounded.

    python3 bench/metrics_scrape.py --weir target/release/weir --partitions 10000
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare import free_port  # noqa: E402


def scrape(http):
    t0 = time.monotonic()
    with urllib.request.urlopen(f"http://127.0.0.1:{http}/metrics", timeout=60) as r:
        body = r.read()
    return time.monotonic() - t0, body


def cpu_secs(pid):
    """User + system CPU seconds of process `pid`."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_ready(http, proc, log, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the broker exited:\n" + open(log).read()[-3000:])
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{http}/ready", timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("broker not ready")


def wait_open(http, partitions, timeout=600):
    """Until the broker has a log open for every partition (its partition count gauge)."""
    deadline, n = time.time() + timeout, 0
    while time.time() < deadline:
        _, body = scrape(http)
        for line in body.decode().splitlines():
            if line.startswith("kafka_server_replicamanager_partitioncount "):
                n = float(line.split()[1])
        if n >= partitions:
            return
        time.sleep(1)
    raise RuntimeError(f"only {n} of {partitions} partitions open after {timeout}s")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weir", required=True)
    ap.add_argument("--partitions", type=int, default=10_000)
    ap.add_argument("--scrapes", type=int, default=5)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as work:
        for per_partition in ("true", "false"):
            data = os.path.join(work, f"data-{per_partition}")
            port, http = free_port(), free_port()
            argv = [a.weir, "serve", "--listeners", f"PLAINTEXT://127.0.0.1:{port}",
                    "--log-dirs", data, "--http-listener", f"127.0.0.1:{http}",
                    "--metrics-per-partition", per_partition]
            log = open(os.path.join(work, f"weir-pp-{per_partition}.log"), "w")
            proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
            try:
                wait_ready(http, proc, log.name, timeout=600)
                bootstrap = f"127.0.0.1:{port}"
                t0 = time.monotonic()
                # The client's request may time out while the controller still creates
                # the partitions; waiting for them to open below is what counts.
                r = subprocess.run([a.weir, "topics", "create", "scrape", "-b",
                                    bootstrap, "--partitions", str(a.partitions)],
                                   capture_output=True, text=True, timeout=900)
                if r.returncode != 0:
                    print(f"topics create: {r.stderr.strip()} (waiting for the partitions)",
                          flush=True)
                wait_open(http, a.partitions)
                print(f"created and opened {a.partitions} partitions in "
                      f"{time.monotonic() - t0:.1f} s", flush=True)
                scrape(http)  # warm-up
                times, size = [], 0
                cpu0 = cpu_secs(proc.pid)
                for _ in range(a.scrapes):
                    dt, body = scrape(http)
                    times.append(dt)
                    size = len(body)
                busy = cpu_secs(proc.pid) - cpu0
                # The broker's own background work over as long a time, without scrapes.
                cpu1 = cpu_secs(proc.pid)
                time.sleep(sum(times))
                idle = cpu_secs(proc.pid) - cpu1
                print(f"metrics.per.partition={per_partition}: {a.partitions} partitions, "
                      f"scrape median {statistics.median(times) * 1000:.0f} ms, "
                      f"max {max(times) * 1000:.0f} ms, broker CPU per scrape "
                      f"{(busy - idle) / a.scrapes * 1000:.0f} ms, body {size / 1e6:.1f} MB, "
                      f"{len(body.splitlines())} lines", flush=True)
            finally:
                proc.terminate()
                try:
                    proc.wait(300)  # a debug build closes thousands of logs slowly
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                log.close()


if __name__ == "__main__":
    main()
