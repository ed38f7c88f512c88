//! [`MetaNode`]: one node's Raft member plus, while it is the Raft leader, the active controller.
//! Brokers propose records through it (forwarded to the leader when needed), send heartbeats, and
//! watch the applied [`MetadataImage`].

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use openraft::error::{ClientWriteError, RaftError};
use openraft::storage::RaftLogStorage;
use openraft::{BasicNode, Raft, SnapshotPolicy};
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::log_store::LogStore;
use super::network::{serve, Forwarded, Network, RpcRequest, RpcResponse};
use super::state_machine::StateMachine;
pub use super::voters::parse_voters;
use super::TypeConfig;
use crate::controller::Controller;
use crate::image::{Applied, MetadataImage};
use crate::reassignment::complete_reassignments;
use crate::records::MetadataRecord;
use crate::MetaError;

#[path = "node_heartbeat.rs"]
mod heartbeat;

/// How long a proposal may take (leader election included) before it fails.
pub const PROPOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// Configuration of a metadata node.
#[derive(Debug, Clone)]
pub struct MetaConfig {
    /// `node.id`.
    pub node_id: u64,
    /// `metadata.log.dir`.
    pub dir: PathBuf,
    /// Voters: node id → controller listener `host:port` (`controller.quorum.voters`).
    pub voters: BTreeMap<u64, String>,
    /// `broker.session.timeout.ms`.
    pub session_timeout_ms: i64,
    /// `unclean.leader.election.enable`.
    pub unclean_leader_election: bool,
    /// `leader.imbalance.check.interval.seconds` (ms) when `auto.leader.rebalance.enable`.
    pub auto_rebalance_interval_ms: Option<i64>,
    /// A broker-only node follows the log as a learner; this is its own CONTROLLER address.
    pub learner_addr: Option<String>,
    /// What secures the controller listener's connections (both directions).
    pub transport: Arc<dyn super::transport::RaftTransport>,
}

/// A snapshot of a node's Raft state ([`MetaNode::raft_status`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RaftStatus {
    /// The current term (KRaft's epoch).
    pub term: u64,
    /// The leader this node knows of.
    pub leader: Option<u64>,
    /// Index of the last entry in the local log.
    pub last_log_index: Option<u64>,
    /// Index of the last committed entry applied to the local image.
    pub applied_index: u64,
    /// False once the Raft core stopped on a fatal error.
    pub running: bool,
}

/// A running metadata node.
pub struct MetaNode {
    pub(super) id: u64,
    pub(super) raft: Raft<TypeConfig>,
    sm: StateMachine,
    pub(super) network: Network,
    /// `controller.quorum.voters`: seeds a pristine quorum; addresses of last resort.
    pub(super) voters: BTreeMap<u64, String>,
    /// Held by the leader while it changes the voter set (one change at a time).
    pub(super) voter_change: tokio::sync::Mutex<()>,
    controller: Mutex<(bool, Controller)>,
    config: MetaConfig,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    stopped: std::sync::atomic::AtomicBool,
    /// The cluster id this node proposes while it leads a quorum that has none.
    proposed_cluster_id: Mutex<Option<String>>,
}

impl std::fmt::Debug for MetaNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetaNode")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn raft_err<E: std::fmt::Display>(e: E) -> MetaError {
    MetaError::Raft(e.to_string())
}

impl MetaNode {
    /// Open the log and state machine in `config.dir`, start Raft, serve the controller listener
    /// (if given) and run the controller duties while leader. A pristine node initialises the
    /// voter set (every voter does; Raft keeps the first).
    pub async fn start(
        config: MetaConfig,
        listener: Option<TcpListener>,
    ) -> Result<Arc<MetaNode>, MetaError> {
        let mut log = LogStore::open(&config.dir).map_err(raft_err)?;
        let sm = StateMachine::open(&config.dir).map_err(raft_err)?;
        let network = Network::new(config.transport.clone());
        let raft_config = openraft::Config {
            cluster_name: "weir".into(),
            heartbeat_interval: 75,
            election_timeout_min: 300,
            election_timeout_max: 600,
            snapshot_policy: SnapshotPolicy::LogsSinceLast(1000),
            max_in_snapshot_log_to_keep: 100,
            ..Default::default()
        }
        .validate()
        .map_err(raft_err)?;
        let pristine = log
            .get_log_state()
            .await
            .map_err(raft_err)?
            .last_log_id
            .is_none()
            && sm.last_applied_index() == 0;
        let raft = Raft::new(
            config.node_id,
            Arc::new(raft_config),
            network.clone(),
            log,
            sm.clone(),
        )
        .await
        .map_err(raft_err)?;
        if pristine && config.learner_addr.is_none() {
            let members: BTreeMap<u64, BasicNode> = config
                .voters
                .iter()
                .map(|(id, addr)| (*id, BasicNode::new(addr)))
                .collect();
            if let Err(e) = raft.initialize(members).await {
                tracing::debug!(error = %e, "metadata quorum already initialised");
            }
        }
        let node = Arc::new(MetaNode {
            id: config.node_id,
            raft,
            sm,
            network,
            voters: config.voters.clone(),
            controller: Mutex::new((
                false,
                Controller::new(config.session_timeout_ms, config.unclean_leader_election),
            )),
            config,
            tasks: Mutex::new(Vec::new()),
            stopped: std::sync::atomic::AtomicBool::new(false),
            proposed_cluster_id: Mutex::new(None),
            voter_change: tokio::sync::Mutex::new(()),
        });
        let mut tasks = Vec::new();
        if let Some(l) = listener {
            let n = Arc::downgrade(&node);
            tasks.push(tokio::spawn(serve(
                l,
                node.config.transport.clone(),
                move |req| {
                    let n = n.clone();
                    async move {
                        let n = n.upgrade()?;
                        if n.stopped.load(std::sync::atomic::Ordering::SeqCst) {
                            return None;
                        }
                        Some(n.handle(req).await)
                    }
                },
            )));
        }
        let weak = Arc::downgrade(&node);
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            loop {
                tick.tick().await;
                let Some(n) = weak.upgrade() else { return };
                n.controller_tick().await;
            }
        }));
        if let Some(addr) = node.config.learner_addr.clone() {
            let weak = Arc::downgrade(&node);
            tasks.push(tokio::spawn(async move {
                loop {
                    let Some(n) = weak.upgrade() else { return };
                    if n.join_as_learner(&addr).await {
                        return;
                    }
                    drop(n);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }));
        }
        *node.tasks.lock().unwrap_or_else(|p| p.into_inner()) = tasks;
        Ok(node)
    }

    /// This node's id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The current Raft leader, if known.
    pub fn leader(&self) -> Option<u64> {
        self.raft.metrics().borrow().current_leader
    }

    /// Resolves when this node's Raft core has stopped on a fatal error (e.g. the metadata log
    /// could not be written: a full disk), with the reason. The node then no longer follows the
    /// metadata log; its owner must stop serving (Kafka halts the process).
    pub async fn fatal(&self) -> String {
        let mut rx = self.raft.metrics();
        loop {
            if let Err(e) = &rx.borrow_and_update().running_state {
                return e.to_string();
            }
            if rx.changed().await.is_err() {
                return "the metadata quorum member stopped".to_string();
            }
        }
    }

    /// This node's Raft state now, for monitoring (cheap: a copy out of openraft's metrics).
    pub fn raft_status(&self) -> RaftStatus {
        let m = self.raft.metrics().borrow().clone();
        RaftStatus {
            term: m.current_term,
            leader: m.current_leader,
            last_log_index: m.last_log_index,
            applied_index: self.sm.last_applied_index(),
            running: m.running_state.is_ok(),
        }
    }

    /// True while this node is the Raft leader (the active controller).
    pub fn is_leader(&self) -> bool {
        self.leader() == Some(self.id)
    }

    /// The applied image now.
    pub fn image(&self) -> Arc<MetadataImage> {
        self.sm.image()
    }

    /// Watch the applied image.
    pub fn subscribe(&self) -> watch::Receiver<Arc<MetadataImage>> {
        self.sm.subscribe()
    }

    /// The Raft log index applied locally.
    pub fn applied_index(&self) -> u64 {
        self.sm.last_applied_index()
    }

    /// Wait until a leader is known (or `timeout` passes).
    pub async fn wait_for_leader(&self, timeout: Duration) -> Option<u64> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(l) = self.leader() {
                return Some(l);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }

    /// Commit `records` (atomically, in order) through the leader and return what applying them
    /// produced; a record that fails validation fails the whole proposal with the state
    /// unchanged. Retries through leader changes for up to [`PROPOSE_TIMEOUT`].
    pub async fn propose(&self, records: Vec<MetadataRecord>) -> Result<Vec<Applied>, MetaError> {
        self.propose_within(records, PROPOSE_TIMEOUT).await
    }

    /// [`propose`](Self::propose) bounded by `timeout`: every attempt (local write or forward to
    /// the leader) gets only the time left, and a leader change or a dead leader is retried
    /// against the new leader. `NotController` / `Raft` errors leave the outcome unknown: the
    /// records may still have been committed (the caller can look at the image).
    pub async fn propose_within(
        &self,
        records: Vec<MetadataRecord>,
        timeout: Duration,
    ) -> Result<Vec<Applied>, MetaError> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let write = tokio::time::timeout(left, self.raft.client_write(records.clone()));
            let attempt = match write.await {
                Ok(Ok(resp)) => return resp.data,
                Ok(Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f)))) => {
                    match f.leader_id {
                        Some(leader) if leader != self.id => {
                            self.forward(leader, &records, deadline).await
                        }
                        _ => Forwarded::NotLeader(None),
                    }
                }
                Ok(Err(e)) => Forwarded::Failed(e.to_string()),
                Err(_) => Forwarded::Failed("the metadata proposal timed out".into()),
            };
            match attempt {
                Forwarded::Done(r) => return r,
                Forwarded::NotLeader(_) | Forwarded::Failed(_)
                    if Instant::now() + Duration::from_millis(50) < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Forwarded::NotLeader(l) => return Err(MetaError::NotController(l)),
                Forwarded::Failed(e) => return Err(MetaError::Raft(e)),
            }
        }
    }

    async fn forward(
        &self,
        leader: u64,
        records: &[MetadataRecord],
        deadline: Instant,
    ) -> Forwarded {
        let Some(addr) = self.addr_of(leader) else {
            return Forwarded::NotLeader(Some(leader));
        };
        let client = self.network.client(leader, &addr);
        let left = deadline.saturating_duration_since(Instant::now());
        match client
            .call(&RpcRequest::Propose(records.to_vec()), left)
            .await
        {
            Ok(RpcResponse::Forwarded(f)) => f,
            Ok(_) => Forwarded::Failed("unexpected response to a forwarded proposal".into()),
            Err(e) => Forwarded::Failed(e.to_string()),
        }
    }

    /// Propose `id` as the cluster id whenever this node leads a quorum whose image has none
    /// (its formatted `cluster.id`, or a fresh one for an unformatted dir).
    pub fn propose_cluster_id(&self, id: String) {
        *self
            .proposed_cluster_id
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(id);
    }

    /// The cluster ids other voters' applied images hold (voters that do not answer within
    /// `timeout` or have none are left out); asked before this node joins the quorum, over
    /// `transport`.
    pub async fn peer_cluster_ids(
        voters: &BTreeMap<u64, String>,
        me: u64,
        transport: &Arc<dyn super::transport::RaftTransport>,
        timeout: Duration,
    ) -> Vec<(u64, String)> {
        let asks = voters
            .iter()
            .filter(|(id, _)| **id != me)
            .map(|(id, addr)| {
                let client = super::network::RpcClient::new(addr, transport.clone());
                async move {
                    match client.call(&RpcRequest::ClusterId, timeout).await {
                        Ok(RpcResponse::ClusterId(Some(c))) => Some((*id, c)),
                        _ => None,
                    }
                }
            });
        let mut out = Vec::new();
        for a in asks.collect::<Vec<_>>() {
            out.extend(a.await);
        }
        out
    }

    /// The quorum as this node sees it when it leads (see [`super::progress::quorum_info`]).
    pub(super) fn local_quorum_info(&self) -> Option<super::progress::QuorumInfo> {
        super::progress::quorum_info(&self.raft.metrics().borrow())
    }

    /// One control RPC to voter `id` within `timeout`.
    pub(super) async fn call_voter(
        &self,
        id: u64,
        req: &RpcRequest,
        timeout: Duration,
    ) -> Result<RpcResponse, MetaError> {
        let addr = self.addr_of(id).ok_or(MetaError::NotController(Some(id)))?;
        self.network
            .client(id, &addr)
            .call(req, timeout)
            .await
            .map_err(raft_err)
    }

    /// While leader: fence brokers that stopped heartbeating. A new leader starts every broker's
    /// session afresh.
    fn new_controller(&self) -> Controller {
        let c = Controller::new(
            self.config.session_timeout_ms,
            self.config.unclean_leader_election,
        );
        match self.config.auto_rebalance_interval_ms {
            Some(ms) => c.with_auto_rebalance(ms),
            None => c,
        }
    }

    /// AlterPartition from a partition leader: validated by the active controller (leader and
    /// partition epochs, ISR ⊆ replicas and containing the leader) and committed.
    #[allow(clippy::too_many_arguments)]
    pub async fn alter_partition(
        &self,
        topic: &str,
        partition: i32,
        leader: i32,
        leader_epoch: i32,
        partition_epoch: i32,
        isr: Vec<i32>,
    ) -> Result<(), MetaError> {
        let record = Controller::alter_partition(
            &self.image(),
            topic,
            partition,
            leader,
            leader_epoch,
            partition_epoch,
            isr,
        )?;
        self.propose(vec![record]).await.map(|_| ())
    }

    /// While leader: fence silent brokers, rebalance leaders, complete reassignments whose adding
    /// replicas have all joined the ISR.
    async fn controller_tick(&self) {
        let leader = self.is_leader();
        let (recs, completions) = {
            let image = self.image();
            let mut c = self.controller.lock().unwrap_or_else(|p| p.into_inner());
            if leader && !c.0 {
                c.1 = self.new_controller();
            }
            c.0 = leader;
            if !leader {
                return;
            }
            let mut recs = c.1.tick_proposals(&image, now_ms());
            if image.cluster_id.is_none() {
                let id = self
                    .proposed_cluster_id
                    .lock()
                    .unwrap_or_else(|p| p.into_inner());
                recs.extend(
                    id.clone()
                        .map(|id| vec![MetadataRecord::SetClusterId { id }]),
                );
            }
            (recs, complete_reassignments(&image))
        };
        // Fencing, each preferred-leader election and the cluster id as separate proposals: one
        // failing leaves the others.
        for r in recs.into_iter().filter(|r| !r.is_empty()) {
            if let Err(e) = self.raft.client_write(r).await {
                tracing::warn!(error = %e, "controller proposal failed");
            }
        }
        self.finish_voter_change().await;
        // One proposal per partition: a completion that lost a race with an ISR change fails
        // alone and is recomputed on the next tick.
        for r in completions {
            if let Err(e) = self.raft.client_write(vec![r]).await {
                tracing::debug!(error = %e, "completing a partition reassignment failed; retrying");
            }
        }
    }

    async fn handle(&self, req: RpcRequest) -> RpcResponse {
        match req {
            RpcRequest::AppendEntries(r) => {
                RpcResponse::AppendEntries(self.raft.append_entries(r).await)
            }
            RpcRequest::Vote(r) => RpcResponse::Vote(self.raft.vote(r).await),
            RpcRequest::InstallSnapshot(r) => {
                RpcResponse::InstallSnapshot(self.raft.install_snapshot(r).await)
            }
            RpcRequest::Propose(records) => {
                RpcResponse::Forwarded(match self.raft.client_write(records).await {
                    Ok(resp) => Forwarded::Done(resp.data),
                    Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f))) => {
                        Forwarded::NotLeader(f.leader_id)
                    }
                    Err(e) => Forwarded::Failed(e.to_string()),
                })
            }
            RpcRequest::Heartbeat { broker, offline } => {
                RpcResponse::Forwarded(self.local_heartbeat(broker, offline).await)
            }
            RpcRequest::ClusterId => RpcResponse::ClusterId(self.image().cluster_id.clone()),
            RpcRequest::DescribeQuorum => RpcResponse::Quorum(self.local_quorum_info()),
            RpcRequest::AddLearner { id, addr } => {
                RpcResponse::Forwarded(self.add_learner_here(id, addr).await)
            }
            RpcRequest::ChangeVoters { change, timeout_ms } => {
                let timeout = Duration::from_millis(timeout_ms.min(120_000));
                RpcResponse::Forwarded(match self.change_voters_here(change, timeout).await {
                    Ok(()) => Forwarded::Done(Ok(Vec::new())),
                    Err(MetaError::NotController(l)) => Forwarded::NotLeader(l),
                    Err(e) => Forwarded::Done(Err(e)),
                })
            }
        }
    }

    /// Stop Raft, the controller listener and the controller task (tests; the process exit
    /// does the same).
    pub async fn shutdown(&self) {
        self.stopped
            .store(true, std::sync::atomic::Ordering::SeqCst);
        for t in self
            .tasks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
        {
            t.abort();
        }
        let _ = self.raft.shutdown().await;
    }
}
