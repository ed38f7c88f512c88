#!/usr/bin/env bash
# Side-by-side broker benchmark (issue #9): Weir (release build, durable defaults) against the
# physical baselines measured in the same run (fdatasync'd disk appends, loopback TCP) and, when it
# can be obtained from PyPI, Tansu (in-memory storage), and Apache Kafka 4.4.0 (jars from Maven
# Central, bench/kafka_peer.py) twice: with its page-cache default and with
# log.flush.interval.messages=1. Every load comes from `weir perf` (librdkafka), the same client for
# every broker. Loopback only.
#
#   bash bench/compare.sh --quick     # 3 runs of a few workloads, well under 3 minutes
#   bash bench/compare.sh             # every workload of the issue, 5 runs each
#   bash bench/compare.sh --scenario e2e-latency [--runs 3] [--quick]   # one scenario of issue
#       #24: e2e-latency, e2e-low-rate, consume, cpu, replication, wide, scale, startup
#       # (bench/scenarios.py; docs/benchmarks.md). Raw numbers: $CARGO_TARGET_DIR/bench/*.json
#
# Environment: TANSU_BIN=/path/to/tansu to use a given Tansu binary; SKIP_PEERS=1 for Weir only;
# SKIP_KAFKA=1 to leave Apache Kafka out (it needs java and mvn; jars cached in
# ~/.cache/weir-kafka-4.4.0); CARGO_TARGET_DIR is honoured for the release build;
# WEIR_BEFORE=/path/to/older/weir to measure an older build in the same run (after ÷ before table).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
if [[ ! -x "$TARGET/release/weir" || "${BUILD:-1}" == 1 ]]; then
    echo "== cargo build --release -p weir" >&2
    (cd "$ROOT" && cargo build --release -p weir >&2)
fi
extra=()
[[ -n "${WEIR_BEFORE:-}" ]] && extra=(--weir-before "$WEIR_BEFORE")
exec python3 "$ROOT/bench/compare.py" --weir "$TARGET/release/weir" --out-dir "$TARGET/bench" \
    "${extra[@]}" "$@"
