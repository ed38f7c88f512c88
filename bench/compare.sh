#!/usr/bin/env bash
# Side-by-side broker benchmark (issue #9): Weir (release build, durable defaults) against the
# physical baselines measured in the same run (fdatasync'd disk appends, loopback TCP) and, when it
# can be obtained from PyPI, Tansu (in-memory storage). Every load comes from `weir perf`
# (librdkafka), the same client for every broker. Loopback only.
#
#   bash bench/compare.sh --quick     # 3 runs of a few workloads, well under 3 minutes
#   bash bench/compare.sh             # every workload of the issue, 5 runs each
#
# Environment: TANSU_BIN=/path/to/tansu to use a given Tansu binary; SKIP_PEERS=1 for Weir only;
# KAFKA_HOME=/path/to/kafka to note a local Kafka (not driven yet: see docs/benchmarks.md);
# WEIR_BEFORE=/path/to/older/weir to measure an older build in the same run (after ÷ before table).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ ! -x "$ROOT/target/release/weir" || "${BUILD:-1}" == 1 ]]; then
    echo "== cargo build --release -p weir" >&2
    (cd "$ROOT" && cargo build --release -p weir >&2)
fi
extra=()
[[ -n "${WEIR_BEFORE:-}" ]] && extra=(--weir-before "$WEIR_BEFORE")
exec python3 "$ROOT/bench/compare.py" --weir "$ROOT/target/release/weir" "${extra[@]}" "$@"
