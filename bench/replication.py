#!/usr/bin/env python3
"""Replication cost (issue #7/#9): the same `weir perf produce` (100 B, acks=all, 1 partition)
against a single Weir node (replication factor 1) and against a 3-broker Weir cluster on
127.0.0.1 (replication factor 3, min.insync.replicas=2), in the same run, with the ratio and
the brokers' CPU-seconds per million records. Loopback only; every run is bounded.

    python3 bench/replication.py --weir target/release/weir [--records 500000] [--runs 3]
"""

import argparse
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import Broker, free_port, log, perf  # noqa: E402


def start_cluster(weir, workdir):
    """One dedicated controller and three brokers (Raft voter = node 1)."""
    ports = [(free_port(), free_port()) for _ in range(4)]
    voters = f"1@127.0.0.1:{ports[0][1]}"
    nodes = []
    for i, (client, ctrl) in enumerate(ports, start=1):
        role = "controller" if i == 1 else "broker"
        argv = [weir, "serve", "--node-id", str(i), "--process-roles", role,
                "--controller-quorum-voters", voters,
                "--listeners", f"PLAINTEXT://127.0.0.1:{client},CONTROLLER://127.0.0.1:{ctrl}",
                "--advertised-listeners", f"PLAINTEXT://127.0.0.1:{client}",
                "--log-dirs", os.path.join(workdir, f"node-{i}")]
        nodes.append(Broker(f"node-{i}", argv, client, workdir))
    return nodes


def create(weir, bootstrap, topic, rf, extra):
    import subprocess
    argv = [weir, "topics", "create", topic, "--partitions", "1", "--replication-factor", str(rf),
            "-b", bootstrap, *extra]
    for _ in range(50):
        r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        if r.returncode == 0:
            return
        import time
        time.sleep(0.2)  # brokers still registering; bounded retries
    raise RuntimeError(f"create {topic}: {r.stderr.strip()}")


def produce(weir, bootstrap, topic, records, brokers):
    before = sum(b.cpu() for b in brokers)
    r = perf(weir, bootstrap, ["produce", "--topic", topic, "--num-records", str(records),
                                "--record-size", "100", "--acks", "all"])
    cpu = sum(b.cpu() for b in brokers) - before
    return r["records_per_sec"], r["latency_ms"]["p99"], cpu / records * 1e6


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weir", required=True)
    ap.add_argument("--records", type=int, default=500_000)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as work:
        single = Broker("single", [a.weir, "serve", "--listeners",
                                   f"PLAINTEXT://127.0.0.1:{(p := free_port())}",
                                   "--log-dirs", os.path.join(work, "single")], p, work)
        nodes = []
        try:
            nodes = start_cluster(a.weir, work)
            brokers = nodes[1:]
            cluster_bs = ",".join(b.bootstrap for b in brokers)
            res = {"rf1": [], "rf3": []}
            for run in range(a.runs):
                t1, t3 = f"rf1-{run}", f"rf3-{run}"
                create(a.weir, single.bootstrap, t1, 1, [])
                create(a.weir, brokers[0].bootstrap, t3, 3, ["--config", "min.insync.replicas=2"])
                res["rf1"].append(produce(a.weir, single.bootstrap, t1, a.records, [single]))
                res["rf3"].append(produce(a.weir, cluster_bs, t3, a.records, brokers))
                log(f"run {run}: rf1 {res['rf1'][-1]}, rf3 {res['rf3'][-1]}")
        finally:
            for b in reversed(nodes):
                b.stop()
            single.stop()
    med = lambda xs, i: statistics.median(x[i] for x in xs)  # noqa: E731
    r1, r3 = med(res["rf1"], 0), med(res["rf3"], 0)
    print(f"| setup | produce rec/s | p99 ms | broker CPU s / M |")
    print(f"|---|---:|---:|---:|")
    print(f"| 1 node, RF=1 | {r1:,.0f} | {med(res['rf1'], 1):.1f} | {med(res['rf1'], 2):.2f} |")
    print(f"| 3 brokers, RF=3, min.insync=2 | {r3:,.0f} | {med(res['rf3'], 1):.1f} | "
          f"{med(res['rf3'], 2):.2f} (all 3) |")
    print(f"ratio RF=3 ÷ RF=1: {r3 / r1:.2f} (medians of {a.runs} runs of {a.records:,} x 100 B, "
          f"acks=all)")


if __name__ == "__main__":
    main()
