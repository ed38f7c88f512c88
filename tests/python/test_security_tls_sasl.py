"""Listener security with real clients: TLS (SSL, mTLS), SASL PLAIN and SCRAM over
SASL_PLAINTEXT and SASL_SSL, SCRAM users managed through the admin API, re-authentication
(KIP-368), refused credentials, garbage instead of a ClientHello, and secrets hidden from
DescribeConfigs. Certificates are generated per test with the openssl CLI; no key is committed."""
import socket
import ssl
import subprocess
import time
import uuid

import pytest
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import (AdminClient, ConfigResource, NewTopic, ResourceType,
                                   ScramCredentialInfo, ScramMechanism,
                                   UserScramCredentialDeletion, UserScramCredentialUpsertion)

from conftest import Broker

ADMIN_PW = "admin-secret-7f3a"
ALICE_PW = "alice-secret-91c2"


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def pki(tmp_path):
    """A CA, a server certificate for 127.0.0.1 signed by it, a client certificate signed by
    it, and a client certificate signed by an unrelated CA."""
    d = tmp_path / "pki"
    d.mkdir()
    ext = d / "server.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    client_ext = d / "client.ext"
    client_ext.write_text("basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n")
    for ca in ("ca", "rogue-ca"):
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{ca}.key",
                "-out", f"{ca}.pem", "-days", "2", "-subj", f"/CN=weir-test-{ca}", cwd=d)
    for name, ca, subj in (("server", "ca", "/CN=localhost"),
                           ("client", "ca", "/C=US/O=Weir Test/CN=alice"),
                           ("rogue", "rogue-ca", "/CN=mallory")):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key",
                "-out", f"{name}.csr", "-subj", subj, cwd=d)
        # X.509 v3 (extensions) for every certificate: webpki refuses v1 certificates.
        extra = ["-extfile", str(ext if name == "server" else client_ext)]
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
                "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", *extra, cwd=d)
    # Kafka's PEM keystore: the certificate chain and the private key in one file.
    (d / "keystore.pem").write_text((d / "server.pem").read_text() + (d / "server.key").read_text())
    return d


def jaas(**users):
    opts = " ".join(f'user_{u}="{p}"' for u, p in users.items())
    return f'org.apache.kafka.common.security.plain.PlainLoginModule required {opts};'


def start(tmp_path, protocol, props):
    """One broker whose only client listener is `protocol`, configured by `props`."""
    b = Broker(tmp_path)
    listener = f"{protocol}://127.0.0.1:{b.port}"
    b.extra = ["--listeners", listener, "--advertised-listeners", listener]
    for k, v in props.items():  # every broker config `a.b.c` is the flag `--a-b-c`
        b.extra += ["--" + k.replace(".", "-"), str(v)]
    b.start()
    return b


def client_conf(b, protocol, pki=None, mechanism=None, user=None, password=None, cert=None):
    c = {"bootstrap.servers": b.bootstrap, "security.protocol": protocol}
    if pki is not None:
        c["ssl.ca.location"] = str(pki / "ca.pem")
    if cert is not None:
        c["ssl.certificate.location"] = str(pki / f"{cert}.pem")
        c["ssl.key.location"] = str(pki / f"{cert}.key")
    if mechanism:
        c.update({"sasl.mechanism": mechanism, "sasl.username": user, "sasl.password": password})
    return c


def round_trip(conf, topic, n=200):
    """Create `topic`, produce n records and consume them back over `conf`."""
    admin = AdminClient(conf)
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(30)
    p = Producer({**conf, "acks": "all"})
    for i in range(n):
        p.produce(topic, value=f"v{i}".encode())
    assert p.flush(30) == 0
    c = Consumer({**conf, "group.id": f"g-{uuid.uuid4()}", "auto.offset.reset": "earliest"})
    c.assign([TopicPartition(topic, 0, 0)])
    got = []
    deadline = time.time() + 30
    while len(got) < n and time.time() < deadline:
        m = c.poll(1.0)
        if m is not None and m.error() is None:
            got.append(m.value())
    c.close()
    assert got == [f"v{i}".encode() for i in range(n)]


def auth_error(conf):
    """Why a metadata request over `conf` failed: the client's error callbacks (where librdkafka
    reports authentication failures) joined, or the request's error; None if it succeeds."""
    errors = []
    admin = AdminClient({**conf, "error_cb": lambda e: errors.append(e.str())})
    try:
        admin.list_topics(timeout=10)
    except KafkaException as e:
        admin.poll(0.5)
        return " | ".join(errors + [e.args[0].str()])
    return None


def tls_props(pki, **extra):
    return {"ssl.keystore.type": "PEM", "ssl.keystore.location": pki / "keystore.pem", **extra}


def sasl_props(mechanisms, listener, **extra):
    return {"sasl.enabled.mechanisms": mechanisms,
            f"listener.name.{listener}.plain.sasl.jaas.config": jaas(admin=ADMIN_PW, alice=ALICE_PW),
            **extra}


def add_scram_user(conf, user, password, mechanism):
    admin = AdminClient(conf)
    up = UserScramCredentialUpsertion(user, ScramCredentialInfo(mechanism, 8192), password.encode())
    for f in admin.alter_user_scram_credentials([up]).values():
        f.result(30)
    return admin


def test_ssl_produce_consume_and_garbage_instead_of_client_hello(tmp_path, pki):
    b = start(tmp_path, "SSL", tls_props(pki))
    try:
        # Garbage instead of a ClientHello: the connection is closed, nothing else is affected.
        s = socket.create_connection(("127.0.0.1", b.port), timeout=10)
        s.sendall(b"\x00\x00\x00\x10garbage, not TLS" * 4)
        closed = b""
        try:
            while chunk := s.recv(4096):
                closed += chunk
        except ConnectionResetError:
            pass
        s.close()
        round_trip(client_conf(b, "SSL", pki), "tls-topic")
        # A plaintext Kafka client on the TLS port fails too, without harming the broker.
        assert auth_error({"bootstrap.servers": b.bootstrap, "socket.timeout.ms": 3000}) is not None
        round_trip(client_conf(b, "SSL", pki), "tls-topic-2", n=10)
        log = b.out.read_text()
        assert "TLS handshake failed" in log and "127.0.0.1:" in log, log[-3000:]
    finally:
        b.stop()


def test_mtls_required_refuses_a_certificate_not_signed_by_the_trust_store(tmp_path, pki,
                                                                          monkeypatch):
    monkeypatch.setenv("RUST_LOG", "info,weir_broker::server::connection=debug")
    b = start(tmp_path, "SSL", tls_props(pki, **{
        "ssl.client.auth": "required", "ssl.truststore.type": "PEM",
        "ssl.truststore.location": pki / "ca.pem",
        "ssl.principal.mapping.rules": "RULE:^CN=([^,]*),O=Weir Test,.*$/$1/L, DEFAULT"}))
    try:
        round_trip(client_conf(b, "SSL", pki, cert="client"), "mtls-topic", n=50)
        # The certificate's subject CN=alice,O=Weir Test,C=US mapped by the rule.
        assert 'principal=User:alice' in b.out.read_text()
        assert auth_error(client_conf(b, "SSL", pki, cert="rogue")) is not None
        assert auth_error(client_conf(b, "SSL", pki)) is not None, "no client certificate"
        # Python's ssl module shows the server refusing the rogue certificate.
        ctx = ssl.create_default_context(cafile=str(pki / "ca.pem"))
        ctx.load_cert_chain(str(pki / "rogue.pem"), str(pki / "rogue.key"))
        with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
            with socket.create_connection(("127.0.0.1", b.port), timeout=10) as raw:
                with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                    tls.sendall(b"\x00\x00\x00\x01x")
                    if not tls.recv(1):
                        raise ConnectionResetError("closed")
    finally:
        b.stop()


def test_sasl_plaintext_plain_and_refused_credentials(tmp_path):
    b = start(tmp_path, "SASL_PLAINTEXT", sasl_props("PLAIN", "sasl_plaintext"))
    try:
        round_trip(client_conf(b, "SASL_PLAINTEXT", mechanism="PLAIN", user="alice",
                               password=ALICE_PW), "plain-topic")
        for user, pw in (("alice", "wrong"), ("nobody", ALICE_PW)):
            err = auth_error(client_conf(b, "SASL_PLAINTEXT", mechanism="PLAIN", user=user,
                                         password=pw))
            assert err is not None and "Authentication failed" in err, err
        err = auth_error(client_conf(b, "SASL_PLAINTEXT", mechanism="SCRAM-SHA-256",
                                     user="alice", password=ALICE_PW))
        assert err is not None and "PLAIN" in err, err  # unsupported: enabled list shown
        # Secrets: described as sensitive with no value, and never in the broker's log.
        admin = AdminClient(client_conf(b, "SASL_PLAINTEXT", mechanism="PLAIN", user="admin",
                                        password=ADMIN_PW))
        res = ConfigResource(ResourceType.BROKER, "1")
        entries = admin.describe_configs([res])[res].result(30)
        e = entries["listener.name.sasl_plaintext.plain.sasl.jaas.config"]
        assert e.is_sensitive and e.value is None, e
        assert entries["sasl.enabled.mechanisms"].value == "PLAIN"
        log = b.out.read_text()
        assert ALICE_PW not in log and ADMIN_PW not in log
    finally:
        b.stop()


def test_sasl_plaintext_scram_sha512_users_managed_by_the_admin_api(tmp_path):
    b = start(tmp_path, "SASL_PLAINTEXT", sasl_props("PLAIN,SCRAM-SHA-512", "sasl_plaintext"))
    try:
        admin_conf = client_conf(b, "SASL_PLAINTEXT", mechanism="PLAIN", user="admin",
                                 password=ADMIN_PW)
        admin = add_scram_user(admin_conf, "bob", "bob-pw", ScramMechanism.SCRAM_SHA_512)
        desc = admin.describe_user_scram_credentials(["bob"])["bob"].result(30)
        assert [(i.mechanism, i.iterations) for i in desc.scram_credential_infos] == \
            [(ScramMechanism.SCRAM_SHA_512, 8192)]
        scram = client_conf(b, "SASL_PLAINTEXT", mechanism="SCRAM-SHA-512", user="bob",
                            password="bob-pw")
        round_trip(scram, "scram512-topic")
        for user, pw in (("bob", "wrong"), ("nobody", "bob-pw")):
            err = auth_error({**scram, "sasl.username": user, "sasl.password": pw})
            assert err is not None and "Authentication failed" in err, err
        # SHA-256 credentials are separate: bob has none.
        assert auth_error({**scram, "sasl.mechanism": "SCRAM-SHA-256"}) is not None
        # Deleted: bob can no longer authenticate.
        dele = UserScramCredentialDeletion("bob", ScramMechanism.SCRAM_SHA_512)
        for f in admin.alter_user_scram_credentials([dele]).values():
            f.result(30)
        assert auth_error(scram) is not None
    finally:
        b.stop()


def test_sasl_ssl_scram_sha256_with_confluent_kafka_and_kafka_python(tmp_path, pki):
    b = start(tmp_path, "SASL_SSL", {**tls_props(pki),
                                     **sasl_props("PLAIN,SCRAM-SHA-256", "sasl_ssl")})
    try:
        admin_conf = client_conf(b, "SASL_SSL", pki, mechanism="PLAIN", user="admin",
                                 password=ADMIN_PW)
        add_scram_user(admin_conf, "carol", "carol-pw", ScramMechanism.SCRAM_SHA_256)
        conf = client_conf(b, "SASL_SSL", pki, mechanism="SCRAM-SHA-256", user="carol",
                           password="carol-pw")
        round_trip(conf, "sasl-ssl-topic")

        from kafka import KafkaConsumer, KafkaProducer
        kp_conf = dict(bootstrap_servers=b.bootstrap, security_protocol="SASL_SSL",
                       ssl_cafile=str(pki / "ca.pem"), sasl_mechanism="SCRAM-SHA-256",
                       sasl_plain_username="carol", sasl_plain_password="carol-pw")
        p = KafkaProducer(acks="all", **kp_conf)
        for i in range(100):
            p.send("sasl-ssl-topic", value=f"kp{i}".encode())
        p.flush(30)
        p.close()
        c = KafkaConsumer(enable_auto_commit=False, consumer_timeout_ms=5000, **kp_conf)
        from kafka import TopicPartition as KTP
        c.assign([KTP("sasl-ssl-topic", 0)])
        c.seek_to_beginning()
        vals = [m.value for m in c]
        c.close()
        assert vals[200:] == [f"kp{i}".encode() for i in range(100)], len(vals)
        from kafka.errors import KafkaError
        with pytest.raises(KafkaError):
            bad = KafkaProducer(**{**kp_conf, "sasl_plain_password": "wrong"})
            bad.send("sasl-ssl-topic", b"x").get(timeout=10)
    finally:
        b.stop()


def test_reauthentication_keeps_a_client_working(tmp_path, monkeypatch):
    monkeypatch.setenv("RUST_LOG", "info,weir_broker::security=debug")
    b = start(tmp_path, "SASL_PLAINTEXT", sasl_props("PLAIN", "sasl_plaintext",
                                                     **{"connections.max.reauth.ms": "1500"}))
    try:
        conf = client_conf(b, "SASL_PLAINTEXT", mechanism="PLAIN", user="alice",
                           password=ALICE_PW)
        admin = AdminClient(conf)
        admin.create_topics([NewTopic("reauth", 1, 1)])["reauth"].result(30)
        p = Producer({**conf, "acks": "all", "linger.ms": 0})
        delivered = []
        p_err = []

        def cb(err, msg):
            (p_err if err else delivered).append(err or msg.offset())

        end = time.time() + 7
        i = 0
        while time.time() < end:
            p.produce("reauth", value=f"r{i}".encode(), on_delivery=cb)
            p.flush(10)
            i += 1
            time.sleep(0.1)
        assert p_err == [] and len(delivered) == i, (p_err, len(delivered), i)
        log = b.out.read_text()
        assert log.count("SASL re-authenticated") >= 3, log[-3000:]
        assert "expired without re-authentication" not in log
    finally:
        b.stop()


def weir(b, *args, props=None, tmp=None, env=None, stdin=None):
    """Run a `weir` client command with `--command-config` built from `props`."""
    cmd = [b.bin]
    if props is not None:
        cfg = tmp / f"client-{uuid.uuid4().hex[:8]}.properties"
        cfg.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        cmd += ["--command-config", str(cfg)]
    import os
    return subprocess.run(cmd + list(args), input=stdin, capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})})


def test_weir_cli_over_sasl_ssl_with_command_config(tmp_path, pki):
    b = start(tmp_path, "SASL_SSL", {**tls_props(pki),
                                     **sasl_props("PLAIN,SCRAM-SHA-512", "sasl_ssl")})
    try:
        base = {"security.protocol": "SASL_SSL", "ssl.ca.location": pki / "ca.pem"}
        admin = {**base, "sasl.mechanism": "PLAIN", "sasl.username": "admin",
                 "sasl.password": ADMIN_PW}
        r = weir(b, "users", "scram", "set", "--user", "dave", "--mechanism", "SCRAM-SHA-512",
                 "--iterations", "4096", "-b", b.bootstrap, props=admin, tmp=tmp_path,
                 env={"WEIR_USER_PASSWORD": "dave-pw"})
        assert r.returncode == 0, r.stderr
        r = weir(b, "users", "scram", "list", "-b", b.bootstrap, props=admin, tmp=tmp_path)
        assert r.returncode == 0 and "dave" in r.stdout and "SCRAM-SHA-512" in r.stdout, r
        # dave (SCRAM over TLS, given Java-style) creates a topic, produces and consumes.
        dave = {**base, "sasl.mechanism": "SCRAM-SHA-512",
                "sasl.jaas.config": 'org.apache.kafka.common.security.scram.ScramLoginModule '
                                    'required username="dave" password="dave-pw";'}
        r = weir(b, "topics", "create", "cli-topic", "-b", b.bootstrap, props=dave, tmp=tmp_path)
        assert r.returncode == 0, r.stderr
        r = weir(b, "produce", "cli-topic", "-b", b.bootstrap, props=dave, tmp=tmp_path,
                 stdin="one\ntwo\nthree\n")
        assert r.returncode == 0, r.stderr
        r = weir(b, "consume", "cli-topic", "--from-beginning", "--max-messages", "3",
                 "-b", b.bootstrap, props=dave, tmp=tmp_path)
        assert r.returncode == 0 and r.stdout.split() == ["one", "two", "three"], r
        # A raw-protocol command (AlterConfigs) over SCRAM + TLS too.
        r = weir(b, "topics", "alter", "cli-topic", "--config", "retention.ms=3600000",
                 "-b", b.bootstrap, props=dave, tmp=tmp_path)
        assert r.returncode == 0, r.stderr
        r = weir(b, "users", "scram", "list", "-b", b.bootstrap,
                 props={**dave, "sasl.jaas.config": dave["sasl.jaas.config"].replace("dave-pw", "x")},
                 tmp=tmp_path)
        assert r.returncode != 0 and "(58)" in r.stderr, r.stderr  # SASL_AUTHENTICATION_FAILED
        r = weir(b, "users", "scram", "delete", "--user", "dave", "--mechanism", "SCRAM-SHA-512",
                 "-b", b.bootstrap, props=admin, tmp=tmp_path)
        assert r.returncode == 0, r.stderr
        r = weir(b, "topics", "list", "-b", b.bootstrap, props=dave, tmp=tmp_path)
        assert r.returncode != 0
    finally:
        b.stop()


def test_named_listeners_answer_with_their_own_endpoints(tmp_path, pki):
    """PLAINTEXT for inside, SASL_SSL for outside (named listeners): a client on each listener is
    sent to that listener's endpoint by Metadata, so both work."""
    b = Broker(tmp_path)
    from conftest import _free_port
    ext_port = _free_port()
    listeners = f"INTERNAL://127.0.0.1:{b.port},EXTERNAL://127.0.0.1:{ext_port}"
    props = {"listener.security.protocol.map": "INTERNAL:PLAINTEXT,EXTERNAL:SASL_SSL",
             **tls_props(pki), "sasl.enabled.mechanisms": "PLAIN",
             "listener.name.external.plain.sasl.jaas.config": jaas(alice=ALICE_PW)}
    b.extra = ["--listeners", listeners, "--advertised-listeners", listeners]
    for k, v in props.items():
        b.extra += ["--" + k.replace(".", "-"), str(v)]
    b.start()
    try:
        round_trip({"bootstrap.servers": b.bootstrap}, "inside", n=20)
        ext = {"bootstrap.servers": f"127.0.0.1:{ext_port}", "security.protocol": "SASL_SSL",
               "ssl.ca.location": str(pki / "ca.pem"), "sasl.mechanism": "PLAIN",
               "sasl.username": "alice", "sasl.password": ALICE_PW}
        md = AdminClient(ext).list_topics(timeout=10)
        assert [(x.host, x.port) for x in md.brokers.values()] == [("127.0.0.1", ext_port)]
        round_trip(ext, "outside", n=20)
    finally:
        b.stop()


def test_encrypted_key_with_ssl_key_password(tmp_path, pki):
    """An encrypted PKCS#8 key (`openssl pkcs8 -topk8`) is read with ssl.key.password; a wrong
    password stops the start with a clear message that does not contain the password."""
    openssl("pkcs8", "-topk8", "-in", "server.key", "-out", "server-enc.key",
            "-passout", "pass:key-secret-5e1", cwd=pki)
    assert "ENCRYPTED PRIVATE KEY" in (pki / "server-enc.key").read_text()
    (pki / "keystore-enc.pem").write_text((pki / "server.pem").read_text()
                                          + (pki / "server-enc.key").read_text())
    props = {"ssl.keystore.type": "PEM", "ssl.keystore.location": pki / "keystore-enc.pem"}
    b = start(tmp_path, "SSL", {**props, "ssl.key.password": "key-secret-5e1"})
    try:
        round_trip(client_conf(b, "SSL", pki), "enc-key-topic", n=10)
        res = ConfigResource(ResourceType.BROKER, "1")
        admin = AdminClient(client_conf(b, "SSL", pki))
        e = admin.describe_configs([res])[res].result(30)["ssl.key.password"]
        assert e.is_sensitive and e.value is None
        assert "key-secret-5e1" not in b.out.read_text()
    finally:
        b.stop()
    bad = tmp_path / "bad"
    bad.mkdir()
    with pytest.raises(AssertionError) as failed:
        start(bad, "SSL", {**props, "ssl.key.password": "wrong-pw-77"})
    assert "cannot decrypt the private key" in str(failed.value)
    assert "wrong-pw-77" not in str(failed.value)


def test_sasl_principals_are_what_acls_authorize(tmp_path):
    """With the authorizer on, the SASL user is the principal ACLs name: alice can do nothing
    until the super user admin grants her WRITE on the prefix p-, then she produces there only."""
    from confluent_kafka.admin import (AclBinding, AclOperation, AclPermissionType,
                                       ResourcePatternType)
    b = start(tmp_path, "SASL_PLAINTEXT", sasl_props("PLAIN", "sasl_plaintext", **{
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "super.users": "User:admin"}))
    try:
        admin_conf = client_conf(b, "SASL_PLAINTEXT", mechanism="PLAIN", user="admin",
                                 password=ADMIN_PW)
        alice = client_conf(b, "SASL_PLAINTEXT", mechanism="PLAIN", user="alice",
                            password=ALICE_PW)
        admin = AdminClient(admin_conf)
        for t in ("p-orders", "other"):
            admin.create_topics([NewTopic(t, 1, 1)])[t].result(30)
        assert set(AdminClient(alice).list_topics(timeout=10).topics) == set()

        def produce(topic):
            p = Producer({**alice, "message.timeout.ms": 5000})
            errs = []
            p.produce(topic, b"x", on_delivery=lambda e, m: errs.append(e))
            p.flush(10)
            return errs

        assert produce("p-orders")[0] is not None
        acl = AclBinding(ResourceType.TOPIC, "p-", ResourcePatternType.PREFIXED, "User:alice",
                         "*", AclOperation.WRITE, AclPermissionType.ALLOW)
        for f in admin.create_acls([acl]).values():
            f.result(30)
        assert produce("p-orders") == [None]
        assert produce("other")[0] is not None
    finally:
        b.stop()
