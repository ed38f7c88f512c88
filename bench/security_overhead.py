#!/usr/bin/env python3
"""The cost of TLS and SASL (issue #21): produce and consume throughput over SSL and SASL_SSL
(SCRAM-SHA-256) as ratios of PLAINTEXT, same broker, same run, interleaved run by run. One broker
with three listeners (PLAINTEXT, SSL, SASL_SSL); certificates made with the openssl CLI in a
temporary directory; the SCRAM user is made with `weir users scram set`. 100 B records, 1
partition, acks=all; medians of --runs; broker CPU-s per million records. Loopback only; bounded.

    python3 bench/security_overhead.py --weir target/release/weir [--runs 3] [--records 1000000]
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare import Broker, free_port, perf  # noqa: E402

MODES = ("PLAINTEXT", "SSL", "SASL_SSL")
USER, PASSWORD = "bench", "bench-secret"


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_pki(d):
    """A CA and a server certificate for 127.0.0.1 signed by it; Kafka's PEM keystore."""
    (d / "server.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
            "ca.pem", "-days", "2", "-subj", "/CN=weir-bench-ca", cwd=d)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out",
            "server.csr", "-subj", "/CN=localhost", cwd=d)
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "server.ext", cwd=d)
    (d / "keystore.pem").write_text((d / "server.pem").read_text() + (d / "server.key").read_text())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weir", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--records", type=int, default=1_000_000)
    a = ap.parse_args()
    res = {m: {"produce": [], "consume": []} for m in MODES}
    with tempfile.TemporaryDirectory() as work:
        w = Path(work)
        make_pki(w)
        ports = {m: free_port() for m in MODES}
        names = {"PLAINTEXT": "PLAIN", "SSL": "TLS", "SASL_SSL": "SASLTLS"}
        listeners = ",".join(f"{names[m]}://127.0.0.1:{ports[m]}" for m in MODES)
        argv = [a.weir, "serve", "--listeners", listeners, "--advertised-listeners", listeners,
                "--listener-security-protocol-map",
                ",".join(f"{names[m]}:{m}" for m in MODES),
                "--inter-broker-listener-name", "PLAIN",
                "--ssl-keystore-type", "PEM", "--ssl-keystore-location", str(w / "keystore.pem"),
                "--sasl-enabled-mechanisms", "SCRAM-SHA-256",
                "--log-dirs", str(w / "data"), "--http-listener", "none"]
        b = Broker("weir-security", argv, ports["PLAINTEXT"], work)
        try:
            env = {**os.environ, "WEIR_USER_PASSWORD": PASSWORD}
            subprocess.run([a.weir, "users", "scram", "set", "--user", USER, "--mechanism",
                            "SCRAM-SHA-256", "-b", f"127.0.0.1:{ports['PLAINTEXT']}"],
                           check=True, capture_output=True, env=env, timeout=60)
            configs = {}
            for m in MODES:
                props = {"security.protocol": m}
                if m != "PLAINTEXT":
                    props["ssl.ca.location"] = str(w / "ca.pem")
                if m == "SASL_SSL":
                    props.update({"sasl.mechanism": "SCRAM-SHA-256", "sasl.username": USER,
                                  "sasl.password": PASSWORD})
                f = w / f"{m}.properties"
                f.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
                configs[m] = str(f)
            for run in range(a.runs):
                for m in MODES:
                    bs, topic = f"127.0.0.1:{ports[m]}", f"load-{m.lower()}-{run}"
                    c0 = b.cpu()
                    p = perf(a.weir, bs, ["produce", "--command-config", configs[m], "--topic",
                                          topic, "--partitions", "1", "--num-records",
                                          str(a.records), "--record-size", "100",
                                          "--acks", "all"], timeout=300)
                    c1 = b.cpu()
                    c = perf(a.weir, bs, ["consume", "--command-config", configs[m], "--topic",
                                          topic, "--messages", str(a.records)], timeout=300)
                    c2 = b.cpu()
                    res[m]["produce"].append((p["records_per_sec"],
                                              (c1 - c0) / (p["records"] / 1e6)))
                    res[m]["consume"].append((c["records_per_sec"],
                                              (c2 - c1) / (c["records"] / 1e6)))
                    print(f"run {run + 1} {m}: produce {p['records_per_sec']:,.0f} rec/s, "
                          f"consume {c['records_per_sec']:,.0f} rec/s", file=sys.stderr,
                          flush=True)
        finally:
            b.stop()
    med = statistics.median
    print(f"| listener | produce rec/s | ÷ PLAINTEXT | broker CPU-s/M | consume rec/s | "
          f"÷ PLAINTEXT | broker CPU-s/M |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    base = {k: med([x for x, _ in res["PLAINTEXT"][k]]) for k in ("produce", "consume")}
    for m in MODES:
        cells = []
        for k in ("produce", "consume"):
            v = med([x for x, _ in res[m][k]])
            cells += [f"{v:,.0f}", f"{v / base[k]:.2f}", f"{med([c for _, c in res[m][k]]):.2f}"]
        print(f"| {m} | " + " | ".join(cells) + " |")
    for m in MODES:
        for k in ("produce", "consume"):
            print(f"samples {m} {k}: " + ", ".join(f"{x:,.0f}" for x, _ in res[m][k]))


if __name__ == "__main__":
    main()
