//! Inter-broker security with real processes: a dedicated controller and three brokers whose
//! replication and peer requests run over an `INTERNAL` SASL_SSL listener
//! (`inter.broker.listener.name`, `sasl.mechanism.inter.broker.protocol=PLAIN`, mutual TLS) and
//! whose metadata quorum traffic runs over a CONTROLLER listener mapped to SSL (mutual TLS) or
//! to SASL_SSL (PLAIN, `sasl.mechanism.controller.protocol`), while clients use PLAINTEXT. The
//! followers' fetchers authenticate as the broker user; the leader is killed with SIGKILL under
//! an idempotent acks=all workload (min.insync.replicas=2, so acknowledged records are on a
//! follower) and no acknowledged record is lost. With SASL on the CONTROLLER listener a node
//! with a wrong password cannot join. A third test runs three combined (broker, controller)
//! nodes with INTERNAL and CONTROLLER both SASL_SSL and kills the active controller.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use kafka_protocol::messages::{ApiKey, MetadataRequest, MetadataResponse};
use weir_test_support::cluster::{
    brokers_bootstrap, brokers_registered, check_acked_vs_consumed, cluster_options,
    create_replicated_topic, full_isr, view, Workload,
};
use weir_test_support::raw::RawClient;
use weir_test_support::{free_port, start_nodes_with, wait_until, BrokerOptions, BrokerProcess};

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(out.status.success(), "openssl {args:?}: {out:?}");
}

/// ca.pem and keystore.pem (one certificate for 127.0.0.1, for serving and as a client) in `dir`.
fn make_pki(dir: &Path) {
    std::fs::write(
        dir.join("broker.ext"),
        "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n",
    )
    .unwrap();
    for args in [
        "req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=weir-ca",
        "req -newkey rsa:2048 -nodes -keyout broker.key -out broker.csr -subj /CN=broker",
        "x509 -req -in broker.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out broker.pem -days 2 -extfile broker.ext",
    ] {
        openssl(dir, &args.split(' ').collect::<Vec<_>>());
    }
    let mut ks = std::fs::read_to_string(dir.join("broker.pem")).unwrap();
    ks.push_str(&std::fs::read_to_string(dir.join("broker.key")).unwrap());
    std::fs::write(dir.join("keystore.pem"), ks).unwrap();
}

/// How the CONTROLLER listener is secured.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Quorum {
    /// SSL: mutual TLS.
    Ssl,
    /// SASL_SSL with PLAIN; nodes dial with this password (the right one is `controller-pw`).
    SaslSsl(&'static str),
}

/// Every node's configs (the per-node ones are added by [`per_node`]).
fn options(pki: &Path, quorum: Quorum) -> BrokerOptions {
    let ks = pki.join("keystore.pem").display().to_string();
    let ca = pki.join("ca.pem").display().to_string();
    let controller = match quorum {
        Quorum::Ssl => "SSL",
        Quorum::SaslSsl(_) => "SASL_SSL",
    };
    let opts = cluster_options()
        .config("replica.fetch.backoff.ms", "200")
        .config("auto.leader.rebalance.enable", "false")
        .config(
            "listener.security.protocol.map",
            &format!("PLAINTEXT:PLAINTEXT,INTERNAL:SASL_SSL,CONTROLLER:{controller}"),
        )
        .config("inter.broker.listener.name", "INTERNAL")
        .config("sasl.mechanism.inter.broker.protocol", "PLAIN")
        .config("listener.name.internal.sasl.enabled.mechanisms", "PLAIN")
        .config(
            "listener.name.internal.plain.sasl.jaas.config",
            r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="broker" password="broker-pw" user_broker="broker-pw";"#,
        )
        .config("listener.name.internal.ssl.keystore.type", "PEM")
        .config("listener.name.internal.ssl.keystore.location", &ks)
        .config("listener.name.internal.ssl.truststore.location", &ca)
        .config("listener.name.internal.ssl.client.auth", "required")
        .config("listener.name.controller.ssl.keystore.type", "PEM")
        .config("listener.name.controller.ssl.keystore.location", &ks)
        .config("listener.name.controller.ssl.truststore.location", &ca);
    match quorum {
        Quorum::Ssl => opts,
        // The node dials with `password` and accepts the same (a node that got its password
        // wrong gets it wrong on both sides).
        Quorum::SaslSsl(password) => opts
            .config("sasl.mechanism.controller.protocol", "PLAIN")
            .config("listener.name.controller.sasl.enabled.mechanisms", "PLAIN")
            .config(
                "listener.name.controller.plain.sasl.jaas.config",
                &format!(
                    r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="controller" password="{password}" user_controller="{password}";"#
                ),
            ),
    }
}

/// A node's listeners: PLAINTEXT for clients, INTERNAL between brokers, CONTROLLER.
fn per_node(o: BrokerOptions) -> BrokerOptions {
    let (port, cp) = (o.port.unwrap_or(0), o.controller_port.unwrap_or(0));
    let internal = free_port();
    let advertised = format!("PLAINTEXT://127.0.0.1:{port},INTERNAL://127.0.0.1:{internal}");
    o.config(
        "listeners",
        &format!("{advertised},CONTROLLER://127.0.0.1:{cp}"),
    )
    .config("advertised.listeners", &advertised)
}

/// A dedicated controller and three brokers; also returns `controller.quorum.voters`.
fn start(pki: &Path, quorum: Quorum) -> (Vec<BrokerProcess>, String) {
    let voters = std::sync::Mutex::new(String::new());
    let roles = ["controller", "broker", "broker", "broker"];
    let nodes = start_nodes_with(
        Path::new(env!("CARGO_BIN_EXE_weir")),
        &roles,
        options(pki, quorum),
        |_, o| {
            if let Some((_, v)) = o
                .configs
                .iter()
                .find(|(k, _)| k == "controller.quorum.voters")
            {
                *voters.lock().unwrap() = v.clone();
            }
            per_node(o)
        },
    );
    let voters = voters.into_inner().unwrap();
    (nodes, voters)
}

#[test]
fn replication_over_sasl_ssl_survives_a_killed_leader() {
    failover(Quorum::Ssl);
}

#[test]
fn sasl_ssl_controller_quorum_survives_a_killed_leader_and_refuses_a_wrong_password() {
    failover(Quorum::SaslSsl("controller-pw"));
}

/// Replication over INTERNAL (SASL_SSL) with the CONTROLLER listener secured as `quorum`; the
/// partition leader is SIGKILLed under an acks=all workload and no acknowledged record is lost.
/// With SASL on the CONTROLLER listener, a fifth node with a wrong password cannot join.
fn failover(quorum: Quorum) {
    let pki = tempfile::tempdir().unwrap();
    make_pki(pki.path());
    // The nodes log each SASL authentication at DEBUG (read back below).
    std::env::set_var(
        "WEIR_TEST_RUST_LOG",
        "info,weir_broker::security=debug,weir_broker::controller_transport=debug",
    );
    let (mut nodes, voters) = start(pki.path(), quorum);
    assert!(
        wait_until(Duration::from_secs(30), || nodes[1..]
            .iter()
            .all(|n| brokers_registered(n) == 3)),
        "three brokers registered:\n{}",
        nodes[0].output()
    );
    let banner = match quorum {
        Quorum::Ssl => "CONTROLLER listener: mutual TLS",
        Quorum::SaslSsl(_) => "CONTROLLER listener: SASL_SSL with PLAIN as controller",
    };
    assert!(nodes.iter().all(|n| n.output().contains(banner)));
    if matches!(quorum, Quorum::SaslSsl(_)) {
        // The brokers authenticated on the controller's CONTROLLER listener (and it on theirs,
        // replicating the metadata log to them).
        let out = nodes[0].output();
        assert!(
            out.contains("controller connection authenticated") && out.contains("User:controller"),
            "{out}"
        );
    }
    let bs = brokers_bootstrap(&nodes);
    assert_eq!(
        create_replicated_topic(
            &nodes[1].bootstrap(),
            "secure",
            3,
            3,
            &[("min.insync.replicas", "2")]
        ),
        0
    );
    assert!(
        wait_until(Duration::from_secs(30), || full_isr(&nodes, "secure", 3)),
        "followers fetch over SASL_SSL: {:?}\n{}",
        view(&nodes, "secure", &[]),
        nodes[2].output()
    );
    // The followers authenticate as the broker user on the leaders' INTERNAL listener (every
    // broker leads a partition, so every broker sees fetcher connections).
    let authenticated = |n: &BrokerProcess| {
        let out = n.output();
        out.contains("SASL authenticated") && out.contains("User:broker")
    };
    assert!(
        wait_until(Duration::from_secs(30), || nodes[1..]
            .iter()
            .all(authenticated)),
        "{}",
        nodes[1].output()
    );
    let work = Workload::start(&bs, "secure", 3, Duration::from_millis(2));
    assert!(wait_until(Duration::from_secs(30), || work.acked_count() >= 500));
    let leader = view(&nodes, "secure", &[])[0].leader;
    let victim = (leader - 1) as usize;
    nodes[victim].kill9();
    let lost_at = Instant::now();
    let acked_before = work.acked_count();
    assert!(
        wait_until(Duration::from_secs(30), || {
            let v = view(&nodes, "secure", &[victim]);
            !v.is_empty() && v[0].leader != leader && v[0].leader > 0
        }),
        "a new leader after the kill"
    );
    assert!(work
        .first_ack_after(lost_at, Duration::from_secs(30))
        .is_some());
    assert!(wait_until(Duration::from_secs(30), || work.acked_count()
        >= acked_before + 500));
    nodes[victim].restart();
    assert!(
        wait_until(Duration::from_secs(40), || full_isr(&nodes, "secure", 3)),
        "the restarted broker rejoins every ISR over SASL_SSL:\n{}",
        nodes[victim].output()
    );
    let (acked, errors) = work.finish();
    assert!(errors.is_empty(), "delivery errors: {errors:?}");
    let (problems, consumed) = check_acked_vs_consumed(
        &bs,
        "secure",
        3,
        &acked,
        acked.len(),
        Duration::from_secs(60),
    );
    println!("{} acknowledged, {consumed} consumed", acked.len());
    assert!(
        problems.is_empty(),
        "{:#?}",
        &problems[..problems.len().min(20)]
    );
    if matches!(quorum, Quorum::SaslSsl(_)) {
        wrong_password_cannot_join(pki.path(), &nodes, &voters);
    }
    for n in nodes.iter_mut().rev() {
        n.stop();
    }
}

/// A fifth (broker) node whose CONTROLLER password is wrong: the controller refuses it (both
/// logs say why), it never registers nor answers clients.
fn wrong_password_cannot_join(pki: &Path, nodes: &[BrokerProcess], voters: &str) {
    let mut o = options(pki, Quorum::SaslSsl("wrong-pw"))
        .config("node.id", "5")
        .config("process.roles", "broker")
        .config("controller.quorum.voters", voters);
    o.port = Some(free_port());
    o.controller_port = Some(free_port());
    let mut intruder = BrokerProcess::launch(Path::new(env!("CARGO_BIN_EXE_weir")), per_node(o));
    assert!(
        wait_until(Duration::from_secs(30), || {
            let out = intruder.output();
            out.contains("controller connection refused by the transport")
                && out.contains("Invalid username or password")
        }),
        "the node says why it cannot join:\n{}",
        intruder.output()
    );
    assert!(
        wait_until(Duration::from_secs(30), || nodes[0].output().contains(
            "SASL authentication failed: Authentication failed: Invalid username or password"
        )),
        "the controller logs the refusal:\n{}",
        nodes[0].output()
    );
    assert_eq!(
        brokers_registered(&nodes[1]),
        3,
        "the node did not register"
    );
    assert!(
        std::net::TcpStream::connect(intruder.bootstrap()).is_err(),
        "a node that cannot join serves no client"
    );
    intruder.kill9();
}

/// The active controller as `node`'s Metadata answer shows it (combined nodes: the Raft leader).
fn active_controller(node: &BrokerProcess) -> i32 {
    let Ok(mut c) = RawClient::try_connect(&node.bootstrap()) else {
        return -1;
    };
    let mut req = MetadataRequest::default();
    req.topics = Some(Vec::new());
    c.try_call::<_, MetadataResponse>(ApiKey::Metadata, 12, &req)
        .map(|m| m.controller_id.0)
        .unwrap_or(-1)
}

/// Three combined (broker, controller) nodes whose INTERNAL and CONTROLLER listeners both use
/// SASL_SSL: the Raft votes and log replication between the controllers are authenticated with
/// PLAIN. The active controller (when it leads a partition, else a partition leader) is
/// SIGKILLed under an acks=all workload: a new controller and new partition leaders are elected
/// over SASL_SSL, the node rejoins after a restart, and no acknowledged record is lost.
#[test]
fn three_combined_nodes_with_sasl_ssl_controllers_survive_a_killed_leader() {
    let pki = tempfile::tempdir().unwrap();
    make_pki(pki.path());
    std::env::set_var(
        "WEIR_TEST_RUST_LOG",
        "info,weir_broker::security=debug,weir_broker::controller_transport=debug",
    );
    let roles = ["broker,controller"; 3];
    let mut nodes = start_nodes_with(
        Path::new(env!("CARGO_BIN_EXE_weir")),
        &roles,
        options(pki.path(), Quorum::SaslSsl("controller-pw")),
        |_, o| per_node(o),
    );
    assert!(
        wait_until(Duration::from_secs(30), || nodes
            .iter()
            .all(|n| brokers_registered(n) == 3)),
        "three brokers registered:\n{}",
        nodes[0].output()
    );
    for n in &nodes {
        let out = n.output();
        assert!(
            out.contains("CONTROLLER listener: SASL_SSL with PLAIN as controller")
                && out.contains("controller connection authenticated"),
            "{out}"
        );
    }
    let bs = nodes
        .iter()
        .map(|n| n.bootstrap())
        .collect::<Vec<_>>()
        .join(",");
    assert_eq!(
        create_replicated_topic(
            &nodes[0].bootstrap(),
            "secure3",
            3,
            3,
            &[("min.insync.replicas", "2")]
        ),
        0
    );
    assert!(
        wait_until(Duration::from_secs(30), || full_isr(&nodes, "secure3", 3)),
        "{:?}",
        view(&nodes, "secure3", &[])
    );
    let work = Workload::start(&bs, "secure3", 3, Duration::from_millis(2));
    assert!(wait_until(Duration::from_secs(30), || work.acked_count() >= 500));
    // The active controller when it leads a partition (three partitions on three nodes: it
    // normally leads one), else partition 0's leader: a partition leader dies either way.
    let mut controller = -1;
    assert!(wait_until(Duration::from_secs(10), || {
        controller = active_controller(&nodes[0]);
        controller > 0
    }));
    let mut leaders = Vec::new();
    assert!(wait_until(Duration::from_secs(10), || {
        leaders = view(&nodes, "secure3", &[])
            .iter()
            .map(|p| p.leader)
            .collect();
        leaders.len() == 3
    }));
    let killed = if leaders.contains(&controller) {
        controller
    } else {
        leaders[0]
    };
    let victim = (killed - 1) as usize;
    nodes[victim].kill9();
    let lost_at = Instant::now();
    let acked_before = work.acked_count();
    let survivor = (victim + 1) % 3;
    assert!(
        wait_until(Duration::from_secs(30), || {
            let c = active_controller(&nodes[survivor]);
            let v = view(&nodes, "secure3", &[victim]);
            c > 0
                && c != killed
                && v.len() == 3
                && v.iter().all(|p| p.leader > 0 && p.leader != killed)
        }),
        "a new controller and new leaders after the kill:\n{}",
        nodes[survivor].output()
    );
    assert!(work
        .first_ack_after(lost_at, Duration::from_secs(30))
        .is_some());
    assert!(wait_until(Duration::from_secs(30), || work.acked_count()
        >= acked_before + 500));
    nodes[victim].restart();
    assert!(
        wait_until(Duration::from_secs(40), || full_isr(&nodes, "secure3", 3)),
        "the restarted node rejoins every ISR:\n{}",
        nodes[victim].output()
    );
    let (acked, errors) = work.finish();
    assert!(errors.is_empty(), "delivery errors: {errors:?}");
    let (problems, consumed) = check_acked_vs_consumed(
        &bs,
        "secure3",
        3,
        &acked,
        acked.len(),
        Duration::from_secs(60),
    );
    println!("{} acknowledged, {consumed} consumed", acked.len());
    assert!(
        problems.is_empty(),
        "{:#?}",
        &problems[..problems.len().min(20)]
    );
    for n in nodes.iter_mut().rev() {
        n.stop();
    }
}
