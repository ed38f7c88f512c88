//! `weir format` and `weir random-uuid`, like `kafka-storage.sh format` / `random-uuid`: write a
//! log dir's `meta.properties` for a cluster id chosen up front, so that every node of a cluster
//! starts with the same id (unformatted nodes of a quorum also agree on one by themselves).

use std::path::PathBuf;

use weir_broker::broker::properties::{format, random_uuid, Formatted};
use weir_broker::BrokerConfig;

use super::serve::parse_config_flags;

/// Arguments of `weir format`.
#[derive(Debug, clap::Args)]
pub struct FormatArgs {
    /// The cluster id (22 characters of base64url, e.g. from `weir random-uuid`).
    #[arg(short = 't', long = "cluster-id", value_name = "ID")]
    cluster_id: Option<String>,
    /// Accept a log dir that is already formatted with this cluster id and node id.
    #[arg(short = 'g', long = "ignore-formatted")]
    ignore_formatted: bool,
    /// A Kafka-format properties file (`node.id`, `log.dirs`, …), as for `weir serve`.
    #[arg(short = 'c', long = "config-file", value_name = "FILE")]
    config_file: Option<PathBuf>,
    /// Broker configs as for `weir serve` (`--node-id N --log-dirs DIR`, …).
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "--CONFIG VALUE"
    )]
    configs: Vec<String>,
}

/// Take `--cluster-id ID` / `--cluster-id=ID` and `--ignore-formatted` out of the trailing
/// configs (where clap leaves them when they follow a serve flag).
fn take_own_flags(args: &mut FormatArgs) -> Result<(), String> {
    let mut rest = Vec::new();
    let mut it = std::mem::take(&mut args.configs).into_iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--ignore-formatted" | "-g" => args.ignore_formatted = true,
            "--cluster-id" | "-t" => {
                args.cluster_id = Some(it.next().ok_or("--cluster-id needs a value")?);
            }
            _ => match a.strip_prefix("--cluster-id=") {
                Some(id) => args.cluster_id = Some(id.to_string()),
                None => rest.push(a),
            },
        }
    }
    args.configs = rest;
    Ok(())
}

/// Run `weir format`: write `meta.properties` into the configured log dir.
pub fn run(mut args: FormatArgs) -> Result<(), String> {
    take_own_flags(&mut args)?;
    let cluster_id = args
        .cluster_id
        .ok_or("--cluster-id ID is required (`weir random-uuid` makes one)")?;
    let flags = parse_config_flags(&args.configs)?;
    let env: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| k.starts_with("WEIR_"))
        .collect();
    let config = BrokerConfig::from_sources(args.config_file.as_deref(), &env, &flags)
        .map_err(|e| e.to_string())?;
    if config.log_dirs.is_empty() {
        return Err("log.dirs must name at least one directory".into());
    }
    // Every log dir gets its own meta.properties (same node and cluster, its own directory.id).
    for dir in &config.log_dirs {
        match format(dir, &cluster_id, config.node_id, args.ignore_formatted)
            .map_err(|e| e.to_string())?
        {
            Formatted::Written(path) => println!(
                "Formatted {} with cluster.id {} for node.id {}",
                path.display(),
                cluster_id,
                config.node_id
            ),
            Formatted::AlreadyFormatted(path) => {
                println!("{} is already formatted; left as it is", path.display())
            }
        }
    }
    Ok(())
}

/// Run `weir random-uuid`: print a fresh Kafka-style uuid (for `weir format --cluster-id`).
pub fn run_random_uuid() -> Result<(), String> {
    println!("{}", random_uuid());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_flags_are_found_after_serve_flags() {
        let mut a = FormatArgs {
            cluster_id: None,
            ignore_formatted: false,
            config_file: None,
            configs: [
                "--node-id",
                "2",
                "--cluster-id",
                "X",
                "--ignore-formatted",
                "--log-dirs=d",
            ]
            .map(String::from)
            .to_vec(),
        };
        take_own_flags(&mut a).unwrap();
        assert_eq!(a.cluster_id.as_deref(), Some("X"));
        assert!(a.ignore_formatted);
        assert_eq!(a.configs, vec!["--node-id", "2", "--log-dirs=d"]);
    }
}
