#!/usr/bin/env python3
"""Where the end-to-end time goes: the broker's per-stage histograms (GET /metrics of its HTTP
listener, scraped before and after a run, so only the run's requests count) next to the
client's end-to-end and acknowledgement latencies of `weir perf e2e`.

Used by `bash bench/compare.sh --scenario e2e-latency` (bench/scenarios.py). On its own, it starts
one Weir broker, runs one short `weir perf e2e` and prints the table:

    python3 bench/stages.py --weir target/release/weir --rate 1000 --secs 5 [--linger 0]

Quantiles come from the Prometheus buckets (linear within a bucket, as PromQL's
histogram_quantile; the stage buckets are ~1.5x apart), means from _sum/_count: means add up
along the path, quantiles do not. docs/benchmarks.md ("Where the time goes") explains the rows."""

import argparse
import os
import re
import sys
import tempfile
import urllib.request

# (row label, metric, labels) in the order a record travels. `None` labels: the unlabelled series.
RM = "kafka_network_requestmetrics_"
ROWS = [
    ("Produce", [
        ("request queue (read → dispatch)", RM + "requestqueuetime_seconds", {"request": "Produce"}),
        ("local: validate + append", RM + "localtime_seconds", {"request": "Produce"}),
        ("fsync wait (appended → durable)", "weir_produce_fsync_wait_seconds", {}),
        ("  one group-commit pass", "kafka_log_logflushstats_logflush_seconds", {}),
        ("replication wait (durable → HW)", RM + "remotetime_seconds", {"request": "Produce"}),
        ("response queue", RM + "responsequeuetime_seconds", {"request": "Produce"}),
        ("response send", RM + "responsesendtime_seconds", {"request": "Produce"}),
        ("total (broker)", RM + "totaltime_seconds", {"request": "Produce"}),
    ]),
    ("Fetch (consumer)", [
        ("long-poll wait (parked → answer)", RM + "remotetime_seconds", {"request": "Fetch"}),
        ("wake-up delay (HW advance → running)", "weir_fetch_wakeup_delay_seconds",
         {"fetcher": "consumer"}),
        ("local: read", RM + "localtime_seconds", {"request": "Fetch"}),
        ("response queue", RM + "responsequeuetime_seconds", {"request": "Fetch"}),
        ("response send", RM + "responsesendtime_seconds", {"request": "Fetch"}),
        ("total (broker)", RM + "totaltime_seconds", {"request": "Fetch"}),
    ]),
]

LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def scrape(http):
    """Every histogram of GET http://<http>/metrics: {(name, labels): {"le": {bound: count},
    "sum": s, "count": n}}, `labels` a frozenset of the series' labels without `le`."""
    with urllib.request.urlopen(f"http://{http}/metrics", timeout=10) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        m = LINE.match(line)
        if not m or line.startswith("#"):
            continue
        name, labels, value = m.group(1), dict(LABEL.findall(m.group(2) or "")), float(m.group(3))
        for suffix in ("_bucket", "_sum", "_count"):
            if name.endswith(suffix):
                base = name[: -len(suffix)]
                le = labels.pop("le", None)
                h = out.setdefault((base, frozenset(labels.items())), {"le": {}, "sum": 0.0,
                                                                        "count": 0.0})
                if suffix == "_bucket":
                    h["le"][float(le)] = value
                else:
                    h[suffix[1:]] = value
                break
    return out


def delta(before, after, name, labels):
    """The histogram `name{labels}` of what happened between the two scrapes (None if absent)."""
    key = (name, frozenset(labels.items()))
    a = after.get(key)
    if a is None:
        return None
    b = before.get(key, {"le": {}, "sum": 0.0, "count": 0.0})
    return {"le": {le: n - b["le"].get(le, 0.0) for le, n in a["le"].items()},
            "sum": a["sum"] - b["sum"], "count": a["count"] - b["count"]}


def quantile(h, q):
    """PromQL's histogram_quantile on cumulative buckets, in seconds (nan without samples)."""
    bounds = sorted(h["le"])
    total = h["count"]
    if total <= 0 or not bounds:
        return float("nan")
    rank = q * total
    lower, below = 0.0, 0.0
    for le in bounds:
        n = h["le"][le]
        if n >= rank:
            if le == float("inf"):
                return lower
            inside = n - below
            return lower + (le - lower) * ((rank - below) / inside if inside > 0 else 1.0)
        lower, below = le, n
    return lower


def breakdown(before, after):
    """{section: [{"stage", "count", "p50_ms", "p99_ms", "mean_ms"}]} of the run between the two
    scrapes."""
    res = {}
    for section, rows in ROWS:
        out = []
        for label, name, labels in rows:
            h = delta(before, after, name, labels)
            if h is None or h["count"] <= 0:
                out.append({"stage": label, "count": 0})
                continue
            out.append({"stage": label, "count": int(h["count"]),
                        "p50_ms": quantile(h, 0.5) * 1e3, "p99_ms": quantile(h, 0.99) * 1e3,
                        "mean_ms": h["sum"] / h["count"] * 1e3})
        res[section] = out
    return res


def print_table(stages, e2e=None, linger=None):
    """The breakdown as a Markdown table, with the client's latencies first."""
    print("\n| stage | samples | p50 ms | p99 ms | mean ms |")
    print("|---|---:|---:|---:|---:|")
    if e2e is not None:
        for label, key in (("client end-to-end (send → consumer has it)", "latency_ms"),
                           ("client produce ack (send → ack)", "ack_latency_ms")):
            lat = e2e.get(key)
            if lat:
                print(f"| **{label}** | {e2e.get('records', '')} | {lat['p50']:.3f} | "
                      f"{lat['p99']:.3f} | {lat['avg']:.3f} |")
        if linger is not None:
            print(f"| client linger.ms (upper bound of the batching wait) | | | | {linger} |")
    for section, rows in stages.items():
        print(f"| *{section}* | | | | |")
        for r in rows:
            if not r["count"]:
                print(f"| {r['stage']} | 0 | – | – | – |")
            else:
                print(f"| {r['stage']} | {r['count']:,} | {r['p50_ms']:.3f} | "
                      f"{r['p99_ms']:.3f} | {r['mean_ms']:.3f} |")


def main():
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from compare import free_port, log, perf, start_weir  # noqa: E402

    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weir", required=True)
    ap.add_argument("--rate", type=int, default=1000)
    ap.add_argument("--secs", type=int, default=5)
    ap.add_argument("--linger", type=int, default=0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="weir-stages-") as work:
        http = f"127.0.0.1:{free_port()}"
        b = start_weir(args.weir, work, http=http)
        try:
            before = scrape(http)
            e = perf(args.weir, b.bootstrap,
                     ["e2e", "--topic", "stages", "--rate", str(args.rate), "--duration",
                      str(args.secs), "--record-size", "100", "--partitions", "1", "--acks", "all",
                      "--producer-props", f"linger.ms={args.linger}"], timeout=args.secs + 90)
            after = scrape(http)
        finally:
            b.stop()
    log(f"e2e at {args.rate:,} rec/s for {args.secs} s, linger.ms={args.linger}, acks=all, "
        f"100 B, 1 partition")
    print_table(breakdown(before, after), e, args.linger)


if __name__ == "__main__":
    main()
