//! `weir serve`: parse Kafka-named flags, set up logging, run the broker until SIGTERM/Ctrl-C.

use std::path::PathBuf;

use weir_broker::BrokerConfig;

/// Arguments of `weir serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// A Kafka-format properties file (`key=value` lines).
    #[arg(long = "config-file", value_name = "FILE")]
    config_file: Option<PathBuf>,
    /// Broker configs as `--a-b-c VALUE` or `--a-b-c=VALUE` (Kafka's `a.b.c`).
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "--CONFIG VALUE"
    )]
    configs: Vec<String>,
}

/// Kafka's authorizer class, the value `--authorizer` gives `authorizer.class.name` (Weir has
/// one built-in authorizer with its semantics; any non-empty value turns it on).
pub const STANDARD_AUTHORIZER: &str = "org.apache.kafka.metadata.authorizer.StandardAuthorizer";

/// Turn `--a-b-c VALUE` / `--a-b-c=VALUE` pairs into (`a.b.c`, `VALUE`); the bare switch
/// `--authorizer` is `authorizer.class.name` = [`STANDARD_AUTHORIZER`].
pub fn parse_config_flags(args: &[String]) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        // `--authorizer` (a switch) turns ACL authorization on, as `authorizer.class.name` set
        // to Kafka's StandardAuthorizer would.
        if arg == "--authorizer" {
            out.push((
                "authorizer.class.name".to_string(),
                STANDARD_AUTHORIZER.to_string(),
            ));
            continue;
        }
        let Some(flag) = arg.strip_prefix("--") else {
            return Err(format!(
                "unexpected argument {arg:?}: configs are given as --a-b-c VALUE"
            ));
        };
        let (name, value) = match flag.split_once('=') {
            Some((n, v)) => (n.to_string(), v.to_string()),
            None => {
                let v = it.next().ok_or_else(|| format!("--{flag} needs a value"))?;
                (flag.to_string(), v.clone())
            }
        };
        if name.is_empty() {
            return Err(format!("bad flag {arg:?}"));
        }
        out.push((name.replace('-', "."), value));
    }
    Ok(out)
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown requested");
}

/// Run the broker in the foreground.
pub fn run(args: ServeArgs) -> Result<(), String> {
    init_logging();
    let flags = parse_config_flags(&args.configs)?;
    let env: Vec<(String, String)> = std::env::vars()
        // `WEIR_BIN` names the binary for tests and benchmarks; it is not a broker config.
        .filter(|(k, _)| k.starts_with("WEIR_") && k != "WEIR_BIN")
        .collect();
    let config = BrokerConfig::from_sources(args.config_file.as_deref(), &env, &flags)
        .map_err(|e| e.to_string())?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("weir")
        .build()
        .map_err(|e| format!("cannot start runtime: {e}"))?;
    rt.block_on(weir_broker::run(config, shutdown_signal()))
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_map_to_kafka_names() {
        let args: Vec<String> = [
            "--log-dirs",
            "/tmp/x",
            "--auto-create-topics-enable=false",
            "--node-id",
            "2",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            parse_config_flags(&args).unwrap(),
            vec![
                ("log.dirs".to_string(), "/tmp/x".to_string()),
                ("auto.create.topics.enable".to_string(), "false".to_string()),
                ("node.id".to_string(), "2".to_string()),
            ]
        );
        assert!(parse_config_flags(&["--node-id".to_string()]).is_err());
        let switch: Vec<String> = ["--authorizer", "--super-users", "User:admin"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            parse_config_flags(&switch).unwrap(),
            vec![
                (
                    "authorizer.class.name".to_string(),
                    STANDARD_AUTHORIZER.to_string()
                ),
                ("super.users".to_string(), "User:admin".to_string()),
            ]
        );
        assert!(parse_config_flags(&["stray".to_string()]).is_err());
    }
}
