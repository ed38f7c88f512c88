#!/usr/bin/env bash
# The Go and JavaScript Kafka clients (issue #25's client matrix) against the real `weir` binary.
# Installs what it needs (Go modules of tests/go, npm packages of tests/js), builds weir (unless
# WEIR_BIN names a binary), then runs every client program against a fresh broker each and prints
# one line per client: `<client> <version>: passed N, failed M`. Exits non-zero if any failed.
# `differential` adds the differential conformance suite (scripts/conformance.sh: Apache Kafka
# 4.4.0 and Weir sent the same requests, responses compared field by field; about 2 minutes once
# Kafka's jars are cached): its line is `differential (Kafka 4.4.0): compared N request shapes
# over K api versions: D differ`. Differences are documented in docs/compatibility.md, not
# failures; only a harness error (a broker that does not start, a refused setup step) fails it.
#
#   bash scripts/compat.sh                 # every client
#   bash scripts/compat.sh franz-go kafkajs   # some of them
#   bash scripts/compat.sh differential       # only the differential suite
#   WEIR_BIN=/path/to/weir bash scripts/compat.sh
#
# Clients: franz-go, sarama (tests/go, pinned in go.mod/go.sum); kafkajs, confluent-kafka-javascript
# (tests/js, pinned in package.json/package-lock.json). confluent-kafka-javascript builds its
# bundled librdkafka from source, linked against Debian's libssl/libsasl2/zlib/libzstd/liblz4
# (CKJS_LINKING=dynamic): its prebuilt binary is not on npm. Each program's full output is kept in
# $COMPAT_OUT (default: a temporary directory, printed at the end).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
ALL_CLIENTS=(franz-go sarama kafkajs confluent-kafka-javascript differential)
CLIENTS=("$@")
((${#CLIENTS[@]})) || CLIENTS=("${ALL_CLIENTS[@]}")
OUT=${COMPAT_OUT:-$(mktemp -d /tmp/weir-compat.XXXXXX)}
mkdir -p "$OUT"
PROGRAM_TIMEOUT=${PROGRAM_TIMEOUT:-900}   # each scenario bounds itself to 60 s

step() { printf '\n==> %s\n' "$*" >&2; }
die() { echo "compat: $*" >&2; exit 1; }
wants() { local c; for c in "${CLIENTS[@]}"; do [ "$c" = "$1" ] && return 0; done; return 1; }
for c in "${CLIENTS[@]}"; do
  case " ${ALL_CLIENTS[*]} " in *" $c "*) ;; *) die "unknown client $c (one of: ${ALL_CLIENTS[*]})";; esac
done

# --- tools ---------------------------------------------------------------------------------------
need_apt=()
if wants franz-go || wants sarama; then command -v go >/dev/null || need_apt+=(golang-go); fi
if wants kafkajs || wants confluent-kafka-javascript; then
  command -v node >/dev/null || need_apt+=(nodejs)
  command -v npm >/dev/null || need_apt+=(npm)
fi
if wants differential; then
  # Kafka 4.4.0 through bench/kafka_peer.py: a JVM, and Maven to resolve the jars once.
  command -v java >/dev/null || need_apt+=(default-jre-headless)
  command -v mvn >/dev/null || need_apt+=(maven)
fi
if wants confluent-kafka-javascript; then
  # librdkafka's build: a C/C++ toolchain, node headers, and the libraries it links.
  command -v make >/dev/null || need_apt+=(make)
  command -v g++ >/dev/null || need_apt+=(g++)
  command -v pkg-config >/dev/null || need_apt+=(pkg-config)
  command -v python3 >/dev/null || need_apt+=(python3)
  for pkg in libssl-dev libsasl2-dev zlib1g-dev libzstd-dev liblz4-dev; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
  done
fi
if ((${#need_apt[@]})); then
  step "installing ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq "${need_apt[@]}" || die "apt-get install ${need_apt[*]} failed"
fi

# --- client libraries ------------------------------------------------------------------------------
BIN=$OUT/bin
mkdir -p "$BIN"
if wants franz-go || wants sarama; then
  step "go: modules of tests/go (go.sum pinned) and the client programs"
  (cd tests/go && go mod download && go build -o "$BIN/" ./franzgo ./sarama) || die "building tests/go failed"
fi
if wants kafkajs || wants confluent-kafka-javascript; then
  # npm ci again only when the lock file changed since the last successful install.
  stamp=tests/js/node_modules/.weir-lock-sha256
  sum=$(sha256sum tests/js/package-lock.json | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$sum" ]; then
    step "npm ci in tests/js (builds librdkafka for confluent-kafka-javascript: minutes)"
    (cd tests/js && CKJS_LINKING=dynamic npm ci --no-audit --no-fund) || die "npm ci in tests/js failed"
    echo "$sum" > "$stamp"
  fi
fi

# --- weir ----------------------------------------------------------------------------------------
if [ -z "${WEIR_BIN:-}" ]; then
  step "cargo build -p weir"
  cargo build -p weir || die "cargo build -p weir failed"
  WEIR_BIN=${CARGO_TARGET_DIR:-$ROOT/target}/debug/weir
fi
[ -x "$WEIR_BIN" ] || die "no weir binary at $WEIR_BIN"
if wants differential && [ -z "${CONFORMANCE_BIN:-}" ]; then
  step "cargo build -p weir-conformance"
  cargo build -p weir-conformance || die "cargo build -p weir-conformance failed"
  CONFORMANCE_BIN=${CARGO_TARGET_DIR:-$ROOT/target}/debug/weir-conformance
fi

# --- a fresh broker per client -------------------------------------------------------------------
BROKER_PID=
stop_broker() {
  if [ -n "$BROKER_PID" ]; then
    kill "$BROKER_PID" 2>/dev/null
    for _ in $(seq 300); do kill -0 "$BROKER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$BROKER_PID" 2>/dev/null
    wait "$BROKER_PID" 2>/dev/null
    BROKER_PID=
  fi
}
trap stop_broker EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
start_broker() { # $1: data dir; sets PORT and BROKER_PID
  PORT=$(free_port)
  local l="PLAINTEXT://127.0.0.1:$PORT"
  "$WEIR_BIN" serve --listeners "$l" --advertised-listeners "$l" --log-dirs "$1/logs" >"$1/broker.out" 2>&1 &
  BROKER_PID=$!
  for _ in $(seq 300); do
    kill -0 "$BROKER_PID" 2>/dev/null || { cat "$1/broker.out" >&2; return 1; }
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "broker did not listen on $PORT within 30 s" >&2
  return 1
}

version_of() {
  case $1 in
    franz-go) (cd tests/go && go list -m -f '{{.Version}}' github.com/twmb/franz-go) ;;
    sarama) (cd tests/go && go list -m -f '{{.Version}}' github.com/IBM/sarama) ;;
    kafkajs) node -p "require('./tests/js/node_modules/kafkajs/package.json').version" 2>/dev/null || echo '?' ;;
    confluent-kafka-javascript)
      local v; v=$(node -p "require('./tests/js/node_modules/@confluentinc/kafka-javascript/package.json').version" 2>/dev/null || echo '?')
      local r; r=$(cd tests/js && node -p "require('@confluentinc/kafka-javascript').librdkafkaVersion" 2>/dev/null || echo '?')
      echo "$v (librdkafka $r)" ;;
  esac
}
command_of() {
  case $1 in
    franz-go) echo "$BIN/franzgo" ;;
    sarama) echo "$BIN/sarama" ;;
    kafkajs) echo "node $ROOT/tests/js/kafkajs.js" ;;
    confluent-kafka-javascript) echo "node $ROOT/tests/js/confluent.js" ;;
  esac
}

summary=()
total_pass=0
total_fail=0
for client in "${CLIENTS[@]}"; do
  dir=$OUT/$client
  rm -rf "$dir" && mkdir -p "$dir"
  if [ "$client" = differential ]; then
    step "differential conformance against Kafka 4.4.0 ($dir)"
    CONFORMANCE_OUT=$dir WEIR_BIN=$WEIR_BIN CONFORMANCE_BIN=$CONFORMANCE_BIN \
      bash scripts/conformance.sh >"$dir/stdout" 2>"$dir/stderr"
    rc=$?
    line=$(grep '^compared ' "$dir/stdout" | tail -1)
    if [ "$rc" -ne 0 ] || [ -z "$line" ]; then
      echo "FAIL differential: harness error (exit $rc, see $dir/stderr)"
      tail -5 "$dir/stderr"
      summary+=("differential (Kafka 4.4.0): harness error, see $dir")
      total_fail=$((total_fail + 1))
    else
      summary+=("differential (Kafka 4.4.0): $line (report: $dir/report.txt)")
    fi
    continue
  fi
  step "$client against a fresh broker ($dir)"
  pass=0
  fail=0
  if start_broker "$dir"; then
    # shellcheck disable=SC2046
    timeout -k 10 "$PROGRAM_TIMEOUT" $(command_of "$client") "127.0.0.1:$PORT" >"$dir/stdout" 2>"$dir/stderr"
    rc=$?
    stop_broker
    cat "$dir/stdout"
    pass=$(grep -c '^PASS ' "$dir/stdout")
    fail=$(grep -c '^FAIL ' "$dir/stdout")
    if [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then
      echo "FAIL $client: the program exited $rc without a FAIL line (see $dir/stderr)"
      tail -5 "$dir/stderr"
      fail=1
    fi
  else
    echo "FAIL $client: the broker did not start (see $dir/broker.out)"
    fail=1
  fi
  summary+=("$client $(version_of "$client"): passed $pass, failed $fail")
  total_pass=$((total_pass + pass))
  total_fail=$((total_fail + fail))
done

echo
echo "weir $("$WEIR_BIN" --version 2>/dev/null | awk '{print $2}') ($WEIR_BIN); outputs in $OUT"
printf '%s\n' "${summary[@]}"
echo "compat: $total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
