//! `weir cluster rolling-restart`: restart a cluster's nodes one at a time with a command the
//! operator gives (Weir does not manage remote processes: `systemctl restart weir@{id}`, an ssh
//! line, a script), waiting before each restart until the cluster is whole — every registered
//! broker unfenced, each of them answering for itself with no under-replicated or offline
//! partition, every metadata quorum voter holding the committed log — so that with replication
//! factor 3 and `min.insync.replicas=2` producers with `acks=all` never lose their quorum, and
//! the metadata quorum never loses its majority. Optionally elects preferred leaders at the end.

pub mod health;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use serde_json::json;

use self::health::Membership;

/// How often the cluster is asked whether it is whole again.
const POLL: Duration = Duration::from_millis(500);

/// `weir cluster ...`.
#[derive(Debug, Args)]
pub struct ClusterArgs {
    #[command(flatten)]
    bootstrap: super::admin::Bootstrap,
    #[command(subcommand)]
    command: ClusterCommand,
}

#[derive(Debug, Subcommand)]
enum ClusterCommand {
    /// Restart the nodes one by one with --restart-command, waiting before each restart (and
    /// after the last) until every broker is registered and unfenced, no partition is
    /// under-replicated or offline and every metadata quorum voter is caught up.
    RollingRestart(RollingRestartArgs),
}

/// Arguments of `weir cluster rolling-restart`.
#[derive(Debug, Args)]
struct RollingRestartArgs {
    /// Shell command (`sh -c`) that restarts one node, `{id}` replaced by its node id (also in
    /// the environment as WEIR_NODE_ID). It must return once the old process has exited
    /// (SIGTERM: controlled shutdown) and a new one was started, as `systemctl restart` does;
    /// a non-zero exit stops the rolling restart.
    #[arg(long, value_name = "COMMAND")]
    restart_command: String,
    /// Node ids in restart order, each a registered broker or a quorum voter (default: every
    /// one of them by id, the active controller last, so the metadata quorum changes leader
    /// once).
    #[arg(long, value_delimiter = ',', value_name = "ID,…")]
    nodes: Vec<i32>,
    /// Seconds to wait for the cluster to be whole before each restart and after it, and for
    /// the command itself.
    #[arg(long = "timeout", value_name = "SECONDS", default_value_t = 300)]
    timeout_secs: u64,
    /// At the end, elect preferred leaders (ElectLeaders PREFERRED on every partition) instead
    /// of leaving that to `auto.leader.rebalance.enable`.
    #[arg(long)]
    elect_preferred: bool,
    /// Print the plan and whether the cluster is whole now; restart nothing.
    #[arg(long)]
    dry_run: bool,
    /// One JSON document on stdout (the commands' output goes to stderr).
    #[arg(long)]
    json: bool,
}

/// Run `weir cluster`.
pub fn run(args: ClusterArgs) -> Result<(), String> {
    match args.command {
        ClusterCommand::RollingRestart(a) => rolling_restart(&args.bootstrap.server, a),
    }
}

/// One node's restart, for the report.
#[derive(Debug, Clone)]
struct Step {
    id: i32,
    command: String,
    /// How long the command ran.
    command_ms: u128,
    /// From the command's end until the cluster was whole again.
    rejoin_ms: u128,
}

fn rolling_restart(bootstrap: &str, a: RollingRestartArgs) -> Result<(), String> {
    let membership = health::membership(bootstrap)?;
    let order = restart_order(&membership, &a.nodes)?;
    let timeout = Duration::from_secs(a.timeout_secs);
    if a.dry_run {
        return dry_run(bootstrap, &a, &order);
    }
    let started = Instant::now();
    let mut steps = Vec::new();
    let result = (|| {
        wait_whole(bootstrap, timeout, a.json, "before the first restart")?;
        for &id in &order {
            let command = substitute(&a.restart_command, id);
            if !a.json {
                println!("node {id}: restarting: {command}");
            }
            let t = Instant::now();
            run_command(&command, id, timeout, a.json).map_err(|e| format!("node {id}: {e}"))?;
            let command_ms = t.elapsed().as_millis();
            let t = Instant::now();
            wait_whole(bootstrap, timeout, a.json, &format!("after node {id}"))?;
            let rejoin_ms = t.elapsed().as_millis();
            if !a.json {
                println!(
                    "node {id}: back (command {:.1}s, whole again after {:.1}s)",
                    command_ms as f64 / 1000.0,
                    rejoin_ms as f64 / 1000.0
                );
            }
            steps.push(Step {
                id,
                command,
                command_ms,
                rejoin_ms,
            });
        }
        Ok::<_, String>(())
    })();
    let elected = match (&result, a.elect_preferred) {
        (Ok(()), true) => Some(health::elect_preferred(bootstrap)),
        _ => None,
    };
    let not_preferred = health::membership(bootstrap)
        .ok()
        .and_then(|m| m.brokers.iter().find(|b| !b.fenced).cloned())
        .and_then(|b| health::partition_health(&b.address).ok())
        .map(|h| h.not_preferred);
    let error = match (&result, &elected) {
        (Err(e), _) | (Ok(()), Some(Err(e))) => Some(e.clone()),
        _ => None,
    };
    if a.json {
        let nodes: Vec<_> = steps
            .iter()
            .map(|s| {
                json!({"id": s.id, "command": s.command, "command_ms": s.command_ms,
                       "rejoin_ms": s.rejoin_ms})
            })
            .collect();
        println!(
            "{}",
            json!({
                "dry_run": false,
                "order": order,
                "restarted": nodes,
                "elapsed_ms": started.elapsed().as_millis(),
                "preferred_elected": elected.as_ref().and_then(|e| e.as_ref().ok()),
                "not_preferred_partitions": not_preferred,
                "error": error,
            })
        );
    } else if error.is_none() {
        println!(
            "{} node(s) restarted in {:.1}s",
            steps.len(),
            started.elapsed().as_secs_f64()
        );
        if let Some(Ok(n)) = elected {
            println!("preferred leader election: {n} partition(s) changed leader");
        }
        match not_preferred {
            Some(0) => println!("every partition is led by its preferred replica"),
            Some(n) => println!(
                "{n} partition(s) not led by their preferred replica yet \
                 (auto.leader.rebalance.enable moves them back, or use --elect-preferred)"
            ),
            None => {}
        }
    }
    match error {
        Some(e) => Err(format!(
            "rolling restart stopped after {} of {} node(s): {e}",
            steps.len(),
            order.len()
        )),
        None => Ok(()),
    }
}

/// `--nodes` as given (each a registered broker or a voter, none twice), or every registered
/// broker and voter by id with the active controller last.
fn restart_order(m: &Membership, nodes: &[i32]) -> Result<Vec<i32>, String> {
    let mut ids: Vec<i32> = m
        .brokers
        .iter()
        .map(|b| b.id)
        .chain(m.voters.clone())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Err("the cluster lists no registered broker".into());
    }
    if !nodes.is_empty() {
        let mut seen = Vec::new();
        for &id in nodes {
            if !ids.contains(&id) {
                return Err(format!(
                    "node {id} is neither a registered broker nor a quorum voter"
                ));
            }
            if seen.contains(&id) {
                return Err(format!("node {id} is listed twice in --nodes"));
            }
            seen.push(id);
        }
        return Ok(seen);
    }
    ids.sort_by_key(|&id| (id == m.active_controller, id));
    Ok(ids)
}

/// The command for node `id`: every `{id}` replaced.
fn substitute(command: &str, id: i32) -> String {
    command.replace("{id}", &id.to_string())
}

fn dry_run(bootstrap: &str, a: &RollingRestartArgs, order: &[i32]) -> Result<(), String> {
    let state = health::not_ready(bootstrap)?;
    let commands: Vec<String> = order
        .iter()
        .map(|&id| substitute(&a.restart_command, id))
        .collect();
    if a.json {
        let nodes: Vec<_> = order
            .iter()
            .zip(&commands)
            .map(|(id, c)| json!({"id": id, "command": c}))
            .collect();
        println!(
            "{}",
            json!({"dry_run": true, "order": order, "plan": nodes,
                   "whole": state.is_none(), "not_whole_because": state})
        );
        return Ok(());
    }
    match &state {
        None => println!(
            "cluster is whole: every broker unfenced, no partition under-replicated, \
             the metadata quorum caught up"
        ),
        Some(why) => println!("cluster is not whole now ({why}); a restart would wait for it"),
    }
    for (id, c) in order.iter().zip(&commands) {
        println!("would restart node {id}: {c}");
    }
    Ok(())
}

/// Wait until [`health::not_ready`] says the cluster is whole; errors of the requests count as
/// "not yet" (the bootstrap server may be the node that is restarting).
fn wait_whole(bootstrap: &str, timeout: Duration, quiet: bool, when: &str) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    let mut last = String::new();
    loop {
        let why = match health::not_ready(bootstrap) {
            Ok(None) => return Ok(()),
            Ok(Some(why)) => why,
            Err(e) => e,
        };
        if Instant::now() >= deadline {
            return Err(format!(
                "the cluster was not whole {when} within {}s: {why}",
                timeout.as_secs()
            ));
        }
        if !quiet && why != last {
            println!("  waiting: {why}");
            last = why;
        }
        std::thread::sleep(POLL);
    }
}

/// Run `command` with `sh -c` (stdout to stderr when `quiet`, so a JSON report stays alone on
/// stdout), killing it after `timeout`.
fn run_command(command: &str, id: i32, timeout: Duration, quiet: bool) -> Result<(), String> {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(command)
        .env("WEIR_NODE_ID", id.to_string())
        .stdin(Stdio::null());
    if quiet {
        use std::os::fd::AsFd;
        let err = std::io::stderr()
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| format!("cannot pass stderr to the command: {e}"))?;
        cmd.stdout(Stdio::from(err));
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run the restart command: {e}"))?;
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => return Err(format!("the restart command failed ({status})")),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "the restart command did not finish within {}s (killed)",
                    timeout.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return Err(format!("waiting for the restart command: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::health::Broker;
    use super::*;

    fn members(ids: &[i32], voters: &[i32], controller: i32) -> Membership {
        Membership {
            brokers: ids
                .iter()
                .map(|&id| Broker {
                    id,
                    address: format!("127.0.0.1:{}", 9000 + id),
                    fenced: false,
                })
                .collect(),
            voters: voters.to_vec(),
            active_controller: controller,
        }
    }

    #[test]
    fn default_order_restarts_the_active_controller_last() {
        let combined = members(&[1, 2, 3], &[1, 2, 3], 2);
        assert_eq!(restart_order(&combined, &[]), Ok(vec![1, 3, 2]));
        assert_eq!(
            restart_order(&members(&[1, 2, 3], &[], -1), &[]),
            Ok(vec![1, 2, 3])
        );
        // Controller-only voters 7 and 8 (8 active) and brokers 1, 2.
        let split = members(&[1, 2], &[7, 8], 8);
        assert_eq!(restart_order(&split, &[]), Ok(vec![1, 2, 7, 8]));
    }

    #[test]
    fn given_order_is_checked() {
        let m = members(&[1, 2, 3], &[4], 1);
        assert_eq!(restart_order(&m, &[3, 4, 1]), Ok(vec![3, 4, 1]));
        assert!(restart_order(&m, &[5])
            .unwrap_err()
            .contains("neither a registered broker nor a quorum voter"));
        assert!(restart_order(&m, &[1, 1]).unwrap_err().contains("twice"));
        assert!(restart_order(&members(&[], &[], -1), &[]).is_err());
    }

    #[test]
    fn ids_are_substituted() {
        assert_eq!(
            substitute("ssh n{id} systemctl restart weir@{id}", 7),
            "ssh n7 systemctl restart weir@7"
        );
    }
}
