#!/usr/bin/env bash
# Differential conformance (issue #25): Apache Kafka 4.4.0 (bench/kafka_peer.py, a single-node
# KRaft broker resolved through Maven) and Weir (a fresh `weir serve` on an empty log dir) are sent
# the same requests by crates/weir-conformance, for every (API, version) Weir advertises, and the
# responses compared field by field. Prints one line per (API, version, shape) and a summary
# `compared N request shapes over K api versions: D differ`; the report is kept in
# $CONFORMANCE_OUT (default: a temporary directory) as report.txt. Differences do not fail the
# script; harness errors (a broker that does not start, a refused setup step) do.
#
#   bash scripts/conformance.sh
#   WEIR_BIN=/path/to/weir CONFORMANCE_BIN=/path/to/weir-conformance bash scripts/conformance.sh
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${CONFORMANCE_OUT:-$(mktemp -d /tmp/weir-conformance.XXXXXX)}
mkdir -p "$OUT"
die() { echo "conformance: $*" >&2; exit 1; }

TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
if [ -z "${WEIR_BIN:-}" ] || [ -z "${CONFORMANCE_BIN:-}" ]; then
  echo "==> cargo build -p weir -p weir-conformance" >&2
  cargo build -p weir -p weir-conformance >&2 || die "cargo build failed"
fi
WEIR_BIN=${WEIR_BIN:-$TARGET/debug/weir}
CONFORMANCE_BIN=${CONFORMANCE_BIN:-$TARGET/debug/weir-conformance}
[ -x "$WEIR_BIN" ] || die "no weir binary at $WEIR_BIN"
[ -x "$CONFORMANCE_BIN" ] || die "no weir-conformance binary at $CONFORMANCE_BIN"

KAFKA_PID=
WEIR_PID=
stop() {
  # The peer stops its Kafka cleanly on SIGTERM; weir stops on SIGTERM.
  for pid in $WEIR_PID $KAFKA_PID; do kill "$pid" 2>/dev/null; done
  for pid in $WEIR_PID $KAFKA_PID; do wait "$pid" 2>/dev/null; done
}
trap stop EXIT

echo "==> Kafka 4.4.0 (bench/kafka_peer.py run; outputs in $OUT)" >&2
python3 bench/kafka_peer.py run >"$OUT/kafka.out" 2>"$OUT/kafka.err" &
KAFKA_PID=$!

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
LISTENER="PLAINTEXT://127.0.0.1:$PORT"
mkdir -p "$OUT/weir"
# The peer's one non-default group setting, so that classic joins complete at once on both.
"$WEIR_BIN" serve --listeners "$LISTENER" --advertised-listeners "$LISTENER" \
  --log-dirs "$OUT/weir/logs" --group-initial-rebalance-delay-ms 0 >"$OUT/weir.out" 2>&1 &
WEIR_PID=$!

# Kafka prints its bootstrap address once it has started (resolving the jars may take minutes
# the first time); weir listens within seconds.
KAFKA=
for _ in $(seq 3000); do
  KAFKA=$(head -1 "$OUT/kafka.out" 2>/dev/null)
  [ -n "$KAFKA" ] && break
  kill -0 "$KAFKA_PID" 2>/dev/null || { cat "$OUT/kafka.err" >&2; die "the Kafka peer exited"; }
  sleep 0.2
done
[ -n "$KAFKA" ] || die "Kafka did not start within 10 minutes (see $OUT/kafka.err)"
for _ in $(seq 300); do
  kill -0 "$WEIR_PID" 2>/dev/null || { cat "$OUT/weir.out" >&2; die "weir exited"; }
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
  sleep 0.1
done

echo "==> weir-conformance --kafka $KAFKA --weir 127.0.0.1:$PORT" >&2
"$CONFORMANCE_BIN" --kafka "$KAFKA" --weir "127.0.0.1:$PORT" --report "$OUT/report.txt"
rc=$?
echo "report: $OUT/report.txt" >&2
exit $rc
