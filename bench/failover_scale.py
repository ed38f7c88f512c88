#!/usr/bin/env python3
"""Leader failover at scale (issue #24, target 4): a 3-node Weir cluster (combined
broker+controller nodes on 127.0.0.1) with 1,000 partitions of replication factor 3 (3,000
partition replicas); one node is killed with SIGKILL and a surviving node's Metadata is polled
until every partition the dead node led has a live leader again. Prints, per run, how long each
of those partitions was without a live leader (p50 / p90 / p99 / max), a text histogram, and
writes the raw times as JSON (and an SVG cumulative plot) under target/bench/.

The controller only learns that a killed node is gone when its broker session expires
(`broker.session.timeout.ms`, Kafka's default 9000; heartbeats every
`broker.heartbeat.interval.ms`, default 2000), as in Kafka; `--session-timeouts` runs the
measurement for each value given (the heartbeat interval is a third of it, at most 2000).

    python3 bench/failover_scale.py --weir target/release/weir \
        [--partitions 1000] [--runs 3] [--session-timeouts 9000,3000]

Loopback only; every wait is bounded.
"""

import argparse
import json
import os
import signal
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import Broker, free_port, log, wait_port  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def start_cluster(weir, workdir, session_ms):
    ports = [(free_port(), free_port()) for _ in range(3)]
    voters = ",".join(f"{i}@127.0.0.1:{c}" for i, (_, c) in enumerate(ports, start=1))
    heartbeat = min(2000, max(100, session_ms // 3))
    nodes = {}
    for i, (client, ctrl) in enumerate(ports, start=1):
        argv = [weir, "serve", "--node-id", str(i), "--process-roles", "broker,controller",
                "--controller-quorum-voters", voters,
                "--listeners", f"PLAINTEXT://127.0.0.1:{client},CONTROLLER://127.0.0.1:{ctrl}",
                "--advertised-listeners", f"PLAINTEXT://127.0.0.1:{client}",
                "--broker-session-timeout-ms", str(session_ms),
                "--broker-heartbeat-interval-ms", str(heartbeat),
                "--log-dirs", os.path.join(workdir, f"node-{i}")]
        nodes[i] = Broker(f"node-{i}", argv, client, workdir, wait=False)
    # A node serves clients once the quorum has unfenced it: all must be running first.
    for n in nodes.values():
        if not wait_port(n.port, n.proc, timeout=60):
            for m in nodes.values():
                m.stop()
            raise RuntimeError(f"{n.name} did not start (see {n.out.name})")
    return nodes



def leaders(admin, topic):
    """{partition: leader id} from one Metadata request (None when the topic is not there)."""
    md = admin.list_topics(topic, timeout=10)
    t = md.topics.get(topic)
    if t is None or t.error is not None:
        return None
    return {p: pm.leader for p, pm in t.partitions.items()}, {
        p: len(pm.isrs) for p, pm in t.partitions.items()}


def wait_for(what, cond, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = cond()
        if r:
            return r
        time.sleep(0.1)
    raise RuntimeError(f"timed out waiting for {what}")


def one_run(weir, partitions, session_ms, workdir):
    from confluent_kafka.admin import AdminClient, NewTopic

    nodes = start_cluster(weir, workdir, session_ms)
    try:
        boot = ",".join(n.bootstrap for n in nodes.values())
        admin = AdminClient({"bootstrap.servers": boot, "log_level": 0})
        topic = "wide"

        def create():
            fs = admin.create_topics([NewTopic(topic, partitions, 3)], request_timeout=60)
            try:
                fs[topic].result(90)
                return True
            except Exception as e:  # noqa: BLE001 - brokers still registering: retry
                if "already exists" in str(e).lower():
                    return True
                log(f"create: {e}")
                return False

        wait_for("topic creation", create, 120)

        def settled():
            r = leaders(admin, topic)
            if r is None:
                return None
            lead, isr = r
            ok = len(lead) == partitions and all(l > 0 for l in lead.values()) and all(
                n == 3 for n in isr.values())
            return lead if ok else None

        lead = wait_for("all partitions led with a full ISR", settled, 180)
        counts = {i: sum(1 for l in lead.values() if l == i) for i in nodes}
        victim = max(counts, key=counts.get)
        lost = {p for p, l in lead.items() if l == victim}
        survivor = next(n for i, n in nodes.items() if i != victim)
        watch = AdminClient({"bootstrap.servers": survivor.bootstrap, "log_level": 0})
        log(f"  leaders per node {counts}; killing node {victim} ({len(lost)} partitions)")
        t0 = time.monotonic()
        os.kill(nodes[victim].proc.pid, signal.SIGKILL)
        nodes[victim].proc.wait()
        recovered = {}
        deadline = t0 + 120
        while len(recovered) < len(lost) and time.monotonic() < deadline:
            r = leaders(watch, topic)
            now = time.monotonic() - t0
            if r is not None:
                for p, l in r[0].items():
                    if p in lost and p not in recovered and l not in (-1, victim):
                        recovered[p] = now
            time.sleep(0.05)
        missing = len(lost) - len(recovered)
        return sorted(recovered.values()), missing
    finally:
        for n in nodes.values():
            n.stop()


def pct(xs, q):
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


def histogram(xs, width=50, bins=12):
    if not xs:
        return ""
    lo, hi = xs[0], xs[-1]
    step = max((hi - lo) / bins, 1e-3)
    counts = [0] * bins
    for x in xs:
        counts[min(bins - 1, int((x - lo) / step))] += 1
    top = max(counts)
    return "\n".join(
        f"  {lo + i * step:6.2f}-{lo + (i + 1) * step:6.2f} s |{'#' * round(c / top * width)} {c}"
        for i, c in enumerate(counts))


def svg_cdf(series, path):
    """A cumulative plot (fraction of partitions with a live leader vs. seconds after the kill)."""
    w, h, m = 640, 400, 50
    xmax = max((max(xs) for xs in series.values() if xs), default=1.0) * 1.05
    colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}">',
             '<rect width="100%" height="100%" fill="white"/>',
             f'<line x1="{m}" y1="{h - m}" x2="{w - m}" y2="{h - m}" stroke="black"/>',
             f'<line x1="{m}" y1="{m}" x2="{m}" y2="{h - m}" stroke="black"/>',
             f'<text x="{w / 2}" y="{h - 10}" text-anchor="middle">seconds after kill -9</text>',
             f'<text x="12" y="{m - 15}">fraction of the dead node\'s partitions led again</text>']
    for k in range(5):
        x = m + k / 4 * (w - 2 * m)
        parts.append(f'<text x="{x}" y="{h - m + 18}" text-anchor="middle">{xmax * k / 4:.1f}</text>')
        y = h - m - k / 4 * (h - 2 * m)
        parts.append(f'<text x="{m - 8}" y="{y + 4}" text-anchor="end">{k / 4:.2f}</text>')
    for n, (label, xs) in enumerate(series.items()):
        if not xs:
            continue
        pts = " ".join(
            f"{m + x / xmax * (w - 2 * m):.1f},{h - m - (i + 1) / len(xs) * (h - 2 * m):.1f}"
            for i, x in enumerate(xs))
        c = colors[n % len(colors)]
        parts.append(f'<polyline fill="none" stroke="{c}" stroke-width="2" points="{pts}"/>')
        parts.append(f'<text x="{w - m - 5}" y="{m + 18 * (n + 1)}" text-anchor="end" '
                     f'fill="{c}">{label}</text>')
    parts.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(parts))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weir", required=True)
    ap.add_argument("--partitions", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--session-timeouts", default="9000,3000",
                    help="broker.session.timeout.ms values to measure (comma-separated)")
    args = ap.parse_args()
    out_dir = os.path.join(ROOT, "target", "bench")
    os.makedirs(out_dir, exist_ok=True)
    report, series = {}, {}
    for session_ms in [int(s) for s in args.session_timeouts.split(",")]:
        all_times, worst, missing = [], [], 0
        for run in range(args.runs):
            log(f"session {session_ms} ms, run {run + 1}/{args.runs}")
            with tempfile.TemporaryDirectory(prefix="weir-failover-") as d:
                times, miss = one_run(args.weir, args.partitions, session_ms, d)
            missing += miss
            all_times.extend(times)
            if times:
                worst.append(times[-1])
        all_times.sort()
        label = f"broker.session.timeout.ms={session_ms}"
        series[label] = all_times
        report[label] = {
            "partitions": args.partitions, "runs": args.runs, "missing": missing,
            "p50_s": pct(all_times, 0.5), "p90_s": pct(all_times, 0.9),
            "p99_s": pct(all_times, 0.99), "max_s": all_times[-1] if all_times else None,
            "median_of_run_max_s": statistics.median(worst) if worst else None,
            "times_s": all_times,
        }
        print(f"\n{label}: {len(all_times)} partitions re-led over {args.runs} runs"
              f" ({missing} never within 120 s)")
        print(f"  p50 {pct(all_times, 0.5):.2f} s  p90 {pct(all_times, 0.9):.2f} s"
              f"  p99 {pct(all_times, 0.99):.2f} s  max {all_times[-1] if all_times else 0:.2f} s"
              f"  (median of each run's last: {report[label]['median_of_run_max_s'] or 0:.2f} s)")
        print(histogram(all_times))
    with open(os.path.join(out_dir, "failover_scale.json"), "w") as f:
        json.dump(report, f, indent=1)
    svg_cdf(series, os.path.join(out_dir, "failover_scale.svg"))
    print(f"\nraw times: {out_dir}/failover_scale.json; plot: {out_dir}/failover_scale.svg")


if __name__ == "__main__":
    main()
