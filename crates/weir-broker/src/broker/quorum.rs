//! The metadata-quorum member's configuration from the broker config: a single voter by
//! default, or `controller.quorum.voters` with Raft on the CONTROLLER listener. A node not in
//! `controller.quorum.voters` (broker-only, or a controller about to be added with AddRaftVoter)
//! joins as an observer (a Raft learner); once the log has a voter set, it wins over the config.

use weir_meta::raft::MetaConfig;

use crate::config::BrokerConfig;
use crate::error::BrokerError;

/// The metadata node's configuration and, in a cluster, its bound CONTROLLER listener (a
/// controller serves Raft on it; a broker-only node receives the metadata log on it).
pub async fn meta_setup(
    config: &BrokerConfig,
) -> Result<(MetaConfig, Option<tokio::net::TcpListener>), BrokerError> {
    let node = u64::try_from(config.node_id)
        .map_err(|_| BrokerError::Config(format!("node.id {} must be >= 0", config.node_id)))?;
    let voters_raw = config.controller_quorum_voters.trim();
    let mut meta = MetaConfig {
        node_id: node,
        dir: config.metadata_log_dir.clone().unwrap_or_else(|| {
            config
                .log_dirs
                .first()
                .cloned()
                .unwrap_or_default()
                .join("__cluster_metadata-0")
        }),
        voters: [(node, String::new())].into(),
        session_timeout_ms: config.broker_session_timeout_ms,
        unclean_leader_election: config.entries.iter().any(|e| {
            e.name == "unclean.leader.election.enable" && e.value.as_deref() == Some("true")
        }),
        learner_addr: None,
        transport: crate::controller_transport::controller_transport(config)?,
        auto_rebalance_interval_ms: config
            .auto_leader_rebalance
            .then_some(config.leader_imbalance_check_interval_ms),
    };
    if voters_raw.is_empty() {
        return Ok((meta, None));
    }
    meta.voters = weir_meta::raft::node::parse_voters(voters_raw)
        .map_err(|e| BrokerError::Config(format!("controller.quorum.voters: {e}")))?;
    let is_controller = config.process_roles.iter().any(|x| x == "controller");
    // A controller not in `controller.quorum.voters` is a new controller of a dynamic quorum
    // (KIP-853): it follows the log as an observer until AddRaftVoter makes it a voter.
    if !is_controller && meta.voters.contains_key(&node) {
        return Err(BrokerError::Config(format!(
            "node.id {node} is in controller.quorum.voters {voters_raw} but process.roles does \
             not include controller"
        )));
    }
    let l = config
        .listeners
        .iter()
        .find(|l| l.name.eq_ignore_ascii_case("CONTROLLER"))
        .ok_or_else(|| {
            BrokerError::Config(
                "a cluster node needs a CONTROLLER listener in listeners (broker-only nodes receive \
                 the metadata log on it)"
                    .into(),
            )
        })?;
    if !meta.voters.contains_key(&node) {
        meta.learner_addr = Some(format!("{}:{}", l.host, l.port));
    }
    let listener = tokio::net::TcpListener::bind((l.host.as_str(), l.port))
        .await
        .map_err(|e| {
            BrokerError::Config(format!(
                "cannot bind CONTROLLER://{}:{}: {e}",
                l.host, l.port
            ))
        })?;
    Ok((meta, Some(listener)))
}
