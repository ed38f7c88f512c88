//! One cluster id per cluster: before any client listener is bound, a node learns the id the
//! metadata quorum agreed on (the `SetClusterId` record the Raft leader proposes when the image
//! has none: its formatted `cluster.id`, or a fresh one) and reconciles its `meta.properties`
//! with it: an unformatted dir is formatted with it, a dir formatted for another cluster is
//! refused before any partition log is opened.

use std::path::Path;
use std::time::Duration;

use tracing::{info, warn};
use weir_meta::raft::{MetaConfig, MetaNode};
use weir_meta::MetadataRecord;

use super::properties::{new_cluster_id, MetaProperties, META_PROPERTIES};
use crate::error::BrokerError;

/// How long a starting node waits for the quorum to agree on a cluster id (a majority of the
/// voters must be up).
pub const CLUSTER_ID_TIMEOUT: Duration = Duration::from_secs(60);

/// How long each running voter gets to tell a starting node its cluster id.
const PEER_ASK_TIMEOUT: Duration = Duration::from_secs(2);

/// Before this node joins the quorum (and writes anything into its metadata log): refuse a dir
/// formatted for another cluster than the one the running voters know.
pub async fn precheck(
    meta: &MetaConfig,
    local: Option<&MetaProperties>,
    log_dir: &Path,
) -> Result<(), BrokerError> {
    let Some(local) = local.filter(|m| !m.is_legacy()) else {
        return Ok(());
    };
    let peers = MetaNode::peer_cluster_ids(
        &meta.voters,
        meta.node_id,
        &meta.transport,
        PEER_ASK_TIMEOUT,
    )
    .await;
    match peers.iter().find(|(_, id)| *id != local.cluster_id) {
        Some((peer, id)) => Err(mismatch(
            log_dir,
            &local.cluster_id,
            id,
            &format!("voter {peer}"),
        )),
        None => Ok(()),
    }
}

/// Wait (at most [`CLUSTER_ID_TIMEOUT`]) until the quorum's image has a cluster id, proposing
/// this node's (`local`'s, or a fresh one) whenever it leads (at once when it is the only
/// voter); then format an unformatted dir
/// with it, or refuse a dir formatted for another cluster. Returns the cluster id.
pub async fn agree(
    quorum: &MetaNode,
    sole_voter: bool,
    local: Option<MetaProperties>,
    log_dir: &Path,
    node_id: i32,
) -> Result<String, BrokerError> {
    let proposed = local
        .as_ref()
        .map(|m| m.cluster_id.clone())
        .unwrap_or_else(new_cluster_id);
    quorum.propose_cluster_id(proposed.clone());
    if sole_voter && quorum.image().cluster_id.is_none() {
        // The sole voter elects itself: propose at once rather than on the controller's tick.
        quorum.wait_for_leader(Duration::from_secs(10)).await;
        let set = MetadataRecord::SetClusterId { id: proposed };
        if let Err(e) = quorum.propose(vec![set]).await {
            warn!(error = %e, "proposing the cluster id failed; waiting for the controller");
        }
    }
    let agreed = await_cluster_id(quorum).await?;
    match local {
        None => {
            MetaProperties::new(node_id, &agreed).write(log_dir)?;
            info!(cluster_id = %agreed, "formatted log dir {}", log_dir.display());
        }
        Some(m) if m.cluster_id == agreed => {}
        Some(m) if m.is_legacy() => {
            warn!(
                old = %m.cluster_id, cluster_id = %agreed,
                "meta.properties written by an older Weir: taking the quorum's cluster id"
            );
            MetaProperties::new(node_id, &agreed).write(log_dir)?;
        }
        Some(m) => {
            return Err(mismatch(
                log_dir,
                &m.cluster_id,
                &agreed,
                "the metadata quorum",
            ))
        }
    }
    Ok(agreed)
}

/// After [`agree`] on the first log dir: give every other entry of `log.dirs` this node's
/// `meta.properties` (its own `directory.id`), as `weir format` does; a dir formatted for another
/// node or cluster is refused. A dir that cannot be read or written is left to the log manager,
/// which keeps it offline (as Kafka starts without a failed log dir).
pub fn format_other_dirs(
    dirs: &[std::path::PathBuf],
    cluster_id: &str,
    node_id: i32,
) -> Result<(), BrokerError> {
    for dir in dirs {
        let prepared = std::fs::create_dir_all(dir)
            .map_err(BrokerError::from)
            .and_then(|()| super::properties::read_for_node(dir, node_id));
        match prepared {
            Ok(None) => {
                if let Err(e) = MetaProperties::new(node_id, cluster_id).write(dir) {
                    warn!(dir = %dir.display(), error = %e, "cannot format a log dir; it stays offline");
                }
            }
            Ok(Some(m)) if m.cluster_id == cluster_id => {}
            Ok(Some(m)) if m.is_legacy() => {
                MetaProperties::new(node_id, cluster_id).write(dir)?;
            }
            Ok(Some(m)) => {
                return Err(mismatch(dir, &m.cluster_id, cluster_id, "log.dirs[0]"));
            }
            Err(BrokerError::Config(e)) => return Err(BrokerError::Config(e)),
            Err(e) => {
                warn!(dir = %dir.display(), error = %e, "cannot read a log dir; it stays offline")
            }
        }
    }
    Ok(())
}

async fn await_cluster_id(quorum: &MetaNode) -> Result<String, BrokerError> {
    let mut rx = quorum.subscribe();
    let deadline = tokio::time::Instant::now() + CLUSTER_ID_TIMEOUT;
    loop {
        if let Some(id) = rx.borrow_and_update().cluster_id.clone() {
            return Ok(id);
        }
        match tokio::time::timeout_at(deadline, rx.changed()).await {
            Ok(Ok(())) => {}
            _ => {
                return Err(BrokerError::Config(format!(
                    "the metadata quorum agreed on no cluster id within {} s (is a majority of \
                     controller.quorum.voters running?)",
                    CLUSTER_ID_TIMEOUT.as_secs()
                )))
            }
        }
    }
}

fn mismatch(log_dir: &Path, local: &str, cluster: &str, whom: &str) -> BrokerError {
    BrokerError::Config(format!(
        "cluster id mismatch: {} has cluster.id={local} but {whom} has cluster id {cluster}; this \
         log dir belongs to another cluster, refusing to start (no partition log was opened)",
        log_dir.join(META_PROPERTIES).display()
    ))
}
