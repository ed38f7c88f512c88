//! Start-up wiring: [`Broker::open`] builds every service once, in dependency order, starts
//! their background tasks, and hands them out as `Arc`s. `Broker` holds nothing but those
//! `Arc`s, the configuration and the cluster id; it has no behaviour of its own.
//!
//! Services and what they depend on (none refers back to `Broker` or to a service above it):
//! `MetadataView` (the image) ← `ReplicaManager` (logs, replication) ← `MetadataApplier`
//! (applies images to logs, replicas, coordinators) ← `TopicAdmin` (metadata proposals) ←
//! coordinators (`GroupCoordinator` on the coordinator runtime, `ProducerIdManager`) and
//! `Lifecycle` (registration, heartbeats, controlled shutdown).

pub mod cluster_id;
pub mod properties;
pub mod quorum;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tracing::{info, warn};
use weir_coordinator::SystemClock;
use weir_group_coordinator::GroupCoordinator;
use weir_log::{LogManager, OpenOptions, TopicPartition};
use weir_meta::raft::MetaNode;

use crate::admin::topics::{TopicAdmin, TopicDefaults};
use crate::applier::MetadataApplier;
use crate::config::BrokerConfig;
use crate::coordinators::group_topics::GroupTopics;
use crate::coordinators::internal_topic::{InternalTopic, TopicSpec};
use crate::coordinators::markers::{BrokerMarkerWriter, LocalMarkers};
use crate::coordinators::ownership::GroupOwnership;
use crate::coordinators::producer_ids::ProducerIdManager;
use crate::coordinators::share_state::ShareStateOwnership;
use crate::coordinators::transactions::{GroupPartitioner, TxnOwnership};
use crate::coordinators::verification::TxnVerifier;
use crate::error::BrokerError;
use crate::fetch_sessions::FetchSessionCache;
use crate::inter_broker::BrokerConnector;
use crate::lifecycle::Lifecycle;
use crate::metadata::view::{MetadataView, NodeIdentity};
use crate::peers::PeerClient;
use crate::quota::QuotaManager;
use crate::replica::manager::{ReplicaManager, ReplicaSettings};
use crate::share::groups::ShareGroupCoordinator;
use crate::share::manager::SharePartitionManager;
use weir_txn_coordinator::{TxnCoordinator, TxnServices};

/// The services of one broker process, built by [`Broker::open`].
#[derive(Debug)]
pub struct Broker {
    /// Effective configuration.
    pub config: Arc<BrokerConfig>,
    /// Cluster id, agreed through the metadata quorum and persisted in
    /// `<log_dir>/meta.properties` (see [`cluster_id`]).
    pub cluster_id: String,
    /// This node's metadata-quorum member (and, while Raft leader, the active controller).
    pub quorum: Arc<MetaNode>,
    /// Read-only answers from the metadata image.
    pub view: Arc<MetadataView>,
    /// Partition logs and their replication.
    pub replicas: Arc<ReplicaManager>,
    /// Applies metadata images to local state.
    pub applier: Arc<MetadataApplier>,
    /// Topic administration through the metadata quorum.
    pub admin: Arc<TopicAdmin>,
    /// Registration, heartbeats and controlled shutdown.
    pub lifecycle: Arc<Lifecycle>,
    /// The consumer-group coordinator.
    pub groups: Arc<GroupCoordinator>,
    /// Producer id allocation for idempotent producers.
    pub producer_ids: Arc<ProducerIdManager>,
    /// The transaction coordinator (`__transaction_state`).
    pub txn: Arc<TxnCoordinator>,
    /// Transaction markers written to partitions this broker leads.
    pub markers: Arc<LocalMarkers>,
    /// Requests to other brokers (markers, KIP-890 verification).
    pub peers: Arc<PeerClient>,
    /// KIP-890 verification of transactional writes.
    pub verifier: Arc<TxnVerifier>,
    /// KIP-227 fetch sessions.
    pub fetch_sessions: Arc<FetchSessionCache>,
    /// Share-group membership (KIP-932), for the groups this broker coordinates.
    pub share_groups: Arc<ShareGroupCoordinator>,
    /// Share-partitions this broker leads, share sessions, and their persisted state.
    pub share: Arc<SharePartitionManager>,
    /// Client quota sensors and throttled connections.
    pub quotas: Arc<QuotaManager>,
}

impl Broker {
    /// Open the broker: create the log dir, read `meta.properties`, start this node's
    /// metadata-quorum member (single voter by default; `controller.quorum.voters` for a cluster,
    /// Raft RPC on the CONTROLLER listener), wait until the quorum has a cluster id and reconcile
    /// `meta.properties` with it (refusing a dir of another cluster), open the log manager, build the services, move a
    /// pre-Raft topic table onto the metadata log, apply the current image (opening the
    /// partitions this node replicates and loading the coordinators' partitions it leads), and
    /// start the background tasks. Fails if `meta.properties` names another node id or cluster, if
    /// no cluster id is agreed within [`cluster_id::CLUSTER_ID_TIMEOUT`], or if another entry of
    /// `log.dirs` belongs to another node or cluster. The first log dir holds the node's
    /// identity and per-node files; partitions are spread over every dir (JBOD).
    pub async fn open(config: BrokerConfig) -> Result<Arc<Broker>, BrokerError> {
        // Bad keys or trust stores stop the start before anything is opened.
        crate::tls_config::check_listeners(&config.security)?;
        let log_dir = match config.log_dirs.as_slice() {
            [first, ..] => first.clone(),
            [] => return Err(BrokerError::Config("log.dirs is empty".into())),
        };
        std::fs::create_dir_all(&log_dir)?;
        let local = properties::read_for_node(&log_dir, config.node_id)?;
        let (meta_config, listener) = quorum::meta_setup(&config).await?;
        cluster_id::precheck(&meta_config, local.as_ref(), &log_dir).await?;
        let single = meta_config.voters.len() == 1;
        let sole_voter = single && meta_config.learner_addr.is_none();
        let role = match (sole_voter, meta_config.learner_addr.is_none()) {
            (true, _) => "sole voter",
            (false, true) => "voter",
            (false, false) => "observer",
        };
        let quorum = MetaNode::start(meta_config, listener).await?;
        let cluster_id =
            match cluster_id::agree(&quorum, sole_voter, local, &log_dir, config.node_id).await {
                Ok(id) => id,
                Err(e) => {
                    quorum.shutdown().await;
                    return Err(e);
                }
            };
        info!(
            "joined the metadata quorum as node {} ({role}) of cluster {cluster_id}",
            config.node_id
        );
        let clock = Arc::new(SystemClock);
        if let Err(e) =
            cluster_id::format_other_dirs(&config.log_dirs[1..], &cluster_id, config.node_id)
        {
            quorum.shutdown().await;
            return Err(e);
        }
        let max_open_files = config.ops.max_open_files();
        let logs = LogManager::open_dirs_with_options(
            &config.log_dirs,
            clock.clone(),
            OpenOptions {
                max_open_files,
                verify: config.ops.startup_verify,
            },
        )?;
        tracing::debug!(
            max_open_files,
            rlimit_nofile = ?weir_log::fd_cache::nofile_limit(),
            "segment file cache size (log.max.open.files)"
        );
        let config = Arc::new(config);
        let view = Arc::new(MetadataView::new(quorum.clone(), identity(&config)));
        let connector = Arc::new(BrokerConnector::new(
            &config.security.inter_broker,
            !config.controller_quorum_voters.trim().is_empty(),
        ));
        let replicas = Arc::new(ReplicaManager::new(
            ReplicaSettings {
                node_id: config.node_id,
                min_insync_replicas: config.min_insync_replicas,
                replication: config.replication.clone(),
                connector: connector.clone(),
            },
            logs,
            view.clone(),
            quorum.clone(),
        ));
        let applier = Arc::new(MetadataApplier::new(
            config.clone(),
            view.clone(),
            replicas.clone(),
        ));
        let admin = Arc::new(TopicAdmin::new(
            quorum.clone(),
            view.clone(),
            applier.clone(),
            TopicDefaults {
                num_partitions: config.num_partitions,
                replication_factor: config.default_replication_factor,
            },
        ));
        let offsets = Arc::new(InternalTopic::new(
            weir_group_coordinator::OFFSETS_TOPIC,
            TopicSpec::consumer_offsets(&config.groups),
            replicas.clone(),
            view.clone(),
            admin.clone(),
            clock.clone(),
        ));
        let groups = Arc::new(GroupCoordinator::new(
            config.groups.clone(),
            offsets.clone(),
            offsets,
            clock.clone(),
            Arc::new(GroupTopics::new(view.clone())),
        ));
        applier.register_coordinator(Arc::new(GroupOwnership::new(
            config.node_id,
            groups.clone(),
        )));
        let producer_ids = Arc::new(ProducerIdManager::open(
            &log_dir,
            quorum.clone(),
            config.node_id,
        )?);
        let peers = Arc::new(PeerClient::new(
            view.clone(),
            connector,
            format!("weir-broker-{}", config.node_id),
        ));
        let offsets_hook = groups.clone();
        let markers = Arc::new(LocalMarkers::new(
            replicas.clone(),
            Arc::new(move |partition, producer_id, commit| {
                // NOT_COORDINATOR / loading: the next load replays the marker from the log.
                if let Err(e) = offsets_hook.complete_transaction(partition, producer_id, commit) {
                    tracing::debug!(partition, producer_id, error = %e, "transactional offsets left to the next load");
                }
            }),
        ));
        let txn_state = Arc::new(InternalTopic::new(
            weir_txn_coordinator::TRANSACTION_STATE_TOPIC,
            TopicSpec::transaction_state(&config.transactions),
            replicas.clone(),
            view.clone(),
            admin.clone(),
            clock.clone(),
        ));
        let txn = Arc::new(TxnCoordinator::new(
            config.transactions.clone(),
            txn_state.clone(),
            txn_state,
            clock.clone(),
            TxnServices {
                producer_ids: producer_ids.clone(),
                markers: Arc::new(BrokerMarkerWriter::new(
                    view.clone(),
                    markers.clone(),
                    peers.clone(),
                )),
                offsets: Arc::new(GroupPartitioner::new(
                    groups.clone(),
                    config.groups.offsets_topic_partitions,
                )),
            },
        ));
        applier.register_coordinator(Arc::new(TxnOwnership::new(config.node_id, txn.clone())));
        let verifier = Arc::new(TxnVerifier::new(
            view.clone(),
            replicas.clone(),
            txn.clone(),
            peers.clone(),
            config.transaction_partition_verification,
        ));
        let share_state_topic = Arc::new(InternalTopic::new(
            weir_share_coordinator::SHARE_GROUP_STATE_TOPIC,
            TopicSpec::share_group_state(&config.share.coordinator),
            replicas.clone(),
            view.clone(),
            admin.clone(),
            clock.clone(),
        ));
        let share_state = Arc::new(weir_share_coordinator::ShareStateCoordinator::new(
            config.share.coordinator.clone(),
            share_state_topic.clone(),
            share_state_topic,
            clock.clone(),
        ));
        applier.register_coordinator(Arc::new(ShareStateOwnership::new(
            config.node_id,
            share_state.clone(),
        )));
        let share_groups = Arc::new(ShareGroupCoordinator::new(
            groups.clone(),
            view.clone(),
            config.share.clone(),
            clock.clone(),
        ));
        let share = Arc::new(SharePartitionManager::new(
            replicas.clone(),
            view.clone(),
            admin.clone(),
            crate::share::persister::Persister::new(share_state, view.clone(), peers.clone()),
            config.share.clone(),
            clock.clone(),
        ));
        let lifecycle = Arc::new(Lifecycle::new(
            quorum.clone(),
            view.clone(),
            replicas.clone(),
            applier.clone(),
            Duration::from_millis(config.broker_heartbeat_interval_ms),
            config.replication.controlled_shutdown,
        ));
        let quotas = Arc::new(QuotaManager::new(view.clone(), config.quota_window));
        let broker = Arc::new(Broker {
            config,
            cluster_id,
            quorum,
            view,
            replicas,
            applier,
            admin,
            lifecycle,
            groups,
            producer_ids,
            txn,
            markers,
            peers,
            verifier,
            fetch_sessions: Arc::new(FetchSessionCache::default()),
            share_groups,
            share,
            quotas,
        });
        if single {
            // The sole voter elects itself; topics and registration are available at once.
            broker
                .quorum
                .wait_for_leader(Duration::from_secs(10))
                .await
                .ok_or_else(|| {
                    BrokerError::Config("metadata quorum of one did not elect itself".into())
                })?;
            broker.lifecycle.migrate_legacy_topics(&log_dir).await?;
            // A dedicated controller (process.roles=controller) hosts no partitions.
            if broker.view.is_broker() {
                broker.lifecycle.register().await?;
            }
        }
        // A node registered above heartbeats while its logs open: opening thousands of
        // partitions can outlast `broker.session.timeout.ms` (the controller gives every broker
        // one session from its election), and a missed session fences the node just after it
        // started (every leadership moves and comes back, every epoch is written twice).
        let heartbeat_early = single && broker.view.is_broker();
        if heartbeat_early {
            tokio::spawn(broker.lifecycle.clone().heartbeat_loop());
        }
        let image = broker.applier.apply_latest()?;
        warn_about_stray_dirs(broker.replicas.logs());
        info!(topics = image.topics.len(), "topic metadata loaded");
        broker.replicas.ensure_fetchers();
        tokio::spawn(broker.applier.clone().follow());
        if !heartbeat_early {
            tokio::spawn(broker.lifecycle.clone().heartbeat_loop());
        }
        tokio::spawn(crate::replica::isr::shrink_loop(broker.replicas.clone()));
        tokio::spawn(broker.replicas.clone().repair_loop());
        let replicas = broker.replicas.clone();
        crate::replica::damage_repair::start_verifier(
            broker.replicas.logs().clone(),
            Arc::new(move || replicas.is_shutting_down()),
        )?;
        Ok(broker)
    }
}

/// This node's identity from its configuration.
fn identity(config: &BrokerConfig) -> NodeIdentity {
    NodeIdentity {
        node_id: config.node_id,
        incarnation: uuid::Uuid::new_v4(),
        is_broker: config.process_roles.iter().any(|r| r == "broker"),
        rack: config.broker_rack.clone(),
        advertised: config
            .advertised_listeners
            .iter()
            .chain(config.listeners.iter())
            .find(|l| !l.name.eq_ignore_ascii_case("CONTROLLER"))
            .cloned(),
        advertised_listeners: if config.advertised_listeners.is_empty() {
            &config.listeners
        } else {
            &config.advertised_listeners
        }
        .iter()
        .filter(|l| !l.name.eq_ignore_ascii_case("CONTROLLER"))
        .cloned()
        .collect(),
        rack_aware_selector: config.replication.rack_aware_selector,
    }
}

/// Log directories on disk that no topic of the image owns are left alone, with a warning.
fn warn_about_stray_dirs(logs: &LogManager) {
    let known: HashSet<TopicPartition> = logs.partitions_open().into_iter().collect();
    for tp in logs.partitions_on_disk() {
        if !known.contains(&tp) && tp.topic != "__cluster_metadata" {
            warn!(partition = %tp.dir_name(), "log directory belongs to no known topic; left untouched");
        }
    }
}
