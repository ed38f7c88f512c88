//! Listener security against a real `weir` process: librdkafka (the `rdkafka` crate) produces
//! and consumes over SASL_SSL with SCRAM-SHA-256 for a user created by `weir users scram set`
//! (`--command-config`), and over SSL; raw SASL exchanges show that nothing but ApiVersions is
//! served before authentication and that a session not re-authenticated within
//! `connections.max.reauth.ms` is closed. Certificates come from the openssl CLI at test time.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::{
    ApiKey, MetadataRequest, MetadataResponse, SaslAuthenticateRequest, SaslAuthenticateResponse,
    SaslHandshakeRequest, SaslHandshakeResponse,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use rdkafka::Offset;
use weir_test_support::clients::{assigned_consumer, consume_n, flush, producer, send};
use weir_test_support::{free_port, BrokerOptions, BrokerProcess};

const JAAS: &str = r#"org.apache.kafka.common.security.plain.PlainLoginModule required user_admin="admin-pw" user_alice="alice-pw";"#;

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(out.status.success(), "openssl {args:?}: {out:?}");
}

/// ca.pem and keystore.pem (certificate + key for 127.0.0.1) in `dir`.
fn make_pki(dir: &Path) {
    std::fs::write(dir.join("server.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=weir-test-ca",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ],
    );
    let mut ks = std::fs::read_to_string(dir.join("server.pem")).unwrap();
    ks.push_str(&std::fs::read_to_string(dir.join("server.key")).unwrap());
    std::fs::write(dir.join("keystore.pem"), ks).unwrap();
}

fn start(protocol: &str, configs: &[(&str, String)]) -> BrokerProcess {
    let port = free_port();
    let listener = format!("{protocol}://127.0.0.1:{port}");
    let mut opts = BrokerOptions {
        port: Some(port),
        ..BrokerOptions::default()
    }
    .config("listeners", &listener)
    .config("advertised.listeners", &listener);
    for (k, v) in configs {
        opts = opts.config(k, v);
    }
    BrokerProcess::start(Path::new(env!("CARGO_BIN_EXE_weir")), opts)
}

/// Produce 50 records to `topic` (auto-created) and consume them back over `security`.
fn round_trip(bootstrap: &str, topic: &str, security: &[(&str, &str)]) {
    let (p, acks) = producer(bootstrap, security);
    for i in 0..50 {
        send(&p, topic, Some(0), None, format!("v{i}").as_bytes());
    }
    assert_eq!(flush(&p, Duration::from_secs(30)), 0);
    assert_eq!(acks.acked.lock().unwrap().len(), 50, "{:?}", acks.errors);
    let c = assigned_consumer(bootstrap, topic, 1, Offset::Beginning, security);
    let got = consume_n(&c, 50, Duration::from_secs(30));
    let values: Vec<Vec<u8>> = got.iter().map(|m| m.value.clone()).collect();
    let want: Vec<Vec<u8>> = (0..50).map(|i| format!("v{i}").into_bytes()).collect();
    assert_eq!(values, want);
}

#[test]
fn rdkafka_over_ssl_and_over_sasl_ssl_with_a_scram_user_made_by_the_cli() {
    let pki = tempfile::tempdir().unwrap();
    make_pki(pki.path());
    let ks = pki.path().join("keystore.pem").display().to_string();
    let ca = pki.path().join("ca.pem").display().to_string();

    let ssl = start(
        "SSL",
        &[
            ("ssl.keystore.type", "PEM".into()),
            ("ssl.keystore.location", ks.clone()),
        ],
    );
    round_trip(
        &ssl.bootstrap(),
        "over-ssl",
        &[("security.protocol", "SSL"), ("ssl.ca.location", &ca)],
    );

    let b = start(
        "SASL_SSL",
        &[
            ("ssl.keystore.type", "PEM".into()),
            ("ssl.keystore.location", ks),
            ("sasl.enabled.mechanisms", "PLAIN,SCRAM-SHA-256".into()),
            ("listener.name.sasl_ssl.plain.sasl.jaas.config", JAAS.into()),
        ],
    );
    let admin = pki.path().join("admin.properties");
    std::fs::write(
        &admin,
        format!(
            "security.protocol=SASL_SSL\nssl.ca.location={ca}\nsasl.mechanism=PLAIN\n\
             sasl.username=admin\nsasl.password=admin-pw\n"
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args([
            "users",
            "scram",
            "set",
            "--user",
            "erin",
            "--mechanism",
            "SCRAM-SHA-256",
        ])
        .args(["-b", &b.bootstrap(), "--command-config"])
        .arg(&admin)
        .env("WEIR_USER_PASSWORD", "erin-pw")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let scram = [
        ("security.protocol", "SASL_SSL"),
        ("ssl.ca.location", ca.as_str()),
        ("sasl.mechanism", "SCRAM-SHA-256"),
        ("sasl.username", "erin"),
        ("sasl.password", "erin-pw"),
    ];
    round_trip(&b.bootstrap(), "over-sasl-ssl", &scram);
}

fn request<Q: Encodable, R: Decodable>(
    s: &mut TcpStream,
    key: ApiKey,
    v: i16,
    req: &Q,
) -> Option<R> {
    let frame = weir_protocol::client::encode_request(key, v, 7, "raw", req).unwrap();
    s.write_all(&frame).ok()?;
    let mut prefix = [0u8; 4];
    s.read_exact(&mut prefix).ok()?;
    let mut body = vec![0u8; u32::from_be_bytes(prefix) as usize];
    s.read_exact(&mut body).ok()?;
    Some(weir_protocol::client::decode_response(key, v, 7, Bytes::from(body)).unwrap())
}

fn closed(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 16];
    matches!(s.read(&mut buf), Ok(0) | Err(_))
}

fn plain_login(s: &mut TcpStream, password: &str) -> SaslAuthenticateResponse {
    let mut hs = SaslHandshakeRequest::default();
    hs.mechanism = StrBytes::from_static_str("PLAIN");
    let r: SaslHandshakeResponse = request(s, ApiKey::SaslHandshake, 1, &hs).unwrap();
    assert_eq!(r.error_code, 0);
    let mut auth = SaslAuthenticateRequest::default();
    auth.auth_bytes = Bytes::from(format!("\0alice\0{password}"));
    request(s, ApiKey::SaslAuthenticate, 2, &auth).unwrap()
}

#[test]
fn sasl_gates_requests_and_expired_sessions_are_closed() {
    let b = start(
        "SASL_PLAINTEXT",
        &[
            ("sasl.enabled.mechanisms", "PLAIN".into()),
            (
                "listener.name.sasl_plaintext.plain.sasl.jaas.config",
                JAAS.into(),
            ),
            ("connections.max.reauth.ms", "800".into()),
        ],
    );
    let connect = || {
        let s = TcpStream::connect(b.bootstrap())
            .unwrap_or_else(|e| panic!("connect: {e}; broker output:\n{}", b.output()));
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    };
    // Before authentication: a Metadata request closes the connection.
    let mut s = connect();
    let none: Option<MetadataResponse> =
        request(&mut s, ApiKey::Metadata, 12, &MetadataRequest::default());
    assert!(none.is_none());
    // A wrong password: SASL_AUTHENTICATION_FAILED with a message, then closed.
    let mut s = connect();
    let r = plain_login(&mut s, "wrong");
    assert_eq!(r.error_code, 58);
    assert!(r
        .error_message
        .unwrap()
        .contains("Invalid username or password"));
    assert!(closed(&mut s));
    // Authenticated: served, with the session lifetime; re-authentication extends the session.
    let mut s = connect();
    let r = plain_login(&mut s, "alice-pw");
    assert_eq!((r.error_code, r.session_lifetime_ms), (0, 800));
    let md: Option<MetadataResponse> =
        request(&mut s, ApiKey::Metadata, 12, &MetadataRequest::default());
    assert!(md.is_some());
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(500));
        assert_eq!(plain_login(&mut s, "alice-pw").error_code, 0);
        let md: Option<MetadataResponse> =
            request(&mut s, ApiKey::Metadata, 12, &MetadataRequest::default());
        assert!(md.is_some(), "re-authenticated session is served");
    }
    // Not re-authenticated in time: the next request closes the connection.
    std::thread::sleep(Duration::from_millis(900));
    let md: Option<MetadataResponse> =
        request(&mut s, ApiKey::Metadata, 12, &MetadataRequest::default());
    assert!(md.is_none());
    assert!(b.output().contains("expired without re-authentication"));
}
