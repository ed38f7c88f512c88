"""The Go and JavaScript Kafka clients (issue #25's client matrix) against a real `weir` broker:
franz-go and sarama (tests/go, pinned in go.mod/go.sum), KafkaJS and confluent-kafka-javascript
(tests/js, pinned in package.json/package-lock.json; install with
`CKJS_LINKING=dynamic npm ci` in tests/js, as scripts/compat.sh does).

Each client program checks Kafka's semantics itself and prints `PASS <scenario>` or
`FAIL <scenario>: why`; every scenario here runs alone against its own fresh broker.
`bash scripts/compat.sh` runs the same programs, one broker per client, and prints a summary."""
import os
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT, Broker

GO = ROOT / "tests" / "go"
JS = ROOT / "tests" / "js"

SCENARIOS = {
    "franz-go": ["admin", "produce-consume", "delete-records", "group-classic", "group-kip848",
                 "transactions", "eos-group-transact-session"],
    "sarama": ["admin", "produce-consume", "group", "transactions"],
    "kafkajs": ["admin", "produce-consume", "group-resume", "transactions"],
    "confluent-kafka-javascript": ["round-trip", "group-classic", "group-kip848", "transactions"],
}

# Scenarios that fail because of a Weir bug (not the client, not the test): the program's check is
# unchanged and still reports FAIL; remove the entry once Weir is fixed.
# (client, scenario) -> reason, for scenarios that fail because of a known Weir bug (xfail).
WEIR_BUGS = {}

# Per scenario: its own 60 s bound, plus client start-up and shutdown.
RUN_TIMEOUT = 120


@pytest.fixture(scope="session")
def go_programs(tmp_path_factory):
    assert shutil.which("go") is not None, "go is not installed (scripts/test.sh installs it)"
    out = tmp_path_factory.mktemp("go-clients")
    r = subprocess.run(["go", "build", "-o", f"{out}/", "./franzgo", "./sarama"], cwd=GO,
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, "go build in tests/go failed:\n" + r.stdout + r.stderr
    return out


@pytest.fixture(scope="session")
def node():
    node = shutil.which("node")
    assert node is not None, "node is not installed (scripts/test.sh installs it)"
    assert (JS / "node_modules" / "kafkajs").is_dir(), \
        "tests/js has no node_modules: run `CKJS_LINKING=dynamic npm ci` in tests/js (scripts/compat.sh does)"
    return node


def command(client, request):
    if client == "franz-go":
        return [str(request.getfixturevalue("go_programs") / "franzgo")]
    if client == "sarama":
        return [str(request.getfixturevalue("go_programs") / "sarama")]
    program = "kafkajs.js" if client == "kafkajs" else "confluent.js"
    return [request.getfixturevalue("node"), str(JS / program)]


# Clients left out of this run (comma-separated names, e.g. CI leaves out
# confluent-kafka-javascript, whose librdkafka build takes ~10 min; scripts/compat.sh runs all).
LEFT_OUT = {c.strip() for c in os.environ.get("WEIR_CLIENTS_LEFT_OUT", "").split(",") if c.strip()}


def params():
    for client, scenarios in SCENARIOS.items():
        if client in LEFT_OUT:
            continue
        for s in scenarios:
            marks = []
            if (client, s) in WEIR_BUGS:
                marks.append(pytest.mark.xfail(reason=WEIR_BUGS[(client, s)], strict=False))
            yield pytest.param(client, s, id=f"{client}-{s}", marks=marks)


@pytest.mark.parametrize("client,scenario", list(params()))
def test_client_scenario(tmp_path, request, client, scenario):
    cmd = command(client, request)
    b = Broker(tmp_path)
    b.start()
    try:
        r = subprocess.run([*cmd, b.bootstrap, scenario], capture_output=True, text=True,
                           timeout=RUN_TIMEOUT, cwd=JS if client in ("kafkajs", "confluent-kafka-javascript") else GO)
    finally:
        b.stop()
    lines = r.stdout.splitlines()
    why = (f"{client} {scenario} exited {r.returncode}\n--- stdout\n{r.stdout}"
           f"--- stderr (last 4000)\n{r.stderr[-4000:]}--- broker (last 3000)\n{b.out.read_text()[-3000:]}")
    sys.stdout.write(r.stdout)
    assert [ln for ln in lines if ln.startswith("FAIL ")] == [], why
    assert f"PASS {scenario}" in lines, why
    assert r.returncode == 0, why


def test_scenario_lists_match_the_programs(request):
    """SCENARIOS above names every scenario of every program (usage lists them)."""
    for client, scenarios in SCENARIOS.items():
        if client in LEFT_OUT:
            continue
        r = subprocess.run(command(client, request), capture_output=True, text=True, timeout=60,
                           cwd=JS if client in ("kafkajs", "confluent-kafka-javascript") else GO)
        assert r.returncode == 2, r.stdout + r.stderr
        listed = r.stderr.split("scenarios:", 1)[1].split()
        assert listed == scenarios, (client, listed)
