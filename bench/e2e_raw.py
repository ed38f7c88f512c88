"""`bash bench/compare.sh --scenario e2e-latency-raw`: target 1 of issue #24 (end-to-end p99 < 5 ms
and p99.9 < 10 ms at 50 % of the broker's maximum rate, acks=all, 100 B, one partition) with the
load generator off the broker's two cores: `weir perf produce-raw` measures the maximum (prebuilt
batches of RAW_BATCH records, 5 requests in flight, for as long as the end-to-end runs last, so
that the disk's sustained pace and not its burst decides), then `weir perf e2e-raw` sends the same batches on a fixed schedule at
half of it and times every record from when it was due to when a raw Fetch delivered it.
Each topic is deleted after its run, so later runs do not write behind earlier runs' data."""

import shutil
import subprocess

import scenarios
import stages
from compare import free_port, log, perf, start_weir

RAW_BATCH = 1000
SECS = 10


def weir_cli(ctx, bootstrap, *args):
    r = subprocess.run([ctx.weir, *args, "-b", bootstrap], capture_output=True, text=True,
                       timeout=120)
    if r.returncode != 0:
        raise RuntimeError(f"weir {' '.join(args)}: {r.stderr.strip()}")


def max_rate_raw(ctx, bootstrap, secs, create, label="raw", prefix="rawmax"):
    """`produce-raw` for `secs` on a fresh topic per run (`create(topic)` makes it; deleted
    after its run through `admin`); returns the rates."""
    rates = []
    for r in range(ctx.runs):
        topic = f"{prefix}-{r}"
        admin = create(topic)
        p = perf(ctx.weir, bootstrap, ["produce-raw", "--topic", topic, "--duration", str(secs),
                                       "--batch-records", str(RAW_BATCH)], timeout=300)
        weir_cli(ctx, admin, "topics", "delete", topic)
        rates.append(p["records_per_sec"])
        log(f"  {label} max rate run {r + 1}: {p['records_per_sec']:,.0f} rec/s over "
            f"{p['elapsed_secs']:.1f} s (load {ctx.note_load()})")
    return rates


def scenario(ctx):
    secs = 5 if ctx.quick else SECS
    ctx.note_load()
    http = f"127.0.0.1:{free_port()}"
    b = start_weir(ctx.weir, ctx.work, http=http)
    runs = []
    try:
        def create(topic):
            weir_cli(ctx, b.bootstrap, "topics", "create", topic, "--partitions", "1")
            return b.bootstrap

        rates = max_rate_raw(ctx, b.bootstrap, secs, create)
        rate = int(scenarios.med(rates) / 2)
        ctx.partial = {"max_rate_runs": rates, "rate": rate}
        log(f"== e2e-raw at 50 % of {scenarios.med(rates):,.0f} rec/s = {rate:,} rec/s, "
            f"{RAW_BATCH} records per batch")
        for r in range(ctx.runs):
            topic = f"e2eraw-{r}"
            before = stages.scrape(http)
            e = perf(ctx.weir, b.bootstrap,
                     ["e2e-raw", "--topic", topic, "--partitions", "1", "--rate", str(rate),
                      "--duration", str(secs), "--batch-records", str(RAW_BATCH),
                      "--report-interval", "1",
                      "--histogram-png", ctx.path(f"e2e-latency-raw-run{r + 1}.png")],
                     timeout=secs + 90)
            e["stages"] = stages.breakdown(before, stages.scrape(http))
            e["load_avg_1m"] = ctx.note_load()
            weir_cli(ctx, b.bootstrap, "topics", "delete", topic)
            runs.append(e)
            l = e["latency_ms"]
            log(f"  e2e-raw run {r + 1} at {rate:,} rec/s: p50 {l['p50']} ms, p99 {l['p99']} ms, "
                f"p99.9 {l['p99_9']} ms, max {l['max']} ms (load {e['load_avg_1m']})")
    finally:
        b.stop()
    s = scenarios.summarize_e2e(runs)
    pick = scenarios.median_p99_run(runs)
    # The picture of the run whose p99 is the median one.
    png = ctx.path("e2e-latency-raw.png")
    shutil.copyfile(runs[pick]["histogram_png"], png)
    print(f"\nEnd-to-end latency with the raw client, 1 node, acks=all, 100 B, 1 partition, "
          f"{RAW_BATCH} records per batch sent when its last record is due, {secs} s at "
          f"{rate:,} rec/s (50 % of the median raw max {scenarios.med(rates):,.0f} rec/s), "
          f"medians of {ctx.runs}:")
    print(f"p50 {s['p50']:.2f} ms, p99 {s['p99']:.2f} ms ({scenarios.verdict(s['p99'], 5)} < 5 ms), "
          f"p99.9 {s['p99_9']:.2f} ms ({scenarios.verdict(s['p99_9'], 10)} < 10 ms), max "
          f"{s['max']:.2f} ms; delivered {s['records_per_sec']:,.0f} rec/s. Histogram (run "
          f"{pick + 1}): {png}")
    print(f"\nWhere the time goes in that run (run {pick + 1}; the broker's per-stage histograms):")
    stages.print_table(runs[pick]["stages"], runs[pick])
    return scenarios.finish(ctx, "e2e-latency-raw",
                            {"max_rate_runs": rates, "rate": rate, "secs": secs,
                             "batch_records": RAW_BATCH, "medians": s, "png": png,
                             "e2e_runs": runs})


def replication_scenario(ctx):
    """`--scenario replication-e2e-raw`: target 3's end-to-end part (p99 < 10 ms at 50 % load) on
    the RF=3 cluster of `--scenario replication` (one controller + three brokers,
    min.insync.replicas=2), with the raw client: the maximum from `produce-raw` on an RF=3
    topic, then `e2e-raw` at half of it; each topic deleted after its run."""
    import replication
    secs = 5 if ctx.quick else SECS
    ctx.note_load()
    with replication.rf1_and_rf3(ctx.weir, ctx.work) as (_single, brokers):
        admin = brokers[0].bootstrap
        bs3 = ",".join(b.bootstrap for b in brokers)
        rf3 = ["--config", "min.insync.replicas=2"]

        def create(topic):
            replication.create(ctx.weir, admin, topic, 3, rf3)
            return admin

        rates = max_rate_raw(ctx, bs3, secs, create, label="RF=3 raw", prefix="rf3max")
        rate = int(scenarios.med(rates) / 2)
        ctx.partial = {"max_rate_runs": rates, "rate": rate}
        runs = []
        for r in range(ctx.runs):
            topic = f"rf3e2e-{r}"
            replication.create(ctx.weir, admin, topic, 3, rf3)
            cpu0 = sum(b.cpu() for b in brokers)
            e = perf(ctx.weir, bs3, ["e2e-raw", "--topic", topic, "--rate", str(rate),
                                     "--duration", str(secs), "--batch-records", str(RAW_BATCH),
                                     "--report-interval", "1"], timeout=secs + 90)
            e["broker_cpu_secs"] = sum(b.cpu() for b in brokers) - cpu0
            e["load_avg_1m"] = ctx.note_load()
            weir_cli(ctx, admin, "topics", "delete", topic)
            runs.append(e)
            l = e["latency_ms"]
            log(f"  RF=3 e2e-raw run {r + 1} at {rate:,} rec/s: p50 {l['p50']} ms, p99 {l['p99']} "
                f"ms, p99.9 {l['p99_9']} ms, max {l['max']} ms; ack p99 "
                f"{e['ack_latency_ms']['p99']} ms; brokers {e['broker_cpu_secs']:.1f} CPU-s "
                f"(load {e['load_avg_1m']})")
    s = scenarios.summarize_e2e(runs)
    print(f"\nEnd-to-end latency on RF=3 (min.insync.replicas=2, acks=all) with the raw client, "
          f"100 B, 1 partition, {RAW_BATCH} records per batch, {secs} s at {rate:,} rec/s (50 % "
          f"of the median RF=3 raw max {scenarios.med(rates):,.0f} rec/s), medians of "
          f"{ctx.runs}:")
    print(f"p50 {s['p50']:.2f} ms, p99 {s['p99']:.2f} ms ({scenarios.verdict(s['p99'], 10)} "
          f"< 10 ms), p99.9 {s['p99_9']:.2f} ms, max {s['max']:.2f} ms; delivered "
          f"{s['records_per_sec']:,.0f} rec/s")
    return scenarios.finish(ctx, "replication-e2e-raw",
                            {"max_rate_runs": rates, "rate": rate, "secs": secs,
                             "batch_records": RAW_BATCH, "medians": s, "e2e_runs": runs})
