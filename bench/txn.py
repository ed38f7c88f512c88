#!/usr/bin/env python3
"""Transactional produce against plain idempotent produce, same broker, same run (issue #19):
100 B records, 1 partition, acks=all; the transactional runs commit every 1,000 records. Each
round runs both loads on fresh topics, interleaved; prints medians, the ratio, commit latency
p50/p99 and the broker's CPU-seconds per million records. Loopback only; bounded.

    python3 bench/txn.py --weir target/release/weir [--runs 3] [--records 1000000]
"""
import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare import perf, start_weir  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weir", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--transaction-size", type=int, default=1000)
    a = ap.parse_args()
    res = {"idempotent": [], "transactional": []}
    with tempfile.TemporaryDirectory() as work:
        broker = start_weir(a.weir, work)
        try:
            for run in range(a.runs):
                for kind in ("idempotent", "transactional"):
                    topic = f"{kind}-{run}"
                    args = ["produce", "--topic", topic, "--partitions", "1",
                            "--num-records", str(a.records), "--record-size", "100",
                            "--acks", "all", "--producer-props", "enable.idempotence=true"]
                    if kind == "transactional":
                        args += ["--transactional-id", f"bench-{run}",
                                 "--transaction-size", str(a.transaction_size)]
                    c0 = broker.cpu()
                    r = perf(a.weir, broker.bootstrap, args, timeout=300)
                    cpu = (broker.cpu() - c0) / (r["records"] / 1e6)
                    res[kind].append((r, cpu))
                    extra = ""
                    if "commit_latency_ms" in r:
                        extra = (f", commit p50 {r['commit_latency_ms']['p50']:.1f} ms"
                                 f" p99 {r['commit_latency_ms']['p99']:.1f} ms")
                    print(f"run {run + 1} {kind}: {r['records_per_sec']:,.0f} rec/s, "
                          f"{cpu:.2f} broker CPU-s/M{extra}", file=sys.stderr, flush=True)
        finally:
            broker.stop()
    med = lambda xs: statistics.median(xs)  # noqa: E731
    idem = med([r["records_per_sec"] for r, _ in res["idempotent"]])
    txn = med([r["records_per_sec"] for r, _ in res["transactional"]])
    p50 = med([r["commit_latency_ms"]["p50"] for r, _ in res["transactional"]])
    p99 = med([r["commit_latency_ms"]["p99"] for r, _ in res["transactional"]])
    print(f"| load | rec/s (median of {a.runs}) | ÷ idempotent | broker CPU-s/M | commit p50 | commit p99 |")
    print("|---|---:|---:|---:|---:|---:|")
    print(f"| idempotent, acks=all | {idem:,.0f} | 1.00 | "
          f"{med([c for _, c in res['idempotent']]):.2f} | | |")
    print(f"| transactional, {a.transaction_size} records/txn | {txn:,.0f} | {txn / idem:.2f} | "
          f"{med([c for _, c in res['transactional']]):.2f} | {p50:.1f} ms | {p99:.1f} ms |")


if __name__ == "__main__":
    main()
