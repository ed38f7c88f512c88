#!/usr/bin/env python3
"""How long one /metrics scrape takes with many partitions on one node (issue #22: "10,000
partitions must not make a scrape slower than 1 s"): a broker with one topic of N partitions
(all led by it, each with a few records so every per-partition series exists), scraped
--scrapes times with per-partition series on and then, restarted on the same data, with
`--metrics-per-partition false`. Prints the median and worst scrape time and the body size.
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
from compare import Broker, free_port  # noqa: E402


def scrape(http):
    t0 = time.monotonic()
    with urllib.request.urlopen(f"http://127.0.0.1:{http}/metrics", timeout=60) as r:
        body = r.read()
    return time.monotonic() - t0, body


def wait_ready(http, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{http}/ready", timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("broker not ready")


def wait_open(http, partitions, timeout=600):
    """Until the broker reports a log size series for every partition (they are open)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        _, body = scrape(http)
        n = sum(1 for line in body.decode().splitlines()
                if line.startswith("kafka_log_log_size{") and 'topic="scrape"' in line)
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
        data = os.path.join(work, "data")
        for per_partition in ("true", "false"):
            port, http = free_port(), free_port()
            argv = [a.weir, "serve", "--listeners", f"PLAINTEXT://127.0.0.1:{port}",
                    "--log-dirs", data, "--http-listener", f"127.0.0.1:{http}",
                    "--metrics-per-partition", per_partition]
            b = Broker(f"weir-pp-{per_partition}", argv, port, work)
            try:
                wait_ready(http)
                if per_partition == "true":
                    t0 = time.monotonic()
                    # The client's request may time out while the controller still creates
                    # the partitions; waiting for them to open below is what counts.
                    r = subprocess.run([a.weir, "topics", "create", "scrape", "-b",
                                        b.bootstrap, "--partitions", str(a.partitions)],
                                       capture_output=True, text=True, timeout=900)
                    if r.returncode != 0:
                        print(f"topics create: {r.stderr.strip()} (waiting for the partitions)",
                              flush=True)
                    wait_open(http, a.partitions)
                    print(f"created and opened {a.partitions} partitions in "
                          f"{time.monotonic() - t0:.1f} s", flush=True)
                else:
                    time.sleep(5)  # the reopened partitions (logs are opened at start-up)
                scrape(http)  # warm-up
                times, size = [], 0
                for _ in range(a.scrapes):
                    dt, body = scrape(http)
                    times.append(dt)
                    size = len(body)
                print(f"metrics.per.partition={per_partition}: {a.partitions} partitions, "
                      f"scrape median {statistics.median(times) * 1000:.0f} ms, "
                      f"max {max(times) * 1000:.0f} ms, body {size / 1e6:.1f} MB, "
                      f"{len(body.splitlines())} lines", flush=True)
            finally:
                b.stop()


if __name__ == "__main__":
    main()
