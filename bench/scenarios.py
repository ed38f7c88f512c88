#!/usr/bin/env python3
"""`bash bench/compare.sh --scenario NAME`: one workload of issue #24 at a time, each printing its
figures beside its target and writing its raw numbers to <out-dir>/<NAME>.json (compare.sh:
$CARGO_TARGET_DIR/bench, i.e. target/bench/). Every figure carries the machine's load average
when it was taken: figures taken with a 1-minute load above 1.5 are marked provisional.

Scenarios: e2e-latency, e2e-low-rate, consume, cpu, wide (here), e2e-latency-raw and
replication-e2e-raw (bench/e2e_raw.py), replication (bench/replication.py), scale and startup
(bench/scale.py)."""

import json
import os
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402
import scale  # noqa: E402
import stages  # noqa: E402
from compare import (free_port, log, perf, run_kafka, run_suite, start_tansu,  # noqa: E402
                     start_weir, tansu_binary)

# linger.ms of the producer in the 50 %-load end-to-end run (see compare.E2E_LINGER_MS).
E2E_LINGER_MS = compare.E2E_LINGER_MS
PROVISIONAL_LOAD = 1.5


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def load():
    return round(os.getloadavg()[0], 2)


class Ctx:
    """What every scenario gets: binaries, sizes, where to write, and the JSON being built."""

    def __init__(self, args, work, cache):
        self.weir, self.quick, self.work, self.cache = args.weir, args.quick, work, cache
        self.runs = args.runs or (1 if args.quick else 3)
        self.out_dir = args.out_dir
        self.startup_gb = args.startup_gb
        self.scale_partitions = args.scale_partitions
        self.loads = []
        # What a scenario measured before it failed (written with the error).
        self.partial = {}

    def note_load(self):
        """Sample the 1-minute load average (kept with the results)."""
        v = load()
        self.loads.append(v)
        return v

    def path(self, name):
        os.makedirs(self.out_dir, exist_ok=True)
        return os.path.join(self.out_dir, name)


def finish(ctx, name, result):
    """Write <out>/<name>.json with the load averages seen and return the path."""
    result["scenario"] = name
    result["load_avg_1m"] = ctx.loads
    result["provisional"] = bool(ctx.loads) and max(ctx.loads) > PROVISIONAL_LOAD
    result["runs"] = ctx.runs
    p = ctx.path(f"{name}.json")
    with open(p, "w") as f:
        json.dump(result, f, indent=1, default=str)
    tag = " (PROVISIONAL: load average above 1.5)" if result["provisional"] else ""
    print(f"\nload average (1 min) during the run: {ctx.loads}{tag}; raw numbers in {p}")
    return p


def verdict(value, limit, below=True):
    ok = value < limit if below else value >= limit
    return "meets" if ok else "MISSES"


# ----------------------------------------------------------------------------- e2e-latency


def max_rate(ctx, broker, tag, size=100, parts=1):
    """Median produce rate (acks=all) over the scenario's runs: the broker's maximum rate."""
    n = 300_000 if ctx.quick else 1_000_000
    rates = []
    for r in range(ctx.runs):
        p = perf(ctx.weir, broker.bootstrap, ["produce", "--topic", f"{tag}-max-{r}", "--num-records",
                                              str(n), "--record-size", str(size), "--acks", "all",
                                              "--partitions", str(parts)])
        rates.append(p["records_per_sec"])
        log(f"  max rate run {r + 1}: {p['records_per_sec']:,.0f} rec/s (load {ctx.note_load()})")
    return rates


def e2e_runs(ctx, bootstrap, tag, rate, secs, linger, png=None, head=5, http=None):
    """`weir perf e2e` runs; returns the JSON results (and one PNG per run when asked). With the
    broker's `http` listener, each result also holds the broker's per-stage breakdown of the run
    (`stages`, bench/stages.py)."""
    out = []
    for r in range(ctx.runs):
        before = stages.scrape(http) if http else None
        args = ["e2e", "--topic", f"{tag}-{r}", "--rate", str(rate), "--duration", str(secs),
                "--record-size", "100", "--partitions", "1", "--acks", "all",
                "--head-secs", str(head), "--report-interval", "1",
                "--producer-props", f"linger.ms={linger}"]
        if png:
            args += ["--histogram-png", ctx.path(f"{png}-run{r + 1}.png")]
        e = perf(ctx.weir, bootstrap, args, timeout=secs + 90)
        if http:
            e["stages"] = stages.breakdown(before, stages.scrape(http))
        e["load_avg_1m"] = ctx.note_load()
        out.append(e)
        l, h = e["latency_ms"], e["head_latency_ms"]
        log(f"  e2e run {r + 1} at {rate:,} rec/s: p50 {l['p50']} ms, p99 {l['p99']} ms, "
            f"p99.9 {l['p99_9']} ms, max {l['max']} ms; first {head} s p99 {h['p99']} ms "
            f"(load {e['load_avg_1m']})")
    return out


def median_p99_run(runs):
    """Index of the run whose end-to-end p99 is the median one."""
    order = sorted(range(len(runs)), key=lambda i: runs[i]["latency_ms"]["p99"])
    return order[len(order) // 2]


def summarize_e2e(runs):
    return {q: med([e["latency_ms"][q] for e in runs]) for q in ("p50", "p99", "p99_9", "max")} | {
        "head_p99": med([e["head_latency_ms"]["p99"] for e in runs]),
        "records_per_sec": med([e["records_per_sec"] for e in runs])}


def e2e_latency(ctx):
    secs = 5 if ctx.quick else 10
    ctx.note_load()
    http = f"127.0.0.1:{free_port()}"
    b = start_weir(ctx.weir, ctx.work, http=http)
    try:
        rates = max_rate(ctx, b, "e2e")
        rate = max(1000, int(med(rates) / 2))
        log(f"== e2e at 50 % of {med(rates):,.0f} rec/s = {rate:,} rec/s, linger.ms={E2E_LINGER_MS}")
        runs = e2e_runs(ctx, b.bootstrap, "e2e50", rate, secs, E2E_LINGER_MS, png="e2e-latency",
                        http=http)
    finally:
        b.stop()
    s = summarize_e2e(runs)
    # The picture of the run whose p99 is the median one.
    pick = median_p99_run(runs)
    png = ctx.path("e2e-latency.png")
    shutil.copyfile(runs[pick]["histogram_png"], png)
    print(f"\nEnd-to-end latency, 1 node, acks=all, 100 B, 1 partition, linger.ms={E2E_LINGER_MS}, "
          f"{secs} s at {rate:,} rec/s (50 % of the median max {med(rates):,.0f} rec/s), "
          f"medians of {ctx.runs}:")
    print(f"p50 {s['p50']:.2f} ms, p99 {s['p99']:.2f} ms ({verdict(s['p99'], 5)} < 5 ms), "
          f"p99.9 {s['p99_9']:.2f} ms ({verdict(s['p99_9'], 10)} < 10 ms), max {s['max']:.2f} ms; "
          f"delivered {s['records_per_sec']:,.0f} rec/s. Histogram: {png}")
    print(f"\nWhere the time goes in that run (run {pick + 1}; the broker's per-stage histograms, "
          f"docs/benchmarks.md):")
    stages.print_table(runs[pick]["stages"], runs[pick], E2E_LINGER_MS)
    return finish(ctx, "e2e-latency", {"max_rate_runs": rates, "rate": rate, "secs": secs,
                                       "linger_ms": E2E_LINGER_MS, "medians": s, "png": png,
                                       "e2e_runs": runs})


def e2e_low_rate(ctx):
    secs = 10 if ctx.quick else 20
    ctx.note_load()
    http = f"127.0.0.1:{free_port()}"
    b = start_weir(ctx.weir, ctx.work, http=http)
    try:
        runs = e2e_runs(ctx, b.bootstrap, "e2e1k", 1000, secs, 0, http=http)
    finally:
        b.stop()
    s = summarize_e2e(runs)
    print(f"\nEnd-to-end latency at 1,000 rec/s, linger.ms=0, acks=all, 100 B, 1 partition, {secs} s "
          f"(consumer assigned and producer connected before the first send), medians of "
          f"{ctx.runs}:")
    print(f"first 5 s: p99 {s['head_p99']:.2f} ms ({verdict(s['head_p99'], 1)} < 1 ms); whole run: "
          f"p50 {s['p50']:.2f} ms, p99 {s['p99']:.2f} ms ({verdict(s['p99'], 1)} < 1 ms), "
          f"p99.9 {s['p99_9']:.2f} ms, max {s['max']:.2f} ms")
    pick = median_p99_run(runs)
    print(f"\nWhere the time goes (run {pick + 1}, the median p99):")
    stages.print_table(runs[pick]["stages"], runs[pick], 0)
    return finish(ctx, "e2e-low-rate", {"secs": secs, "medians": s, "e2e_runs": runs})


# ------------------------------------------------------------------------- consume and cpu


def kcat_consume(bootstrap, topic, n):
    """Records/s of `kcat -C` reading `n` records of `topic` from the beginning to /dev/null
    (the fastest client path: librdkafka's C consumer with nothing on top)."""
    t0 = time.monotonic()
    r = subprocess.run(["kcat", "-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e", "-q",
                        "-c", str(n)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       timeout=120)
    if r.returncode != 0:
        raise RuntimeError(f"kcat on {topic}: {r.stderr.decode(errors='replace').strip()}")
    return n / (time.monotonic() - t0)


def with_kcat(ctx, broker, loads, tag, res, notes):
    """Add `kcat_consume_rps` samples (the topics run_suite filled) when kcat is installed; a
    kcat failure is noted, not fatal."""
    if not shutil.which("kcat"):
        return
    try:
        for wid, _size, _parts, _acks, n in loads:
            res[wid]["kcat_consume_rps"] = [kcat_consume(broker.bootstrap, f"{tag}-{wid}-{r}", n)
                                            for r in range(ctx.runs)]
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        notes[f"kcat-{tag}"] = str(e)


def with_fetch(ctx, broker, loads, tag, res, notes):
    """Add `fetch_rps` samples: `weir perf fetch` (raw Fetch requests, batch headers walked, no
    client library) over the topics run_suite filled, and `fetch_client_only_rps`, the same
    client walking a replayed answer in memory (what the load generator alone could take)."""
    try:
        for wid, _size, _parts, _acks, n in loads:
            rs = [perf(ctx.weir, broker.bootstrap, ["fetch", "--topic", f"{tag}-{wid}-{r}",
                                                     "--messages", str(n), "--replay-secs", "1"])
                  for r in range(ctx.runs)]
            res[wid]["fetch_rps"] = [r["records_per_sec"] for r in rs]
            res[wid]["fetch_client_only_rps"] = [r.get("client_only_records_per_sec", 0)
                                                 for r in rs]
    except (RuntimeError, subprocess.TimeoutExpired, json.JSONDecodeError) as e:
        notes[f"fetch-{tag}"] = str(e)


def suites(ctx, loads, kcat=False):
    """`loads` (compare.py workloads) against Weir and the peers of this run (and, with `kcat`,
    kcat consume and `weir perf fetch` of the same topics)."""
    ctx.note_load()
    res, peers, notes = {}, {}, {}
    b = start_weir(ctx.weir, ctx.work)
    try:
        res["weir"] = run_suite(ctx.weir, b, loads, ctx.runs, [], "weir")
        if kcat:
            with_kcat(ctx, b, loads, "weir", res["weir"], notes)
            with_fetch(ctx, b, loads, "weir", res["weir"], notes)
    finally:
        b.stop()
    ctx.note_load()
    if os.environ.get("SKIP_PEERS") == "1":
        notes["peers"] = "skipped (SKIP_PEERS=1)"
    else:
        binary, why = tansu_binary(ctx.cache)
        if binary is None:
            notes["tansu"] = f"skipped: {why}"
        else:
            t = start_tansu(binary, ctx.work)
            try:
                peers["tansu"] = run_suite(ctx.weir, t, loads, ctx.runs, [], "tansu")
                if kcat:
                    with_kcat(ctx, t, loads, "tansu", peers["tansu"], notes)
                    with_fetch(ctx, t, loads, "tansu", peers["tansu"], notes)
            except (RuntimeError, subprocess.TimeoutExpired, json.JSONDecodeError) as e:
                notes["tansu"] = f"failed: {e}"
            finally:
                t.stop()
        if os.environ.get("SKIP_KAFKA") == "1":
            notes["kafka"] = "skipped (SKIP_KAFKA=1)"
        else:
            run_kafka(ctx.weir, ctx.work, loads, ctx.runs, [], peers, notes)
        ctx.note_load()
    res.update(peers)
    for k, v in notes.items():
        print(f"{k}: {v}")
    return res, notes


def consume(ctx):
    n100, n1k = (300_000, 100_000) if ctx.quick else (1_000_000, 300_000)
    loads = [("100B-p1-all", 100, 1, "all", n100), ("1KiB-p1-all", 1024, 1, "all", n1k)]
    tcp = compare.tcp_baseline(2 if ctx.quick else 5)
    res, notes = suites(ctx, loads, kcat=True)
    w = res["weir"]
    print(f"\nConsume, medians of {ctx.runs}: `weir perf consume` (librdkafka, the same client for "
          f"every broker), kcat to /dev/null, and `weir perf fetch` (raw Fetch, batch headers "
          f"only; 'client alone' = the same client on a replayed answer, its ceiling); loopback "
          f"TCP ({tcp['tool']}) {tcp['mb_per_sec']:,.0f} MB/s in this run:")
    print("\n| workload | broker | consume rec/s | MB/s | weir ÷ broker | kcat rec/s "
          "| weir ÷ broker (kcat) | fetch rec/s | weir ÷ broker (fetch) | fetch client alone rec/s |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for wid, *_ in loads:
        wr, wk = med(w[wid]["consume_rps"]), med(w[wid].get("kcat_consume_rps", []))
        wf = med(w[wid].get("fetch_rps", []))
        for name, r in res.items():
            v, k = med(r[wid]["consume_rps"]), med(r[wid].get("kcat_consume_rps", []))
            f, fc = med(r[wid].get("fetch_rps", [])), med(r[wid].get("fetch_client_only_rps", []))
            print(f"| {wid} | {name} | {v:,.0f} | {med(r[wid]['consume_mbps']):.1f} "
                  f"| {wr / v:.2f} | {k:,.0f} | {wk / k if k else 0:.2f} | {f:,.0f} "
                  f"| {wf / f if f else 0:.2f} | {fc:,.0f} |")
    kib = med(w["1KiB-p1-all"]["consume_mbps"])
    frac = kib / tcp["mb_per_sec"]
    kib_fetch = med(w["1KiB-p1-all"].get("fetch_rps", [])) * 1024 / 2**20
    frac_fetch = kib_fetch / tcp["mb_per_sec"]
    if not shutil.which("kcat"):
        print("(kcat not installed: `apt-get install kcat` adds the kcat columns)")
    print(f"\n1 KiB consume ÷ loopback TCP (record payload): librdkafka {frac:.3f}, raw fetch "
          f"{frac_fetch:.3f} ({verdict(frac_fetch, 0.6, below=False)} ≥ 0.60)")
    for name in res:
        if name != "weir":
            x = med(w["100B-p1-all"]["consume_rps"]) / med(res[name]["100B-p1-all"]["consume_rps"])
            pf = med(res[name]["100B-p1-all"].get("fetch_rps", []))
            xf = med(w["100B-p1-all"].get("fetch_rps", [])) / pf if pf else 0
            print(f"100 B consume weir ÷ {name}: librdkafka {x:.2f}, raw fetch {xf:.2f} "
                  f"({verdict(xf, 1.5, below=False)} ≥ 1.5)")
    return finish(ctx, "consume", {"tcp": tcp, "results": res, "notes": notes,
                                   "kib_consume_over_tcp": frac,
                                   "kib_fetch_over_tcp": frac_fetch})


def cpu(ctx):
    n = 300_000 if ctx.quick else 1_000_000
    loads = [("100B-p1-all", 100, 1, "all", n)]
    res, notes = suites(ctx, loads)
    print(f"\nBroker CPU-seconds per million 100 B records (utime+stime of the broker process "
          f"over each run / records), acks=all, 1 partition, medians of {ctx.runs}:")
    print("\n| broker | produce CPU s/M | consume CPU s/M | produce rec/s | consume rec/s |")
    print("|---|---:|---:|---:|---:|")
    for name, r in res.items():
        x = r["100B-p1-all"]
        print(f"| {name} | {med(x['produce_cpu_per_m']):.3f} | {med(x['consume_cpu_per_m']):.3f} "
              f"| {med(x['produce_rps']):,.0f} | {med(x['consume_rps']):,.0f} |")
    x = res["weir"]["100B-p1-all"]
    p, c = med(x["produce_cpu_per_m"]), med(x["consume_cpu_per_m"])
    print(f"\nweir: produce {p:.3f} s/M ({verdict(p, 0.15 + 1e-9)} ≤ 0.15), consume {c:.3f} s/M "
          f"({verdict(c, 0.08 + 1e-9)} ≤ 0.08)")
    return finish(ctx, "cpu", {"results": res, "notes": notes})


# -------------------------------------------------------------------------------------- wide


RAW_BATCH = 100


def wide_table(runs, counts, p99_title, latency_key):
    """One table of the wide scenario: rate, p99 and broker CPU per partition count (medians)."""
    print(f"\n| partitions | produce rec/s | {p99_title} | broker CPU s/M |")
    print("|---:|---:|---:|---:|")
    for parts in counts:
        xs = runs[parts]
        print(f"| {parts} | {med([p['records_per_sec'] for p in xs]):,.0f} "
              f"| {med([p[latency_key]['p99'] for p in xs]):.1f} "
              f"| {med([p['broker_cpu_per_m'] for p in xs]):.2f} |")


def wide(ctx):
    n = 300_000 if ctx.quick else 1_000_000
    wide_parts = 1000
    ctx.note_load()
    b = start_weir(ctx.weir, ctx.work)
    res = {8: [], wide_parts: []}
    raw = {8: [], wide_parts: []}
    try:
        for r in range(ctx.runs):
            for parts in (8, wide_parts):
                # Created first with `weir topics create` (up to 10 min): creating 1,000
                # partitions can outlast `weir perf`'s own CreateTopics wait on a busy machine.
                t0 = time.monotonic()
                scale.create(ctx.weir, b.bootstrap, f"wide{parts}-{r}", parts)
                create_secs = time.monotonic() - t0
                c0 = b.cpu()
                p = perf(ctx.weir, b.bootstrap, ["produce", "--topic", f"wide{parts}-{r}",
                                                 "--num-records", str(n), "--record-size", "100",
                                                 "--acks", "all", "--partitions", str(parts),
                                                 "--partitioner", "round-robin"], timeout=300)
                p["broker_cpu_per_m"] = (b.cpu() - c0) / (p["records"] / 1e6)
                p["create_secs"] = create_secs
                p["load_avg_1m"] = ctx.note_load()
                res[parts].append(p)
                log(f"  run {r + 1}: {parts} partitions {p['records_per_sec']:,.0f} rec/s, "
                    f"p99 {p['latency_ms']['p99']} ms (load {p['load_avg_1m']})")
        # The broker's side: `weir perf produce-raw` (one prebuilt 100-record batch per
        # partition, every partition of the topic in each request, 5 requests in flight), a
        # producer that is not the limit, as `perf fetch` is for consume.
        for r in range(ctx.runs):
            for parts in (8, wide_parts):
                topic = f"wideraw{parts}-{r}"
                scale.create(ctx.weir, b.bootstrap, topic, parts)
                c0 = b.cpu()
                p = perf(ctx.weir, b.bootstrap, ["produce-raw", "--topic", topic, "--num-records",
                                                 str(n * 2), "--record-size", "100",
                                                 "--batch-records", str(RAW_BATCH)], timeout=300)
                p["broker_cpu_per_m"] = (b.cpu() - c0) / (p["records"] / 1e6)
                p["load_avg_1m"] = ctx.note_load()
                raw[parts].append(p)
                log(f"  raw run {r + 1}: {parts} partitions {p['records_per_sec']:,.0f} rec/s "
                    f"(load {p['load_avg_1m']})")
    finally:
        b.stop()
    r8 = med([p["records_per_sec"] for p in res[8]])
    rw = med([p["records_per_sec"] for p in res[wide_parts]])
    q8 = med([p["records_per_sec"] for p in raw[8]])
    qw = med([p["records_per_sec"] for p in raw[wide_parts]])
    batching = res[8][0]["batching"]
    print(f"\nRound-robin produce, 1 node, acks=all, 100 B, {n:,} records, client batching "
          f"{batching} (librdkafka), medians of {ctx.runs}:")
    wide_table(res, (8, wide_parts), "p99 ms", "latency_ms")
    print(f"\n{wide_parts} ÷ 8 partitions (librdkafka): {rw / r8:.2f}")
    print(f"\nThe same with `weir perf produce-raw` ({RAW_BATCH} records of 100 B per partition batch, "
          f"every partition in each request, 5 requests in flight, acks=all), medians of "
          f"{ctx.runs}:")
    wide_table(raw, (8, wide_parts), "request p99 ms", "request_latency_ms")
    print(f"\n{wide_parts} ÷ 8 partitions (raw producer): {qw / q8:.2f} "
          f"({verdict(qw / q8, 0.7, below=False)} ≥ 0.7)")
    return finish(ctx, "wide", {"records": n, "batching": batching, "ratio": rw / r8,
                                "raw_ratio": qw / q8, "raw_batch_records": RAW_BATCH,
                                "runs_8": res[8], f"runs_{wide_parts}": res[wide_parts],
                                "raw_runs_8": raw[8], f"raw_runs_{wide_parts}": raw[wide_parts]})


SCENARIOS = {"e2e-latency": e2e_latency, "e2e-low-rate": e2e_low_rate, "consume": consume,
             "cpu": cpu, "wide": wide}


def run(name, args, work, cache):
    """Run scenario `name`; returns the process exit status (non-zero when it could not run)."""
    import e2e_raw
    import replication
    table = {**SCENARIOS, "replication": replication.scenario, "scale": scale.scale,
             "startup": scale.startup, "e2e-latency-raw": e2e_raw.scenario,
             "replication-e2e-raw": e2e_raw.replication_scenario}
    if name not in table:
        log(f"unknown scenario {name!r}; one of: {', '.join(sorted(table))}")
        return 2
    ctx = Ctx(args, work, cache)
    log(f"== scenario {name} ({ctx.runs} runs; results in {ctx.out_dir})")
    t0 = time.monotonic()
    try:
        table[name](ctx)
    except RuntimeError as e:
        log(f"== scenario {name} FAILED: {e}")
        finish(ctx, name, {**ctx.partial, "error": str(e)})
        return 1
    log(f"== scenario {name} done in {time.monotonic() - t0:.0f} s")
    return 0
