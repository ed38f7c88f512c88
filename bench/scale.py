#!/usr/bin/env python3
"""Scale and start-up scenarios of issue #24 (run through `bash bench/compare.sh --scenario`):

- `scale`: one node, `weir topics create` with --scale-partitions (default 10,000) partitions,
  three 100 B records per partition (round-robin), then the broker's RSS and idle CPU, and the
  time until `/ready` answers 200 after a clean stop and after kill -9.
- `startup`: one node, --startup-gb GB (default 1) of 10,000 B records in a 100-partition topic,
  kill -9, and the time until `/ready` after the restart (the issue's figure is for 20 GB:
  `bash bench/compare.sh --scenario startup --startup-gb 20`, ~21 GB of free disk needed).

"Ready" is the broker's own HTTP `/ready` (open, registered with the quorum, unfenced)."""

import json
import os
import signal
import subprocess
import time
import urllib.request

from compare import free_port, log, perf  # noqa: E402


class Node:
    """A one-node `weir serve` with an HTTP listener, restartable on the same data dir."""

    def __init__(self, weir, work, name):
        self.weir, self.work, self.name = weir, work, name
        self.port, self.http = free_port(), free_port()
        self.data = os.path.join(work, f"{name}-data")
        self.proc, self.starts = None, 0

    @property
    def bootstrap(self):
        return f"127.0.0.1:{self.port}"

    def start(self, timeout=300):
        """Start and wait for `/ready`; returns the seconds from exec to ready."""
        self.starts += 1
        out = open(os.path.join(self.work, f"{self.name}-{self.starts}.log"), "w")
        argv = [self.weir, "serve", "--listeners", f"PLAINTEXT://127.0.0.1:{self.port}",
                "--log-dirs", self.data, "--http-listener", f"127.0.0.1:{self.http}"]
        t0 = time.monotonic()
        self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        out.close()
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode} while starting "
                                   f"(see {out.name})")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.http}/ready", timeout=1) as r:
                    if r.status == 200:
                        return time.monotonic() - t0
            except OSError:
                pass
            time.sleep(0.02)
        self.kill()
        raise RuntimeError(f"{self.name} not ready within {timeout} s (see {out.name})")

    def stop(self):
        """SIGTERM and wait (a clean stop); returns its seconds."""
        t0 = time.monotonic()
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(120)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return time.monotonic() - t0

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def rss_mib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return float("nan")

    def cpu(self):
        from compare import cpu_secs
        return cpu_secs(self.proc.pid)

    def fds(self):
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))


def described_partitions(weir, bootstrap, topic):
    """How many partitions `weir topics describe` shows for `topic` (0 when it cannot say)."""
    r = subprocess.run([weir, "topics", "describe", topic, "--json", "-b", bootstrap],
                       capture_output=True, text=True, timeout=120)
    try:
        return len(json.loads(r.stdout)["partitions"])
    except (ValueError, KeyError, TypeError):
        return 0


def create(weir, bootstrap, topic, partitions, timeout=600, log=None):
    """`weir topics create`; when the client's own wait runs out (OperationTimedOut: a broker
    still creating thousands of partitions on a busy machine), wait up to `timeout` seconds
    until `topics describe` shows every partition, unless the broker's `log` file shows it hit
    the open-file limit. Any other failure is raised."""
    t0 = time.monotonic()
    r = subprocess.run([weir, "topics", "create", topic, "--partitions", str(partitions),
                        "-b", bootstrap], capture_output=True, text=True, timeout=timeout)
    if r.returncode == 0:
        return
    err = (r.stderr or r.stdout).strip()
    if "TimedOut" in err:
        while time.monotonic() - t0 < timeout:
            if log and log_tail(log, ("Too many open files",), 1):
                err += "; the broker's log says: " + log_tail(log, ("Too many open files",), 1)[0]
                break
            if described_partitions(weir, bootstrap, topic) >= partitions:
                return
            time.sleep(1)
    raise RuntimeError(f"weir topics create {topic} --partitions {partitions} failed: {err}")


def log_tail(path, pattern=("ERROR", "WARN", "Too many open files"), n=5):
    """The last `n` lines of a broker log that match `pattern` (kept before the dir is removed)."""
    try:
        with open(path, errors="replace") as f:
            return [line.rstrip() for line in f if any(p in line for p in pattern)][-n:]
    except OSError:
        return []


def local_partitions(data, topic):
    """How many partitions of `topic` in the log dir `data` have their leader-epoch-checkpoint."""
    try:
        names = [d for d in os.listdir(data) if d.startswith(topic + "-")]
    except OSError:
        return 0
    return sum(os.path.exists(os.path.join(data, d, "leader-epoch-checkpoint")) for d in names)


def idle_cpu_pct(node, secs):
    c0, t0 = node.cpu(), time.monotonic()
    time.sleep(secs)
    return (node.cpu() - c0) / (time.monotonic() - t0) * 100


def scale(ctx):
    from scenarios import finish
    n = ctx.scale_partitions
    ctx.note_load()
    node = Node(ctx.weir, ctx.work, "scale")
    res = {"partitions": n}
    ctx.partial = res
    try:
        res["first_ready_secs"] = node.start()
        t0 = time.monotonic()
        try:
            create(ctx.weir, node.bootstrap, "wide", n,
                   log=os.path.join(node.work, "scale-1.log"))
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            res["create_error"] = str(e)
            res["broker_log_errors"] = log_tail(os.path.join(node.work, "scale-1.log"))
            print(f"\nscale: FAILED to create a topic with {n:,} partitions on one node: {e}")
            print("broker log (last errors/warnings):")
            for line in res["broker_log_errors"]:
                print(f"  {line}")
            raise RuntimeError(f"topic creation with {n} partitions failed") from e
        res["create_secs"] = time.monotonic() - t0
        # CreateTopics answers once the topic is committed (at the latest when its timeout ends,
        # as Kafka); the node then still creates the partition logs: wait until each has its
        # leader-epoch-checkpoint (its last step) to time the whole creation.
        while local_partitions(node.data, "wide") < n and time.monotonic() - t0 < 900:
            time.sleep(0.1)
        res["create_local_secs"] = time.monotonic() - t0
        p = perf(ctx.weir, node.bootstrap, ["produce", "--topic", "wide", "--num-records", str(3 * n),
                                            "--record-size", "100", "--acks", "all",
                                            "--partitioner", "round-robin"], timeout=600)
        res["produce"] = {k: p[k] for k in ("records", "records_per_sec", "partitions", "failed")}
        time.sleep(3)  # let the produce's aftermath settle before measuring idle
        res["rss_mib"] = node.rss_mib()
        res["open_fds"] = node.fds()
        res["idle_cpu_pct"] = idle_cpu_pct(node, 10)
        ctx.note_load()
        res["clean_stop_secs"] = node.stop()
        res["ready_after_clean_stop_secs"] = node.start()
        node.kill()
        res["ready_after_kill9_secs"] = node.start()
        res["rss_mib_after_restart"] = node.rss_mib()
        ctx.note_load()
    finally:
        node.stop()
    print(f"\nScale, one node, {n:,} partitions (RF=1, 3 records of 100 B each, round-robin):")
    print("\n| figure | value | target |")
    print("|---|---:|---|")
    print(f"| create topic (answer) | {res['create_secs']:.1f} s | |")
    print(f"| create topic (every partition log created) | {res['create_local_secs']:.1f} s | |")
    print(f"| RSS | {res['rss_mib']:,.0f} MiB | < 2048 MiB |")
    print(f"| open file descriptors | {res['open_fds']:,} | |")
    print(f"| idle CPU | {res['idle_cpu_pct']:.2f} % of a core | < 5 % |")
    print(f"| ready after clean stop | {res['ready_after_clean_stop_secs']:.2f} s | < 10 s |")
    print(f"| ready after kill -9 | {res['ready_after_kill9_secs']:.2f} s | < 30 s |")
    return finish(ctx, "scale", res)


def startup_checks(node, timeout=900):
    """From the broker's log: how long the segment check before start-up took, and (waiting for
    it, bounded) the background check of what was left (`log.startup.verify=recovery-point`)."""
    import re
    path = os.path.join(node.work, f"{node.name}-{node.starts}.log")
    out, t0 = {}, time.monotonic()
    while time.monotonic() - t0 < timeout:
        text = open(path, errors="replace").read()
        m = re.search(r"checked the segments from the recovery points on.*?elapsed_ms=(\d+)"
                      r"(?:.*?deferred=(\d+))?", text)
        if m:
            out["open_check_ms"] = int(m.group(1))
            if m.group(2) == "0":
                # Nothing left for the background check: no line will come.
                out["background_mib"], out["background_ms"] = 0, 0
                return out
        m = re.search(r"mib=(\d+).*?elapsed_ms=(\d+).*?background verification", text) or \
            re.search(r"background verification.*?mib=(\d+).*?elapsed_ms=(\d+)", text)
        if m:
            out["background_mib"], out["background_ms"] = int(m.group(1)), int(m.group(2))
            return out
        time.sleep(0.5)
    return out


def startup(ctx):
    from scenarios import finish
    gb, parts, size = ctx.startup_gb, 100, 10_000
    records = int(gb * 2**30 / size)
    ctx.note_load()
    node = Node(ctx.weir, ctx.work, "startup")
    res = {"gb": gb, "partitions": parts, "record_size": size, "records": records}
    try:
        node.start()
        create(ctx.weir, node.bootstrap, "big", parts)
        p = perf(ctx.weir, node.bootstrap, ["produce", "--topic", "big", "--num-records", str(records),
                                            "--record-size", str(size), "--acks", "1",
                                            # Laying down 20 GB outruns the disk's write-back for
                                            # tens of seconds at a time: only the data matters here.
                                            "--producer-props", "message.timeout.ms=600000"],
                 timeout=int(300 + gb * 120))
        res["produce_mb_per_sec"] = p["mb_per_sec"]
        # Segment data only (.log files; the index files are preallocated sparse files).
        res["data_bytes"] = sum(os.path.getsize(os.path.join(d, f))
                                for d, _, fs in os.walk(node.data) for f in fs
                                if f.endswith(".log") and f[0].isdigit())
        node.kill()
        res["ready_after_kill9_secs"] = node.start(timeout=600)
        res["after_kill9"] = startup_checks(node)
        res["ready_after_clean_stop_secs"] = (node.stop(), node.start(timeout=600))[1]
        res["after_clean_stop"] = startup_checks(node)
        ctx.note_load()
    finally:
        node.stop()
    print(f"\nStart-up with data, one node: {res['data_bytes'] / 2**30:.2f} GiB in {parts} "
          f"partitions ({records:,} records of {size:,} B):")
    print(f"ready after kill -9: {res['ready_after_kill9_secs']:.2f} s (target < 5 s for 20 GB); "
          f"after a clean stop: {res['ready_after_clean_stop_secs']:.2f} s")
    for k in ("after_kill9", "after_clean_stop"):
        c = res[k]
        print(f"{k}: checked before ready in {c.get('open_check_ms')} ms; background check of the "
              f"rest: {c.get('background_mib')} MiB in {c.get('background_ms')} ms")
    return finish(ctx, "startup", res)
