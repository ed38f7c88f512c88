#!/usr/bin/env python3
"""Share-group consume against classic-group consume of the same data, same broker, same run
(issue #20): 100 B records in 1 partition; share groups with 1 and 4 consumers (confluent-kafka's
ShareConsumer, implicit acknowledgement: every record is accepted), a classic group with 1
consumer. Each consumer is its own process, so the 4-consumer case is not limited by one Python
interpreter. Prints medians of the runs, ratios to classic, and broker CPU-seconds per million
records. Rates count from each load's first record to its last (group joins and the share
group's first acquisition are not timed; the classic group's `group.initial.rebalance.delay.ms`
would otherwise dominate). Loopback only; bounded.

    python3 bench/share.py --weir target/release/weir [--runs 3] [--records 200000]
"""
import argparse
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare import perf, start_weir  # noqa: E402


def classic(bootstrap, topic, group, n, out):
    from confluent_kafka import Consumer
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                  "auto.offset.reset": "earliest", "enable.auto.commit": True})
    c.subscribe([topic])
    got, deadline, first = 0, time.time() + 300, None
    while got < n and time.time() < deadline:
        for m in c.consume(1000, 0.5):
            if not m.error():
                got += 1
                first = first or time.time()
    last = time.time()
    c.close()
    out.put((got, last - (first or last)))


def share(bootstrap, topic, group, stop_at, out, done):
    from confluent_kafka import ShareConsumer
    c = ShareConsumer({"bootstrap.servers": bootstrap, "group.id": group})
    c.subscribe([topic])
    while not done.is_set() and time.time() < stop_at:
        got = sum(1 for m in c.poll(0.5) if not m.error())
        if got:
            out.put((got, time.time()))
    c.close()


def set_earliest(bootstrap, group):
    from confluent_kafka.admin import (AdminClient, AlterConfigOpType, ConfigEntry,
                                       ConfigResource, ResourceType)
    e = ConfigEntry("share.auto.offset.reset", "earliest",
                    incremental_operation=AlterConfigOpType.SET)
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for f in admin.incremental_alter_configs(
            [ConfigResource(ResourceType.GROUP, group, incremental_configs=[e])]).values():
        f.result()


def run_share(bootstrap, topic, group, consumers, n):
    set_earliest(bootstrap, group)
    out, done = mp.Queue(), mp.Event()
    procs = [mp.Process(target=share, args=(bootstrap, topic, group, time.time() + 300, out, done))
             for _ in range(consumers)]
    t0 = time.time()
    for p in procs:
        p.start()
    got, first, last = 0, None, t0
    while got < n and time.time() - t0 < 300:
        k, at = out.get(timeout=60)
        got += k
        first = first or at
        last = at
    elapsed = last - (first or last)
    done.set()
    for p in procs:
        p.join(30)
    return got, elapsed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weir", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--records", type=int, default=200_000)
    a = ap.parse_args()
    res = {"classic, 1 consumer": [], "share, 1 consumer": [], "share, 4 consumers": []}
    with tempfile.TemporaryDirectory() as work:
        broker = start_weir(a.weir, work)
        try:
            for run in range(a.runs):
                topic = f"share-bench-{run}"
                perf(a.weir, broker.bootstrap, ["produce", "--topic", topic, "--partitions", "1",
                                                "--num-records", str(a.records),
                                                "--record-size", "100"], timeout=300)
                for kind in res:
                    group = f"{kind.split(',')[0]}-{kind[-11]}-{run}"
                    c0 = broker.cpu()
                    if kind.startswith("classic"):
                        out = mp.Queue()
                        p = mp.Process(target=classic, args=(broker.bootstrap, topic, group,
                                                             a.records, out))
                        p.start()
                        got, elapsed = out.get(timeout=330)
                        p.join(30)
                    else:
                        got, elapsed = run_share(broker.bootstrap, topic, group,
                                                 4 if "4" in kind else 1, a.records)
                    cpu = (broker.cpu() - c0) / (max(got, 1) / 1e6)
                    elapsed = max(elapsed, 1e-3)
                    res[kind].append((got / elapsed, cpu))
                    print(f"run {run + 1} {kind}: {got:,} records, {got / elapsed:,.0f} rec/s, "
                          f"{cpu:.2f} broker CPU-s/M", file=sys.stderr, flush=True)
        finally:
            broker.stop()
    med = statistics.median
    base = med([r for r, _ in res["classic, 1 consumer"]])
    print(f"| load (1 partition, 100 B) | rec/s (median of {a.runs}) | ÷ classic | broker CPU-s/M |")
    print("|---|---:|---:|---:|")
    for kind, xs in res.items():
        rate = med([r for r, _ in xs])
        print(f"| {kind} | {rate:,.0f} | {rate / base:.2f} | {med([c for _, c in xs]):.2f} |")


if __name__ == "__main__":
    main()
