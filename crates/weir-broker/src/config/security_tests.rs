//! Parsing of the listener security configs.

use super::*;

#[test]
fn jaas_options_are_parsed_with_quotes_and_escapes() {
    let opts = parse_jaas(
        r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="a b" user_admin="a b" user_alice="x\"y";"#,
    )
    .unwrap();
    assert_eq!(opts[1], ("password".into(), "a b".into()));
    assert_eq!(opts[3], ("user_alice".into(), "x\"y".into()));
    assert!(parse_jaas("Module required a=\"b\"").is_err());
    assert!(parse_jaas("Module a=\"b\";").is_err());
    assert!(parse_jaas("Module required a=\"b;").is_err());
}

#[test]
fn secrets_are_recognised_and_hidden_from_debug() {
    assert!(is_sensitive("ssl.key.password"));
    assert!(is_sensitive(
        "listener.name.sasl_ssl.plain.sasl.jaas.config"
    ));
    assert!(is_sensitive("ssl.keystore.key"));
    assert!(!is_sensitive("ssl.keystore.location"));
    assert_eq!(format!("{:?}", Secret("pw".into())), "[hidden]");
}

fn config(flags: &[(&str, &str)]) -> Result<crate::config::BrokerConfig, BrokerError> {
    let flags: Vec<(String, String)> = flags
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    crate::config::BrokerConfig::from_sources(None, &[], &flags)
}

#[test]
fn listeners_get_their_protocols_and_bad_setups_are_refused() {
    let jaas = r#"x.PlainLoginModule required username="b" password="bp" user_b="bp";"#;
    let c = config(&[
        ("listeners", "IN://127.0.0.1:1,OUT://127.0.0.1:2"),
        (
            "listener.security.protocol.map",
            "IN:SASL_PLAINTEXT,OUT:PLAINTEXT",
        ),
        ("sasl.enabled.mechanisms", "PLAIN,GSSAPI"),
        ("listener.name.in.plain.sasl.jaas.config", jaas),
        ("inter.broker.listener.name", "in"),
        ("sasl.mechanism.inter.broker.protocol", "PLAIN"),
    ])
    .unwrap();
    let sec = &c.security;
    assert_eq!(
        sec.listeners["IN"].protocol,
        SecurityProtocol::SaslPlaintext
    );
    assert_eq!(
        sec.listeners["IN"].sasl_mechanisms,
        vec!["PLAIN".to_string()]
    );
    assert_eq!(sec.listeners["IN"].plain_users["b"], Secret("bp".into()));
    assert_eq!(sec.listeners["OUT"].protocol, SecurityProtocol::Plaintext);
    assert_eq!(sec.inter_broker.listener, "IN");
    assert_eq!(
        sec.inter_broker.sasl,
        Some(Ok(("PLAIN".into(), "b".into(), Secret("bp".into()))))
    );
    let e = c
        .entries
        .iter()
        .find(|e| e.name.ends_with("jaas.config"))
        .unwrap();
    assert!(e.sensitive && e.value.is_none());

    for (flags, key) in [
        (
            vec![("listeners", "X://127.0.0.1:1")],
            "listener.security.protocol.map",
        ),
        (
            vec![("listeners", "SASL_PLAINTEXT://127.0.0.1:1")],
            "sasl.enabled.mechanisms",
        ),
        (
            vec![
                ("listeners", "SASL_PLAINTEXT://127.0.0.1:1"),
                ("sasl.enabled.mechanisms", "PLAIN"),
            ],
            "plain.sasl.jaas.config",
        ),
        (
            vec![("listeners", "SSL://127.0.0.1:1")],
            "ssl.keystore.location",
        ),
        (
            vec![("ssl.principal.mapping.rules", "RULE:^CN=(.*$/$1/")],
            "ssl.principal.mapping.rules",
        ),
        (
            vec![("inter.broker.listener.name", "NOPE")],
            "inter.broker.listener.name",
        ),
    ] {
        let err = config(&flags).unwrap_err().to_string();
        assert!(err.contains(key), "{flags:?}: {err}");
    }
}

#[test]
fn a_sasl_controller_listener_takes_plain_credentials_and_refuses_other_mechanisms() {
    let jaas = r#"x.PlainLoginModule required username="c" password="cp" user_c="cp";"#;
    let base = [
        (
            "listeners",
            "PLAINTEXT://127.0.0.1:1,CONTROLLER://127.0.0.1:2",
        ),
        (
            "listener.security.protocol.map",
            "PLAINTEXT:PLAINTEXT,CONTROLLER:SASL_PLAINTEXT",
        ),
        ("listener.name.controller.sasl.enabled.mechanisms", "PLAIN"),
        ("listener.name.controller.plain.sasl.jaas.config", jaas),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut f = base.to_vec();
        f.extend_from_slice(extra);
        config(&f)
    };
    let c = with(&[("sasl.mechanism.controller.protocol", "PLAIN")]).unwrap();
    assert_eq!(
        c.security.controller_sasl,
        Some(("PLAIN".into(), "c".into(), Secret("cp".into())))
    );
    assert_eq!(c.security.inter_broker.sasl, None);
    // Kafka's default mechanism (GSSAPI) and SCRAM are refused with the config named.
    for (mech, why) in [("GSSAPI", "PLAIN only"), ("SCRAM-SHA-512", "metadata log")] {
        let err = with(&[("sasl.mechanism.controller.protocol", mech)])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("sasl.mechanism.controller.protocol") && err.contains(why),
            "{mech}: {err}"
        );
    }
    // Not set: Kafka's default, GSSAPI.
    let err = with(&[]).unwrap_err().to_string();
    assert!(err.contains("GSSAPI"), "{err}");
    // The node's own credentials are needed to dial the controllers.
    let err = config(&[
        ("listeners", "CONTROLLER://127.0.0.1:2"),
        (
            "listener.security.protocol.map",
            "CONTROLLER:SASL_PLAINTEXT",
        ),
        ("sasl.enabled.mechanisms", "PLAIN"),
        (
            "listener.name.controller.plain.sasl.jaas.config",
            r#"x.PlainLoginModule required user_c="cp";"#,
        ),
        ("sasl.mechanism.controller.protocol", "PLAIN"),
    ])
    .unwrap_err()
    .to_string();
    assert!(err.contains("no username and password"), "{err}");
    let err = config(&[("controller.listener.names", "QUORUM")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("controller.listener.names"), "{err}");
}
