//! `weir serve`: parse Kafka-named flags, set up logging, run the broker until SIGTERM/Ctrl-C.

use std::path::PathBuf;

use weir_broker::config::ops::parse_log_format;
use weir_broker::config::LogFormat;
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

/// Log targets quieter than the default `info`: Raft internals stay silent unless `RUST_LOG`
/// asks (openraft logs whole state structs at INFO and an ERROR per failed RPC while a peer is
/// down; Weir logs what matters itself: a peer that stops answering and answers again, a failed
/// metadata log), and the HTTP stack only shows warnings.
const DEFAULT_LOG_FILTER: &str = "info,openraft=off,hyper=warn,axum=warn,tower=warn";

/// The log filter: [`DEFAULT_LOG_FILTER`] with `RUST_LOG`'s directives on top (a target named in
/// `RUST_LOG`, or a global level, overrides the default for it).
fn log_filter(rust_log: Option<&str>) -> tracing_subscriber::EnvFilter {
    let directives = match rust_log.map(str::trim) {
        Some(extra) if !extra.is_empty() => format!("{DEFAULT_LOG_FILTER},{extra}"),
        _ => DEFAULT_LOG_FILTER.to_string(),
    };
    tracing_subscriber::EnvFilter::try_new(&directives)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG_FILTER))
}

/// `log.format` from the flags, else `WEIR_LOG_FORMAT`, else the config file, else text. Read
/// before the configuration proper so that its warnings are already formatted as asked.
fn log_format(
    file: Option<&std::path::Path>,
    env: &[(String, String)],
    flags: &[(String, String)],
) -> Result<LogFormat, String> {
    let from_file = file
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|text| {
            weir_broker::config::parse::parse_properties(&text)
                .into_iter()
                .rev()
                .find(|(k, _)| k == "log.format")
                .map(|(_, v)| v)
        });
    let value = flags
        .iter()
        .rev()
        .find(|(k, _)| k == "log.format")
        .map(|(_, v)| v.clone())
        .or_else(|| {
            env.iter()
                .find(|(k, _)| k == "WEIR_LOG_FORMAT")
                .map(|(_, v)| v.clone())
        })
        .or(from_file)
        .unwrap_or_else(|| "text".into());
    parse_log_format(&value).map_err(|e| e.to_string())
}

fn init_logging(format: LogFormat) {
    let filter = log_filter(std::env::var("RUST_LOG").ok().as_deref());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
    }
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

/// Raise the soft `RLIMIT_NOFILE` to the hard limit, as Kafka's JVM does at start
/// (`-XX:+MaxFDLimit`): every partition's active segment, the other segments read recently and
/// every connection need a descriptor. `log.max.open.files` defaults to half of the result.
fn raise_nofile_limit() {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) } != 0 {
        tracing::debug!(error = %std::io::Error::last_os_error(), "cannot read RLIMIT_NOFILE");
        return;
    }
    let before = rl.rlim_cur;
    if rl.rlim_cur < rl.rlim_max {
        rl.rlim_cur = rl.rlim_max;
        // SAFETY: as above.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &rl) } != 0 {
            tracing::debug!(error = %std::io::Error::last_os_error(), soft = before, hard = rl.rlim_max, "cannot raise RLIMIT_NOFILE");
            return;
        }
    }
    tracing::debug!(
        soft_before = before,
        soft = rl.rlim_cur,
        hard = rl.rlim_max,
        "open file limit (RLIMIT_NOFILE)"
    );
}

/// Run the broker in the foreground.
pub fn run(args: ServeArgs) -> Result<(), String> {
    let flags = parse_config_flags(&args.configs)?;
    let env: Vec<(String, String)> = std::env::vars()
        // `WEIR_BIN` names the binary for tests and benchmarks; it is not a broker config.
        .filter(|(k, _)| k.starts_with("WEIR_") && k != "WEIR_BIN")
        .collect();
    init_logging(log_format(args.config_file.as_deref(), &env, &flags)?);
    raise_nofile_limit();
    let config = BrokerConfig::from_sources(args.config_file.as_deref(), &env, &flags)
        .map_err(|e| e.to_string())?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("weir")
        .build()
        .map_err(|e| format!("cannot start runtime: {e}"))?;
    rt.block_on(serve(config))
}

/// Start the HTTP admin side (it answers `/health` while the broker opens), open the broker,
/// bind the client listeners and serve until SIGTERM/Ctrl-C.
async fn serve(config: BrokerConfig) -> Result<(), String> {
    let slot = weir_http::BrokerSlot::default();
    weir_http::start(&config.ops, slot.clone()).await?;
    let broker = weir_broker::Broker::open(config)
        .await
        .map_err(|e| e.to_string())?;
    let _ = slot.set(broker.clone());
    let listeners = weir_broker::server::bind_listeners(&broker.config)
        .await
        .map_err(|e| e.to_string())?;
    weir_broker::server::run_with_listeners(broker, listeners, shutdown_signal())
        .await
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

    #[test]
    fn log_format_flag_beats_env_and_is_checked() {
        let flag = vec![("log.format".to_string(), "json".to_string())];
        let env = vec![("WEIR_LOG_FORMAT".to_string(), "text".to_string())];
        assert_eq!(log_format(None, &env, &flag).unwrap(), LogFormat::Json);
        assert_eq!(log_format(None, &env, &[]).unwrap(), LogFormat::Text);
        assert_eq!(log_format(None, &[], &[]).unwrap(), LogFormat::Text);
        let bad = vec![("log.format".to_string(), "xml".to_string())];
        assert!(log_format(None, &[], &bad).is_err());
    }
}
