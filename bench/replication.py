#!/usr/bin/env python3
"""Replication cost (issue #7/#9): the same `weir perf produce` (100 B, acks=all, 1 partition)
against a single Weir node (replication factor 1) and against a 3-broker Weir cluster on
127.0.0.1 (replication factor 3, min.insync.replicas=2), in the same run, with the ratio and
the brokers' CPU-seconds per million records. Loopback only; every run is bounded.

    python3 bench/replication.py --weir target/release/weir [--records 500000] [--runs 3]

`bash bench/compare.sh --scenario replication` (issue #24, `scenario` below) measures the same
for 100 B and 1 KiB on 1 and 8 partitions, and the end-to-end latency on the 3-node cluster at
50 % of its own maximum 100 B / 1-partition rate.
"""

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time

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


@contextlib.contextmanager
def rf1_and_rf3(weir, work):
    """A single RF=1 node and the RF=3 cluster (`start_cluster`) under `work`, stopped on exit:
    yields (single node, the three brokers)."""
    single = Broker("single", [weir, "serve", "--listeners",
                               f"PLAINTEXT://127.0.0.1:{(p := free_port())}",
                               "--log-dirs", os.path.join(work, "single")], p, work)
    nodes = []
    try:
        nodes = start_cluster(weir, work)
        yield single, nodes[1:]
    finally:
        for b in reversed(nodes):
            b.stop()
        single.stop()


def create(weir, bootstrap, topic, rf, extra, partitions=1):
    import subprocess
    argv = [weir, "topics", "create", topic, "--partitions", str(partitions),
            "--replication-factor", str(rf), "-b", bootstrap, *extra]
    for _ in range(50):
        r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        if r.returncode == 0:
            return
        time.sleep(0.2)  # brokers still registering; bounded retries
    raise RuntimeError(f"create {topic}: {r.stderr.strip()}")


def settle(brokers, idle_cpu=0.01, window=0.25, limit=60.0):
    """Wait (at most `limit` s) until the brokers use under `idle_cpu` CPU-s per `window` s: with
    min.insync.replicas=2 the third replica may still be catching up when the producer is done,
    and that work belongs to this run, not to the next one. Returns the seconds waited."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        c0 = sum(b.cpu() for b in brokers)
        time.sleep(window)
        if sum(b.cpu() for b in brokers) - c0 < idle_cpu:
            break
    return time.monotonic() - t0


def produce(weir, bootstrap, topic, records, brokers, size=100):
    """(records/s, p99 ms, brokers' CPU-s per million records, catch-up seconds after the run):
    the CPU counts until every replica has caught up (`settle`)."""
    before = sum(b.cpu() for b in brokers)
    r = perf(weir, bootstrap, ["produce", "--topic", topic, "--num-records", str(records),
                                "--record-size", str(size), "--acks", "all"])
    waited = settle(brokers)
    cpu = sum(b.cpu() for b in brokers) - before
    return r["records_per_sec"], r["latency_ms"]["p99"], cpu / records * 1e6, waited


def scenario(ctx):
    """Issue #24's replication cost: RF=3 (min.insync.replicas=2) ÷ RF=1, acks=all, 100 B and
    1 KiB on 1 and 8 partitions, interleaved run by run; then e2e on RF=3 at 50 % load."""
    import scenarios
    import page_cache
    loads = [(100, 1), (100, 8), (1024, 1), (1024, 8)]
    n = {100: 500_000 if ctx.quick else 2_000_000, 1024: 100_000 if ctx.quick else 400_000}
    work = ctx.work
    ctx.note_load()
    cache = page_cache.baselines(work)
    log(f"page-cache writes: into free pages {cache['free_pages_mb_s']:,} MB/s, into recycled "
        f"pages {cache['recycled_pages_mb_s']:,} MB/s")
    res = {f"{s}B-p{parts}": {"rf1": [], "rf3": []} for s, parts in loads}
    with page_cache.steady(work) as ballast, rf1_and_rf3(ctx.weir, work) as (single, brokers):
        cache.update(ballast)
        cluster_bs = ",".join(b.bootstrap for b in brokers)
        for run in range(ctx.runs):
            for size, parts in loads:
                wid = f"{size}B-p{parts}"
                t1, t3 = f"rf1-{wid}-{run}", f"rf3-{wid}-{run}"
                create(ctx.weir, single.bootstrap, t1, 1, [], parts)
                create(ctx.weir, brokers[0].bootstrap, t3, 3, ["--config", "min.insync.replicas=2"],
                       parts)
                res[wid]["rf1"].append(produce(ctx.weir, single.bootstrap, t1, n[size], [single],
                                               size))
                res[wid]["rf3"].append(produce(ctx.weir, cluster_bs, t3, n[size], brokers, size))
                log(f"run {run + 1} {wid}: rf1 {res[wid]['rf1'][-1][0]:,.0f} rec/s, rf3 "
                    f"{res[wid]['rf3'][-1][0]:,.0f} rec/s, rf3 replicas caught up "
                    f"{res[wid]['rf3'][-1][3]:.1f} s after (load {ctx.note_load()})")
        rate = max(1000, int(statistics.median(x[0] for x in res["100B-p1"]["rf3"]) / 2))
        log(f"== e2e on RF=3 at {rate:,} rec/s")
        settle(brokers + [single])
        for run in range(ctx.runs):
            create(ctx.weir, brokers[0].bootstrap, f"rf3-e2e-{run}", 3,
                   ["--config", "min.insync.replicas=2"])
        e2e = scenarios.e2e_runs(ctx, cluster_bs, "rf3-e2e", rate, 5 if ctx.quick else 10,
                                 scenarios.E2E_LINGER_MS)
    med = lambda xs, i: statistics.median(x[i] for x in xs)  # noqa: E731
    print(f"\nPage-cache writes (same run): into free pages {cache['free_pages_mb_s']:,} MB/s, "
          f"into recycled pages {cache['recycled_pages_mb_s']:,} MB/s; the runs below recycle "
          f"pages (a {cache['ballast_mib']:,} MiB ballast filled the free memory first)")
    print(f"\nReplication cost, acks=all, medians of {ctx.runs} (interleaved runs; CPU: all brokers "
          f"of the setup):")
    print("\n| workload | RF=1 rec/s | RF=3 rec/s | RF=3 ÷ RF=1 | p99 ms RF=1 | RF=3 "
          "| CPU s/M RF=1 | RF=3 |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for wid, r in res.items():
        r1, r3 = med(r["rf1"], 0), med(r["rf3"], 0)
        print(f"| {wid} | {r1:,.0f} | {r3:,.0f} | **{r3 / r1:.2f}** | {med(r['rf1'], 1):.1f} "
              f"| {med(r['rf3'], 1):.1f} | {med(r['rf1'], 2):.2f} | {med(r['rf3'], 2):.2f} |")
    s = scenarios.summarize_e2e(e2e)
    print(f"\nEnd-to-end on RF=3 at {rate:,} rec/s (50 % of its 100 B/1-partition max), linger.ms="
          f"{scenarios.E2E_LINGER_MS}: p50 {s['p50']:.2f} ms, p99 {s['p99']:.2f} ms "
          f"({scenarios.verdict(s['p99'], 10)} < 10 ms), p99.9 {s['p99_9']:.2f} ms")
    ratios = {wid: med(r["rf3"], 0) / med(r["rf1"], 0) for wid, r in res.items()}
    return scenarios.finish(ctx, "replication", {"records": n, "results": res, "ratios": ratios,
                                                 "e2e_rate": rate, "e2e_medians": s,
                                                 "page_cache": cache,
                                                 "e2e_runs": e2e})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weir", required=True)
    ap.add_argument("--records", type=int, default=500_000)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as work, rf1_and_rf3(a.weir, work) as (single, brokers):
        cluster_bs = ",".join(b.bootstrap for b in brokers)
        res = {"rf1": [], "rf3": []}
        for run in range(a.runs):
            t1, t3 = f"rf1-{run}", f"rf3-{run}"
            create(a.weir, single.bootstrap, t1, 1, [])
            create(a.weir, brokers[0].bootstrap, t3, 3, ["--config", "min.insync.replicas=2"])
            res["rf1"].append(produce(a.weir, single.bootstrap, t1, a.records, [single]))
            res["rf3"].append(produce(a.weir, cluster_bs, t3, a.records, brokers))
            log(f"run {run}: rf1 {res['rf1'][-1]}, rf3 {res['rf3'][-1]}")
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
