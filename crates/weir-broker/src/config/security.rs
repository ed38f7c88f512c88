//! Listener security settings with Kafka's names: `listener.security.protocol.map`, the `ssl.*`
//! and `sasl.*` configs (each may be given per listener as `listener.name.<l>.<config>`),
//! `connections.max.reauth.ms`, and which configs are secrets (never logged, never described).

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::error::BrokerError;

use super::parse::{bad, parse};

/// Defaults of the security configs (Kafka's, except where the docs say otherwise).
pub(crate) const DEFAULTS: &[(&str, &str)] = &[
    (
        "listener.security.protocol.map",
        "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL",
    ),
    ("ssl.keystore.location", ""),
    ("ssl.keystore.type", "JKS"),
    ("ssl.keystore.certificate.chain", ""),
    ("ssl.keystore.key", ""),
    ("ssl.key.password", ""),
    ("ssl.keystore.password", ""),
    ("ssl.truststore.location", ""),
    ("ssl.truststore.type", "JKS"),
    ("ssl.truststore.certificates", ""),
    ("ssl.truststore.password", ""),
    ("ssl.client.auth", "none"),
    ("ssl.principal.mapping.rules", "DEFAULT"),
    ("sasl.enabled.mechanisms", "GSSAPI"),
    ("connections.max.reauth.ms", "0"),
    ("inter.broker.listener.name", ""),
    ("sasl.mechanism.inter.broker.protocol", "GSSAPI"),
    ("sasl.mechanism.controller.protocol", "GSSAPI"),
    // Kafka requires it in KRaft mode; Weir's controller listener is always CONTROLLER.
    ("controller.listener.names", "CONTROLLER"),
];

/// The SASL mechanisms Weir implements.
pub const SUPPORTED_MECHANISMS: &[&str] = &["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"];

/// True for configs whose values are secrets: DescribeConfigs answers them with a null value
/// and `is_sensitive` (as Kafka does) and they are never logged.
pub fn is_sensitive(key: &str) -> bool {
    key.ends_with(".password")
        || key.ends_with("sasl.jaas.config")
        || key.ends_with("ssl.keystore.key")
}

/// A secret config value: its `Debug` never shows it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[hidden]")
    }
}

/// A listener's security protocol (`listener.security.protocol.map`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecurityProtocol {
    /// No TLS, no SASL.
    Plaintext,
    /// TLS.
    Ssl,
    /// SASL over plain TCP.
    SaslPlaintext,
    /// SASL over TLS.
    SaslSsl,
}

impl SecurityProtocol {
    /// Parse Kafka's name (`SASL_SSL`).
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name.trim().to_ascii_uppercase().as_str() {
            "PLAINTEXT" => SecurityProtocol::Plaintext,
            "SSL" => SecurityProtocol::Ssl,
            "SASL_PLAINTEXT" => SecurityProtocol::SaslPlaintext,
            "SASL_SSL" => SecurityProtocol::SaslSsl,
            _ => return None,
        })
    }

    /// True for SSL and SASL_SSL.
    pub fn uses_tls(self) -> bool {
        matches!(self, SecurityProtocol::Ssl | SecurityProtocol::SaslSsl)
    }

    /// True for SASL_PLAINTEXT and SASL_SSL.
    pub fn uses_sasl(self) -> bool {
        matches!(
            self,
            SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl
        )
    }
}

/// `ssl.client.auth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// No client certificate asked for.
    None,
    /// A client certificate is asked for; one that is sent must be valid.
    Requested,
    /// A valid client certificate is required.
    Required,
}

/// Where a listener's certificate, key and trusted CAs come from (PEM only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// `ssl.keystore.location`: a PEM file with the certificate chain and the private key.
    pub keystore_location: Option<PathBuf>,
    /// `ssl.keystore.certificate.chain`: the chain as PEM text (instead of a file).
    pub certificate_chain: Option<String>,
    /// `ssl.keystore.key`: the private key as PEM text (instead of a file).
    pub key: Option<Secret>,
    /// `ssl.key.password`: decrypts an encrypted PKCS#8 key (`ENCRYPTED PRIVATE KEY`).
    pub key_password: Option<Secret>,
    /// `ssl.truststore.location`: PEM CA certificates client certificates are checked against.
    pub truststore_location: Option<PathBuf>,
    /// `ssl.truststore.certificates`: the same as PEM text.
    pub truststore_certificates: Option<String>,
    /// `ssl.client.auth`.
    pub client_auth: ClientAuth,
}

/// One listener's security.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerSecurity {
    /// The protocol mapped to the listener's name.
    pub protocol: SecurityProtocol,
    /// TLS settings, for SSL and SASL_SSL listeners.
    pub tls: Option<TlsSettings>,
    /// `sasl.enabled.mechanisms` (supported ones only), for SASL listeners.
    pub sasl_mechanisms: Vec<String>,
    /// PLAIN users and passwords from `listener.name.<l>.plain.sasl.jaas.config`
    /// (`user_<name>="<password>"`).
    pub plain_users: BTreeMap<String, Secret>,
    /// `ssl.principal.mapping.rules`.
    pub principal_mapping_rules: String,
}

/// How this broker connects to the other brokers (replica fetchers, transaction markers,
/// share-state RPCs): over `inter.broker.listener.name` with that listener's protocol.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InterBrokerSecurity {
    /// `inter.broker.listener.name` (default: the first client listener).
    pub listener: String,
    /// Its protocol (PLAINTEXT when the listener is unknown).
    pub protocol: Option<SecurityProtocol>,
    /// Trust store and own certificate (the listener's key store, shown when asked for one).
    pub tls: Option<TlsSettings>,
    /// `sasl.mechanism.inter.broker.protocol` with the `username` / `password` of the
    /// listener's JAAS config for that mechanism; `Err` says why SASL cannot be used.
    pub sasl: Option<Result<ClientSasl, String>>,
}

/// The credentials a node authenticates with when it dials a SASL listener: the mechanism and
/// the `username` / `password` options of the listener's JAAS config for it.
pub type ClientSasl = (String, String, Secret);

/// The security settings of every listener, by listener name (upper case as configured).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecurityConfig {
    /// Per listener.
    pub listeners: BTreeMap<String, ListenerSecurity>,
    /// `connections.max.reauth.ms` (0 = sessions never expire).
    pub connections_max_reauth_ms: i64,
    /// The inter-broker client side.
    pub inter_broker: InterBrokerSecurity,
    /// When the CONTROLLER listener uses SASL: `sasl.mechanism.controller.protocol` (PLAIN) with
    /// the `username` / `password` of `listener.name.controller.plain.sasl.jaas.config`, used
    /// to dial the controllers (and the brokers' CONTROLLER listeners).
    pub controller_sasl: Option<ClientSasl>,
}

impl SecurityConfig {
    /// The security of `listener` (PLAINTEXT when unknown, e.g. the CONTROLLER listener).
    pub fn listener(&self, listener: &str) -> ListenerSecurity {
        self.listeners
            .get(listener)
            .cloned()
            .unwrap_or_else(|| ListenerSecurity {
                protocol: SecurityProtocol::Plaintext,
                tls: None,
                sasl_mechanisms: Vec::new(),
                plain_users: BTreeMap::new(),
                principal_mapping_rules: "DEFAULT".into(),
            })
    }
}

/// Known config keys: the defaults plus anything under `listener.name.`.
pub(crate) fn is_known(key: &str) -> bool {
    key.starts_with("listener.name.")
}

/// Parse the security settings of `listener_names`. `get` returns a config's value or default;
/// `set` holds every explicitly set key (for the `listener.name.<l>.` forms).
pub(crate) fn parse_security(
    listener_names: &[String],
    get: &dyn Fn(&str) -> String,
    set: &BTreeMap<String, String>,
) -> Result<SecurityConfig, BrokerError> {
    let cln = get("controller.listener.names");
    if !cln.trim().eq_ignore_ascii_case("CONTROLLER") {
        return Err(bad(
            "controller.listener.names",
            &cln,
            "Weir's controller listener is always named CONTROLLER",
        ));
    }
    let map_raw = get("listener.security.protocol.map");
    let mut map = BTreeMap::new();
    for item in map_raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (name, proto) = item.split_once(':').ok_or_else(|| {
            bad(
                "listener.security.protocol.map",
                &map_raw,
                "expected NAME:PROTOCOL",
            )
        })?;
        let proto = SecurityProtocol::parse(proto).ok_or_else(|| {
            bad(
                "listener.security.protocol.map",
                &map_raw,
                "protocols are PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL",
            )
        })?;
        map.insert(name.trim().to_ascii_uppercase(), proto);
    }
    let mut out = SecurityConfig {
        listeners: BTreeMap::new(),
        connections_max_reauth_ms: parse(
            "connections.max.reauth.ms",
            &get("connections.max.reauth.ms"),
        )?,
        inter_broker: InterBrokerSecurity::default(),
        controller_sasl: None,
    };
    for name in listener_names {
        let upper = name.to_ascii_uppercase();
        let protocol = match map.get(&upper) {
            Some(p) => *p,
            // KRaft's controller listener defaults to PLAINTEXT when not mapped.
            None if upper == "CONTROLLER" => SecurityProtocol::Plaintext,
            None => {
                return Err(bad(
                    "listener.security.protocol.map",
                    &map_raw,
                    &format!("no security protocol for listener {name}"),
                ))
            }
        };
        let prefix = format!("listener.name.{}.", name.to_ascii_lowercase());
        let value = |key: &str| -> String {
            set.get(&format!("{prefix}{key}"))
                .cloned()
                .unwrap_or_else(|| get(key))
        };
        let tls = if protocol.uses_tls() {
            Some(parse_tls(&value)?)
        } else {
            None
        };
        let (sasl_mechanisms, plain_users) = if protocol.uses_sasl() {
            parse_sasl(name, &prefix, &value, set)?
        } else {
            (Vec::new(), BTreeMap::new())
        };
        let rules = value("ssl.principal.mapping.rules");
        super::principal_rules::PrincipalRules::parse(&rules)
            .map_err(|why| bad("ssl.principal.mapping.rules", &rules, &why))?;
        out.listeners.insert(
            name.clone(),
            ListenerSecurity {
                protocol,
                tls,
                sasl_mechanisms,
                plain_users,
                principal_mapping_rules: rules,
            },
        );
    }
    out.inter_broker = inter_broker(listener_names, get, set, &out.listeners)?;
    out.controller_sasl = controller_sasl(get, set, &out.listeners)?;
    Ok(out)
}

/// The CONTROLLER listener's client credentials when it uses SASL. Only PLAIN can work there:
/// SCRAM credentials live in the metadata log the controller listener carries (Kafka does not
/// support SCRAM on the controller listener for bootstrapping either), and Weir has no GSSAPI.
fn controller_sasl(
    get: &dyn Fn(&str) -> String,
    set: &BTreeMap<String, String>,
    listeners: &BTreeMap<String, ListenerSecurity>,
) -> Result<Option<ClientSasl>, BrokerError> {
    let Some((name, sec)) = listeners
        .iter()
        .find(|(n, s)| n.eq_ignore_ascii_case("CONTROLLER") && s.protocol.uses_sasl())
    else {
        return Ok(None);
    };
    const KEY: &str = "sasl.mechanism.controller.protocol";
    let mech = get(KEY).trim().to_ascii_uppercase();
    if mech.starts_with("SCRAM-") {
        return Err(bad(
            KEY,
            &mech,
            "SCRAM credentials are stored in the metadata log, which the controller listener \
             carries, so they cannot authenticate the quorum itself; use PLAIN",
        ));
    }
    if mech != "PLAIN" {
        return Err(bad(
            KEY,
            &mech,
            "Weir authenticates the CONTROLLER listener with PLAIN only (no GSSAPI or \
             OAUTHBEARER); set it to PLAIN",
        ));
    }
    client_credentials(name, sec, KEY, &mech, set)
        .map(Some)
        .map_err(|why| BrokerError::Config(format!("the CONTROLLER listener: {why}")))
}

/// `mech` (named by the config `key`) with the `username` / `password` of `name`'s JAAS config
/// for it; `Err` says what is missing.
fn client_credentials(
    name: &str,
    sec: &ListenerSecurity,
    key: &str,
    mech: &str,
    set: &BTreeMap<String, String>,
) -> Result<ClientSasl, String> {
    if !sec.sasl_mechanisms.iter().any(|m| m == mech) {
        return Err(format!("{key}={mech} is not enabled on listener {name}"));
    }
    let jaas_key = format!(
        "listener.name.{}.{}.sasl.jaas.config",
        name.to_ascii_lowercase(),
        mech.to_ascii_lowercase()
    );
    let jaas = set
        .get(&jaas_key)
        .ok_or_else(|| format!("{jaas_key} (username and password of this node) is not set"))?;
    let opts = parse_jaas(jaas).map_err(|e| format!("{jaas_key}: {e}"))?;
    let find = |k: &str| opts.iter().find(|(o, _)| o == k).map(|(_, v)| v.clone());
    match (find("username"), find("password")) {
        (Some(u), Some(p)) => Ok((mech.to_string(), u, Secret(p))),
        _ => Err(format!("{jaas_key} has no username and password")),
    }
}

fn inter_broker(
    listener_names: &[String],
    get: &dyn Fn(&str) -> String,
    set: &BTreeMap<String, String>,
    listeners: &BTreeMap<String, ListenerSecurity>,
) -> Result<InterBrokerSecurity, BrokerError> {
    let configured = get("inter.broker.listener.name").trim().to_string();
    let name = if configured.is_empty() {
        listener_names
            .iter()
            .find(|n| !n.eq_ignore_ascii_case("CONTROLLER"))
            .cloned()
            .unwrap_or_default()
    } else {
        listener_names
            .iter()
            .find(|n| n.eq_ignore_ascii_case(&configured))
            .cloned()
            .ok_or_else(|| {
                bad(
                    "inter.broker.listener.name",
                    &configured,
                    "not one of the listeners",
                )
            })?
    };
    let Some(sec) = listeners.get(&name) else {
        return Ok(InterBrokerSecurity {
            listener: name,
            ..InterBrokerSecurity::default()
        });
    };
    let sasl = sec.protocol.uses_sasl().then(|| {
        let key = "sasl.mechanism.inter.broker.protocol";
        let mech = get(key).trim().to_ascii_uppercase();
        client_credentials(&name, sec, key, &mech, set)
    });
    Ok(InterBrokerSecurity {
        listener: name,
        protocol: Some(sec.protocol),
        tls: sec.tls.clone(),
        sasl,
    })
}

fn non_empty(s: String) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

fn parse_tls(value: &dyn Fn(&str) -> String) -> Result<TlsSettings, BrokerError> {
    for key in ["ssl.keystore.type", "ssl.truststore.type"] {
        let t = value(key).to_ascii_uppercase();
        // JKS is Kafka's default name; a PEM file given with the default type is read as PEM.
        if !matches!(t.as_str(), "PEM" | "JKS" | "") {
            return Err(bad(key, &t, "Weir reads PEM key and trust stores only"));
        }
    }
    let client_auth = match value("ssl.client.auth")
        .trim()
        .to_ascii_lowercase()
        .as_str()
    {
        "none" | "" => ClientAuth::None,
        "requested" => ClientAuth::Requested,
        "required" => ClientAuth::Required,
        other => {
            return Err(bad(
                "ssl.client.auth",
                other,
                "must be none, requested or required",
            ))
        }
    };
    let s = TlsSettings {
        keystore_location: non_empty(value("ssl.keystore.location")).map(PathBuf::from),
        certificate_chain: non_empty(value("ssl.keystore.certificate.chain")),
        key: non_empty(value("ssl.keystore.key")).map(Secret),
        key_password: non_empty(value("ssl.key.password")).map(Secret),
        truststore_location: non_empty(value("ssl.truststore.location")).map(PathBuf::from),
        truststore_certificates: non_empty(value("ssl.truststore.certificates")),
        client_auth,
    };
    if s.keystore_location.is_none() && (s.certificate_chain.is_none() || s.key.is_none()) {
        return Err(bad(
            "ssl.keystore.location",
            "",
            "a TLS listener needs a PEM keystore (or ssl.keystore.certificate.chain and ssl.keystore.key)",
        ));
    }
    if s.client_auth != ClientAuth::None
        && s.truststore_location.is_none()
        && s.truststore_certificates.is_none()
    {
        return Err(bad(
            "ssl.truststore.location",
            "",
            "ssl.client.auth needs a PEM trust store",
        ));
    }
    Ok(s)
}

type SaslSettings = (Vec<String>, BTreeMap<String, Secret>);

fn parse_sasl(
    listener: &str,
    prefix: &str,
    value: &dyn Fn(&str) -> String,
    set: &BTreeMap<String, String>,
) -> Result<SaslSettings, BrokerError> {
    let raw = value("sasl.enabled.mechanisms");
    let mut mechanisms = Vec::new();
    for m in raw.split(',').map(|m| m.trim().to_ascii_uppercase()) {
        if SUPPORTED_MECHANISMS.contains(&m.as_str()) && !mechanisms.contains(&m) {
            mechanisms.push(m);
        } else if !m.is_empty() {
            tracing::warn!(listener, mechanism = %m, "SASL mechanism not supported by Weir; not enabled");
        }
    }
    if mechanisms.is_empty() {
        return Err(bad(
            "sasl.enabled.mechanisms",
            &raw,
            &format!(
                "listener {listener} uses SASL but enables none of {}",
                SUPPORTED_MECHANISMS.join(", ")
            ),
        ));
    }
    let mut users = BTreeMap::new();
    if mechanisms.iter().any(|m| m == "PLAIN") {
        let key = format!("{prefix}plain.sasl.jaas.config");
        let jaas = set.get(&key).ok_or_else(|| {
            bad(
                &key,
                "",
                "PLAIN is enabled: its users come from this JAAS config (user_<name>=\"<password>\")",
            )
        })?;
        let options = parse_jaas(jaas).map_err(|why| bad(&key, "[hidden]", &why))?;
        for (k, v) in options {
            if let Some(user) = k.strip_prefix("user_") {
                users.insert(user.to_string(), Secret(v));
            }
        }
    }
    Ok((mechanisms, users))
}

/// Parse a one-module JAAS config (`<LoginModule> required k="v" k2="v2";`) into its options.
pub fn parse_jaas(text: &str) -> Result<Vec<(String, String)>, String> {
    let text = text.trim();
    let body = text
        .strip_suffix(';')
        .ok_or("a JAAS config ends with ';'")?;
    let mut words = body.splitn(3, char::is_whitespace);
    let _module = words
        .next()
        .filter(|m| !m.is_empty())
        .ok_or("no login module")?;
    let flag = words.next().unwrap_or("");
    if !matches!(flag, "required" | "requisite" | "sufficient" | "optional") {
        return Err("expected a control flag (required) after the login module".into());
    }
    let mut rest = words.next().unwrap_or("").trim_start();
    let mut out = Vec::new();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=').ok_or("expected key=\"value\"")?;
        let after = after.trim_start();
        let (val, remaining) = if let Some(q) = after.strip_prefix('"') {
            let mut val = String::new();
            let mut chars = q.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            val.push(n);
                        }
                    }
                    '"' => {
                        end = Some(i + 1);
                        break;
                    }
                    c => val.push(c),
                }
            }
            let end = end.ok_or("unterminated quoted value")?;
            (val, &q[end..])
        } else {
            let end = after.find(char::is_whitespace).unwrap_or(after.len());
            (after[..end].to_string(), &after[end..])
        };
        out.push((key.trim().to_string(), val));
        rest = remaining.trim_start();
    }
    Ok(out)
}

#[cfg(test)]
#[path = "security_tests.rs"]
mod tests;
