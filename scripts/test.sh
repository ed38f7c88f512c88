#!/usr/bin/env bash
# The whole Weir test suite, from a fresh clone on a fresh machine (Rust toolchain present).
# Installs what it needs (Debian packages if missing, a Python venv with the Kafka clients),
# then: the module-cycle check, rustfmt check, clippy (warnings are errors), all cargo tests,
# the Python client tests (which also drive the Java client programs of tests/java).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)

step() { printf '\n==> %s\n' "$*"; }

# --- system packages (only when something is missing) ------------------------------------
need_apt=()
command -v make >/dev/null || need_apt+=(make)
command -v cc >/dev/null || need_apt+=(gcc)
command -v perl >/dev/null || need_apt+=(perl)
command -v python3 >/dev/null || need_apt+=(python3 python3-venv)
python3 -c 'import venv, ensurepip' 2>/dev/null || need_apt+=(python3-venv)
command -v java >/dev/null || need_apt+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null || need_apt+=(maven)
command -v go >/dev/null || need_apt+=(golang-go)
command -v node >/dev/null || need_apt+=(nodejs npm)
# The web console's browser test (tests/python/test_console.py): Debian's Chromium + driver.
command -v chromium >/dev/null || need_apt+=(chromium)
command -v openssl >/dev/null || need_apt+=(openssl)   # the TLS tests make their certificates
command -v chromedriver >/dev/null || need_apt+=(chromium-driver)
# `weir perf e2e --histogram-png` draws its text with a system font (crates/weir/tests/cli_perf_spread.rs)
[[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]] || need_apt+=(fonts-dejavu-core)
if ((${#need_apt[@]})); then
  step "installing ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_apt[@]}"
fi

# --- Python clients ------------------------------------------------------------------------
step "python venv (.venv) with confluent-kafka, kafka-python, pytest"
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -r tests/python/requirements.txt

# --- Java clients (kafka-clients pinned in tests/java/pom.xml, from Maven Central) ---------
step "maven: the Java client programs (tests/java)"
mvn -q -B -f tests/java/pom.xml package -DskipTests
step "maven: Apache Kafka 4.4.0 jars for the CLI-tool tests (cached in ~/.cache/weir-kafka-4.4.0)"
python3 bench/kafka_peer.py libs >/dev/null

# --- Go and JavaScript clients (tests/go, tests/js; pinned by go.sum and package-lock.json) ---
# confluent-kafka-javascript builds librdkafka from source here (~10 min): CI installs the npm
# packages without install scripts and leaves that client to scripts/compat.sh.
step "go modules (tests/go) and npm packages (tests/js)"
(cd tests/go && go mod download)
[ -d tests/js/node_modules/kafkajs ] || (cd tests/js && npm ci --ignore-scripts --no-audit --no-fund)
export WEIR_CLIENTS_LEFT_OUT=confluent-kafka-javascript

# --- architecture rules -----------------------------------------------------------------------
step "module cycles (no import cycle among the modules or top-level modules of any crate)"
python3 scripts/test_check_module_cycles.py
python3 scripts/check_module_cycles.py
step "the coordinator crates build without the broker and the metadata crate"
if cargo tree -e normal -p weir-coordinator -p weir-group-coordinator | grep -E 'weir-(broker|meta) '; then
  echo "weir-coordinator / weir-group-coordinator must not depend on weir-broker or weir-meta" >&2
  exit 1
fi

# --- Rust ----------------------------------------------------------------------------------
step "cargo fmt --check"
cargo fmt --all --check
step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets -- -D warnings
step "cargo build"
cargo build -p weir
step "cargo test"
cargo test --workspace
step "cargo test: the lazyfs fault layer of weir-log (a test-only feature)"
cargo test -p weir-log --features lazyfs --test lazyfs --test producer_state_model --test syncfs_power --test maintenance_flush

# --- real clients against the real binary -------------------------------------------------
step "pytest tests/python"
WEIR_BIN="$PWD/target/debug/weir" .venv/bin/pytest tests/python -q

echo
echo "all checks passed in $(( $(date +%s) - start )) s"
