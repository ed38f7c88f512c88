#!/usr/bin/env bash
# Profile the broker's hot paths (issue #9): start a release `weir serve` on 127.0.0.1, record it
# with `perf record --call-graph dwarf` while `weir perf produce` and then `weir perf consume`
# move N 100-byte records through one partition, and print the top symbols of each phase plus
# the broker's CPU-seconds per million records. Folded stacks (and flame graphs, when
# `inferno-flamegraph` is on PATH: `cargo install inferno`) go to $OUT (default target/profile).
#
#   bash bench/profile.sh            # N=2000000
#   N=500000 bash bench/profile.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
N="${N:-2000000}"
OUT="${OUT:-$ROOT/target/profile}"
PORT="${PORT:-19892}"
command -v perf >/dev/null || { echo "perf is not installed (apt-get install linux-perf)" >&2; exit 1; }
if [[ ! -x "$ROOT/target/release/weir" || "${BUILD:-1}" == 1 ]]; then
    (cd "$ROOT" && cargo build --release -p weir >&2)
fi
W="$ROOT/target/release/weir"
mkdir -p "$OUT"
DATA="$(mktemp -d)"
"$W" serve --log-dirs "$DATA" --listeners "PLAINTEXT://127.0.0.1:$PORT" \
    --advertised-listeners "PLAINTEXT://127.0.0.1:$PORT" >"$OUT/broker.log" 2>&1 &
BROKER=$!
trap 'kill $BROKER 2>/dev/null; wait $BROKER 2>/dev/null; rm -rf "$DATA"' EXIT
B="127.0.0.1:$PORT"
"$W" topics create -b "$B" profile --partitions 1 >/dev/null
cpu() { awk '{print $14 + $15}' "/proc/$BROKER/stat"; }
TICK=$(getconf CLK_TCK)

phase() { # name, weir perf args...
    local name=$1; shift
    perf record -q -o "$OUT/$name.data" -F 997 --call-graph dwarf,16384 -p "$BROKER" 2>/dev/null &
    local rec=$!
    sleep 0.5
    local c0; c0=$(cpu)
    "$W" perf "$@" -b "$B" --topic profile | tail -1
    local c1; c1=$(cpu)
    kill -INT $rec; wait $rec || true
    echo "== $name: broker $(python3 -c "print(round(($c1 - $c0) / $TICK / ($N / 1e6), 3))") CPU-s per M records; top symbols:"
    perf report -i "$OUT/$name.data" --no-children --sort sym -g none 2>/dev/null \
        | grep -v '^#' | grep '%' | head -12 || true
    perf script -i "$OUT/$name.data" 2>/dev/null | python3 "$ROOT/bench/fold_perf.py" >"$OUT/$name.folded"
    if command -v inferno-flamegraph >/dev/null; then
        inferno-flamegraph --title "weir broker: $name" <"$OUT/$name.folded" >"$OUT/$name.svg"
        echo "   flame graph: $OUT/$name.svg"
    fi
}
phase produce produce --num-records "$N" --record-size 100
# Warm-up outside the recording: the first consumer's FindCoordinator creates __consumer_offsets.
"$W" perf consume -b "$B" --topic profile --messages 1 >/dev/null
phase consume consume --messages "$N"
