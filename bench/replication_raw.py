"""Replication cost with `weir perf produce-raw` (issue #24, target 3): RF=1 on one node against
RF=3 (min.insync.replicas=2) on one controller + three brokers, interleaved, with a producer that
is not the limit, so the brokers get the client's CPU. Loopback only; everything on this machine.
The runs recycle page-cache pages as a broker host in steady state does (`page_cache.steady`).

    python3 bench/replication_raw.py --weir target/release/weir [--runs 2]
"""
import argparse
import json
import subprocess
import tempfile

import page_cache
from replication import create, rf1_and_rf3

LOADS = [(100, 1, 3_000_000, 1000), (100, 8, 3_000_000, 1000),
         (1024, 1, 400_000, 100), (1024, 8, 400_000, 100)]


def raw(weir, bootstrap, topic, n, size, batch):
    r = subprocess.run([weir, "perf", "produce-raw", "-b", bootstrap, "--topic", topic,
                        "--num-records", str(n), "--record-size", str(size), "--batch-records",
                        str(batch), "--json"], capture_output=True, text=True, timeout=300)
    if r.returncode:
        raise RuntimeError(r.stderr)
    return json.loads(r.stdout)["records_per_sec"]


def runs(a, single, brokers):
    """`a.runs` interleaved RF=1 / RF=3 runs of every load in LOADS, printed as they finish."""
    bs3 = ",".join(b.bootstrap for b in brokers)
    for run in range(a.runs):
        for size, parts, n, batch in LOADS:
            t1, t3 = f"r1-{size}-{parts}-{run}", f"r3-{size}-{parts}-{run}"
            create(a.weir, single.bootstrap, t1, 1, [], parts)
            create(a.weir, brokers[0].bootstrap, t3, 3, ["--config", "min.insync.replicas=2"],
                   parts)
            r1 = raw(a.weir, single.bootstrap, t1, n, size, batch)
            r3 = raw(a.weir, bs3, t3, n, size, batch)
            print(f"run {run + 1} {size} B, {parts} partition(s), {batch}-record batches: "
                  f"RF=1 {r1:,.0f} rec/s, RF=3 {r3:,.0f} rec/s, ratio {r3 / r1:.2f}",
                  flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weir", required=True)
    ap.add_argument("--runs", type=int, default=2)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as work:
        print(f"page-cache writes (MB/s): {page_cache.baselines(work)}", flush=True)
        with page_cache.steady(work), rf1_and_rf3(a.weir, work) as (single, brokers):
            runs(a, single, brokers)


if __name__ == "__main__":
    main()
