#!/usr/bin/env python3
"""The HTTP side's cost on the produce path (issue #22): produce throughput of a broker with the
HTTP listener off against one with it on, /metrics scraped every second and the web console open
in headless Chromium (which samples /metrics every 2 s), same run, interleaved run by run.
100 B records, 1 partition, acks=all; prints medians, the ratio and broker CPU-s per million
records. Loopback only; bounded.

    python3 bench/http_overhead.py --weir target/release/weir [--runs 3] [--records 1000000]
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare import Broker, free_port, perf  # noqa: E402


def scraper(port, stop, counts):
    """GET /metrics every second until `stop` is set."""
    while not stop.wait(1.0):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            r.read()
        counts[0] += 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weir", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--records", type=int, default=1_000_000)
    a = ap.parse_args()
    chromium = shutil.which("chromium")
    assert chromium, "needs Debian's chromium (scripts/test.sh installs it)"
    res = {"off": [], "on": []}
    with tempfile.TemporaryDirectory() as work:
        brokers, http = {}, free_port()
        for mode in ("off", "on"):
            port = free_port()
            d = os.path.join(work, mode)
            os.makedirs(d)
            listener = "none" if mode == "off" else f"127.0.0.1:{http}"
            argv = [a.weir, "serve", "--listeners", f"PLAINTEXT://127.0.0.1:{port}",
                    "--log-dirs", os.path.join(d, "data"), "--http-listener", listener]
            brokers[mode] = Broker(f"weir-http-{mode}", argv, port, d)
        console = subprocess.Popen(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", f"--user-data-dir={os.path.join(work, 'chrome')}",
             f"http://127.0.0.1:{http}/"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        stop, scrapes = threading.Event(), [0]
        t = threading.Thread(target=scraper, args=(http, stop, scrapes), daemon=True)
        t.start()
        try:
            for run in range(a.runs):
                for mode in ("off", "on"):
                    b = brokers[mode]
                    c0 = b.cpu()
                    r = perf(a.weir, b.bootstrap,
                             ["produce", "--topic", f"load-{run}", "--partitions", "1",
                              "--num-records", str(a.records), "--record-size", "100",
                              "--acks", "all"], timeout=300)
                    cpu = (b.cpu() - c0) / (r["records"] / 1e6)
                    res[mode].append((r["records_per_sec"], cpu))
                    print(f"run {run + 1} HTTP {mode}: {r['records_per_sec']:,.0f} rec/s, "
                          f"{cpu:.2f} broker CPU-s/M", file=sys.stderr, flush=True)
        finally:
            stop.set()
            console.terminate()
            console.wait()
            for b in brokers.values():
                b.stop()
    med = statistics.median
    off = med([x for x, _ in res["off"]])
    on = med([x for x, _ in res["on"]])
    print(f"({scrapes[0]} scrapes of /metrics while the console was open)")
    print(f"| broker | rec/s (median of {a.runs}) | ÷ HTTP off | broker CPU-s/M |")
    print("|---|---:|---:|---:|")
    print(f"| HTTP listener off | {off:,.0f} | 1.00 | {med([c for _, c in res['off']]):.2f} |")
    print(f"| HTTP on, /metrics every 1 s, console open | {on:,.0f} | {on / off:.2f} | "
          f"{med([c for _, c in res['on']]):.2f} |")
    print("samples off: " + ", ".join(f"{x:,.0f}" for x, _ in res["off"]))
    print("samples on:  " + ", ".join(f"{x:,.0f}" for x, _ in res["on"]))


if __name__ == "__main__":
    main()
