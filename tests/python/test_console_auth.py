"""Console and API login with the broker's security on (issue 22): a broker with a SASL_PLAINTEXT
listener (PLAIN users from the JAAS config, SCRAM users in the metadata) and the authorizer on
(`super.users=User:admin`). Without credentials or with a wrong password the console and the
JSON API answer 401 with a Basic challenge; a user without ACLs logs in but gets 403 for
browsing, producing, changing configs and resetting group offsets, and does not see the topic in
the list; after `weir acls create` grants (as the super user, over SASL) the same calls succeed;
the super user can do all of it from the start; /health, /ready and /metrics stay open. Last,
headless Chromium logged in as the granted user shows her topic and its messages (screenshot
under target/console-screenshots/)."""
import base64
import json
import subprocess
import time
import urllib.error
import urllib.request

from confluent_kafka.admin import AdminClient, NewTopic, ScramMechanism
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from conftest import Broker, _free_port
from test_console import SHOTS, _chrome, _loaded
from test_security_tls_sasl import ADMIN_PW, ALICE_PW, add_scram_user, client_conf, sasl_props


TOPIC, GROUP = "secret-orders", "secret-readers"
CAROL_PW = "carol-scram-pw-5e1d"


def call(base, path, user=None, password=None, payload=None):
    """(status, headers, body) of GET (or POST with a JSON payload) as `user`."""
    headers = {}
    if user is not None:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        headers["authorization"] = f"Basic {token}"
    data = None
    if payload is not None:
        data = json.dumps(payload).encode()
        headers["content-type"] = "application/json"
    req = urllib.request.Request(base + path, data=data, headers=headers,
                                 method="POST" if payload is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def wait_ready(base, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if call(base, "/ready")[0] == 200:
            return
        time.sleep(0.1)
    raise AssertionError("/ready never answered 200")


def weir_acls(b, props, *args):
    r = subprocess.run(
        [b.bin, "acls", "-b", b.bootstrap, "--command-config", str(props), *args],
        capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def test_console_login_and_acls(tmp_path):
    http = _free_port()
    b = Broker(tmp_path)
    listener = f"SASL_PLAINTEXT://127.0.0.1:{b.port}"
    props = {**sasl_props("PLAIN,SCRAM-SHA-256", "sasl_plaintext"),
             "super.users": "User:admin", "http.listener": f"127.0.0.1:{http}"}
    b.extra = ["--listeners", listener, "--advertised-listeners", listener, "--authorizer"]
    for k, v in props.items():
        b.extra += ["--" + k.replace(".", "-"), str(v)]
    b.start()
    base = f"http://127.0.0.1:{http}"
    try:
        wait_ready(base)
        admin_conf = client_conf(b, "SASL_PLAINTEXT", mechanism="PLAIN", user="admin",
                                 password=ADMIN_PW)
        kafka_admin = AdminClient(admin_conf)
        kafka_admin.create_topics([NewTopic(TOPIC, 1, 1)])[TOPIC].result(30)
        add_scram_user(admin_conf, "carol", CAROL_PW, ScramMechanism.SCRAM_SHA_256)
        admin = ("admin", ADMIN_PW)
        alice = ("alice", ALICE_PW)

        # Probes and metrics stay open.
        assert call(base, "/health")[0] == 200
        assert call(base, "/ready")[0] == 200
        status, _, body = call(base, "/metrics")
        assert status == 200 and "kafka_server" in body

        # No credentials, a wrong password, an unknown user: 401 with the Basic challenge.
        for path in ("/", "/console.js", "/api/v1/overview", f"/api/v1/topics/{TOPIC}"):
            status, headers, body = call(base, path)
            assert status == 401, path
            assert headers["WWW-Authenticate"].startswith('Basic realm="weir"'), headers
            assert "log in" in json.loads(body)["error"]
        assert call(base, "/api/v1/topics", "alice", "wrong")[0] == 401
        assert call(base, "/api/v1/topics", "mallory", ALICE_PW)[0] == 401
        assert call(base, "/api/v1/topics", "carol", "wrong")[0] == 401
        status, headers, _ = call(base, f"/api/v1/topics/{TOPIC}/messages", payload={"value": "x"})
        assert status == 401 and "Basic" in headers["WWW-Authenticate"]

        # The super user can do all: produce, browse, change a config, reset group offsets.
        assert call(base, "/", *admin)[0] == 200
        status, _, body = call(base, f"/api/v1/topics/{TOPIC}/messages", *admin,
                               payload={"value": "from-admin"})
        assert status == 200, body
        status, _, body = call(base, f"/api/v1/topics/{TOPIC}/messages?partition=0", *admin)
        assert status == 200 and [r["value"]["text"] for r in json.loads(body)["records"]] == \
            ["from-admin"], body
        status, _, body = call(base, f"/api/v1/topics/{TOPIC}/configs", *admin,
                               payload={"retention.ms": "3600000"})
        assert status == 200, body
        status, _, body = call(base, f"/api/v1/groups/{GROUP}/offsets", *admin,
                               payload={"topic": TOPIC, "to": "earliest"})
        assert status == 200, body
        groups = json.loads(call(base, "/api/v1/groups", *admin)[2])
        assert GROUP in [g["group"] for g in groups]

        # A PLAIN user and a SCRAM user without ACLs log in, see nothing, may do nothing.
        for user in (alice, ("carol", CAROL_PW)):
            status, _, body = call(base, "/api/v1/overview", *user)
            assert status == 200, body
            status, _, body = call(base, "/api/v1/topics", *user)
            assert status == 200 and TOPIC not in [t["name"] for t in json.loads(body)], body
            assert call(base, "/api/v1/groups", *user)[2] == "[]"
        denied = [
            (f"/api/v1/topics/{TOPIC}", None, "DESCRIBE"),
            (f"/api/v1/topics/{TOPIC}/messages", None, "READ"),
            (f"/api/v1/topics/{TOPIC}/messages", {"value": "from-alice"}, "WRITE"),
            (f"/api/v1/topics/{TOPIC}/configs", {"retention.ms": "60000"}, "ALTER_CONFIGS"),
            (f"/api/v1/groups/{GROUP}/offsets", {"topic": TOPIC, "to": "latest"}, "READ GROUP"),
        ]
        for path, payload, what in denied:
            status, _, body = call(base, path, *alice, payload=payload)
            assert status == 403 and what in body and "User:alice" in body, (path, body)

        # Grants, as the super user over SASL with `weir acls create`.
        cfg = tmp_path / "admin.properties"
        cfg.write_text("security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\n"
                       f"sasl.username=admin\nsasl.password={ADMIN_PW}\n")
        weir_acls(b, cfg, "create", "--allow-principal", "User:alice", "--topic", TOPIC,
                  "--operation", "DESCRIBE", "--operation", "READ", "--operation", "WRITE",
                  "--operation", "ALTER_CONFIGS")
        weir_acls(b, cfg, "create", "--allow-principal", "User:alice", "--group", GROUP,
                  "--operation", "READ")
        weir_acls(b, cfg, "create", "--allow-principal", "User:carol", "--topic", TOPIC,
                  "--operation", "DESCRIBE")
        # ACLs reach the broker's image through the metadata log: wait for the first to apply.
        deadline = time.time() + 20
        while call(base, f"/api/v1/topics/{TOPIC}", *alice)[0] == 403:
            assert time.time() < deadline, "the grant never applied"
            time.sleep(0.1)

        status, _, body = call(base, "/api/v1/topics", *alice)
        assert TOPIC in [t["name"] for t in json.loads(body)], body
        # ALTER_CONFIGS implies DESCRIBE_CONFIGS (as Kafka): alice sees the configs; carol, with
        # DESCRIBE only, sees the topic without them.
        detail = json.loads(call(base, f"/api/v1/topics/{TOPIC}", *alice)[2])
        assert not detail["configs_hidden"] and detail["configs"], detail
        status, _, body = call(base, f"/api/v1/topics/{TOPIC}", "carol", CAROL_PW)
        detail = json.loads(body)
        assert status == 200 and detail["configs_hidden"] and detail["configs"] == [], body
        status, _, body = call(base, f"/api/v1/topics/{TOPIC}/messages", *alice,
                               payload={"value": "from-alice"})
        assert status == 200, body
        status, _, body = call(base, f"/api/v1/topics/{TOPIC}/messages?partition=0", *alice)
        assert status == 200 and [r["value"]["text"] for r in json.loads(body)["records"]] == \
            ["from-admin", "from-alice"], body
        status, _, body = call(base, f"/api/v1/topics/{TOPIC}/configs", *alice,
                               payload={"retention.ms": "60000"})
        assert status == 200, body
        admin_view = json.loads(call(base, f"/api/v1/topics/{TOPIC}", *admin)[2])
        assert {c["name"]: c["value"] for c in admin_view["configs"]}["retention.ms"] == "60000"
        status, _, body = call(base, f"/api/v1/groups/{GROUP}/offsets", *alice,
                               payload={"topic": TOPIC, "to": "latest"})
        assert status == 200 and json.loads(body) == [{"partition": 0, "offset": 2}], body
        # Carol still has no grants.
        assert call(base, f"/api/v1/topics/{TOPIC}/messages", "carol", CAROL_PW)[0] == 403

        # In a browser: logged in as alice (credentials in the URL, as a person would type them
        # into the browser's login dialog), the console shows her topic and its messages.
        SHOTS.mkdir(parents=True, exist_ok=True)
        browser = _chrome()
        try:
            wait = WebDriverWait(browser, 20)
            browser.get(f"http://alice:{ALICE_PW}@127.0.0.1:{http}/#/topics")
            _loaded(browser, wait, "#/topics")
            names = [r.get_attribute("data-topic") for r in
                     browser.find_elements(By.CSS_SELECTOR, "#topics-table tr[data-topic]")]
            assert names == [TOPIC], browser.find_element(By.ID, "main").text
            browser.get(f"http://127.0.0.1:{http}/#/topics/{TOPIC}/messages/0")
            _loaded(browser, wait, f"#/topics/{TOPIC}/messages/0")
            assert "from-alice" in browser.find_element(By.ID, "messages-table").text
            browser.save_screenshot(str(SHOTS / "7-logged-in-as-alice.png"))
        finally:
            browser.quit()
        log = b.out.read_text()
        assert ALICE_PW not in log and CAROL_PW not in log and ADMIN_PW not in log
    finally:
        b.stop()
