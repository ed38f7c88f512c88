//! The controller RPC transport: length-prefixed JSON frames over TCP on the CONTROLLER
//! listener. Carries Raft's AppendEntries / Vote / InstallSnapshot, proposals forwarded to the
//! leader, and broker heartbeats to the active controller.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::BasicNode;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::transport::{RaftStream, RaftTransport};

use super::{Proposal, ProposalResult, TypeConfig};

/// Largest accepted frame.
pub const MAX_FRAME: usize = 64 << 20;

/// A request on the controller listener.
#[derive(Debug, Serialize, Deserialize)]
pub enum RpcRequest {
    /// Raft AppendEntries.
    AppendEntries(AppendEntriesRequest<TypeConfig>),
    /// Raft RequestVote.
    Vote(VoteRequest<u64>),
    /// Raft InstallSnapshot chunk.
    InstallSnapshot(InstallSnapshotRequest<TypeConfig>),
    /// A proposal forwarded to the leader.
    Propose(Proposal),
    /// A broker is alive (to the active controller).
    Heartbeat {
        /// Broker id.
        broker: i32,
        /// The partitions of its offline log dirs (see `offline_dirs`).
        #[serde(default)]
        offline: Vec<(String, i32)>,
    },
    /// A broker-only node asks to follow the metadata log as a non-voting learner.
    AddLearner {
        /// Node id.
        id: u64,
        /// Its CONTROLLER listener (where Raft pushes the log).
        addr: String,
    },
    /// The cluster id in the answering node's applied image (asked by a starting node before it
    /// joins the quorum, to refuse a data dir formatted for another cluster).
    ClusterId,
    /// The quorum as the leader sees it (DescribeQuorum).
    DescribeQuorum,
    /// AddRaftVoter / RemoveRaftVoter forwarded to the leader, to finish within `timeout_ms`.
    ChangeVoters {
        /// The change.
        change: super::voter_set::VoterChange,
        /// The requester's deadline.
        timeout_ms: u64,
    },
}

/// The outcome of a forwarded proposal or heartbeat.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Forwarded {
    /// Committed and applied.
    Done(ProposalResult),
    /// Not the leader; the leader if known.
    NotLeader(Option<u64>),
    /// Raft failed.
    Failed(String),
}

/// A response on the controller listener.
#[derive(Debug, Serialize, Deserialize)]
pub enum RpcResponse {
    /// AppendEntries answer.
    AppendEntries(Result<AppendEntriesResponse<u64>, RaftError<u64>>),
    /// Vote answer.
    Vote(Result<VoteResponse<u64>, RaftError<u64>>),
    /// InstallSnapshot answer.
    InstallSnapshot(Result<InstallSnapshotResponse<u64>, RaftError<u64, InstallSnapshotError>>),
    /// Proposal or heartbeat answer.
    Forwarded(Forwarded),
    /// ClusterId answer: the id, or `None` while the quorum has not agreed on one.
    ClusterId(Option<String>),
    /// DescribeQuorum answer: `None` when the node asked does not lead.
    Quorum(Option<super::progress::QuorumInfo>),
}

async fn write_frame<T: Serialize>(s: &mut RaftStream, v: &T) -> std::io::Result<()> {
    let json = serde_json::to_vec(v).map_err(std::io::Error::other)?;
    let mut buf = Vec::with_capacity(json.len() + 4);
    buf.extend_from_slice(&(json.len() as u32).to_be_bytes());
    buf.extend_from_slice(&json);
    s.write_all(&buf).await?;
    s.flush().await
}

async fn read_frame<T: for<'de> Deserialize<'de>>(s: &mut RaftStream) -> std::io::Result<T> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(std::io::Error::other(format!(
            "controller frame of {len} bytes is too large"
        )));
    }
    let mut buf = vec![0u8; len];
    s.read_exact(&mut buf).await?;
    serde_json::from_slice(&buf).map_err(std::io::Error::other)
}

/// Client connections to one controller (each reconnects after any error). Raft's own traffic,
/// forwarded proposals, voter changes and the rest (heartbeats, learner and cluster-id requests) each have their
/// own connection, so a proposal waiting for its commit never holds up log replication or a
/// heartbeat (the peer serves each connection's requests in order).
pub struct RpcClient {
    addr: String,
    transport: Arc<dyn RaftTransport>,
    raft: tokio::sync::Mutex<Option<RaftStream>>,
    proposals: tokio::sync::Mutex<Option<RaftStream>>,
    control: tokio::sync::Mutex<Option<RaftStream>>,
    voter_changes: tokio::sync::Mutex<Option<RaftStream>>,
    /// [`PEER_UNKNOWN`], [`PEER_UP`] or [`PEER_DOWN`]: the last Raft RPC's outcome.
    peer_state: AtomicU8,
    /// The last refusal by the transport (TLS or SASL) that was logged, so a peer that keeps
    /// refusing is logged once per reason; cleared by a secured connection.
    refusal: std::sync::Mutex<Option<String>>,
}

impl std::fmt::Debug for RpcClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpcClient")
            .field("addr", &self.addr)
            .field("transport", &self.transport)
            .finish_non_exhaustive()
    }
}

impl RpcClient {
    /// A client for `addr` (`host:port`) over `transport`; connects lazily.
    pub fn new(addr: &str, transport: Arc<dyn RaftTransport>) -> Self {
        RpcClient {
            addr: addr.to_string(),
            transport,
            raft: tokio::sync::Mutex::new(None),
            proposals: tokio::sync::Mutex::new(None),
            control: tokio::sync::Mutex::new(None),
            voter_changes: tokio::sync::Mutex::new(None),
            peer_state: AtomicU8::new(PEER_UNKNOWN),
            refusal: std::sync::Mutex::new(None),
        }
    }

    /// Secure a new TCP connection with the transport; log a refusal (TLS or SASL) once per
    /// reason, as it will not go away by retrying.
    async fn secure(&self, tcp: TcpStream) -> std::io::Result<RaftStream> {
        let r = self.transport.connect(tcp, &self.addr).await;
        let mut last = self.refusal.lock().unwrap_or_else(|p| p.into_inner());
        match &r {
            Ok(_) => *last = None,
            Err(e) => {
                let why = e.to_string();
                if last.as_deref() != Some(why.as_str()) {
                    tracing::warn!(addr = %self.addr, error = %why, "controller connection refused by the transport (TLS / SASL)");
                    *last = Some(why);
                }
            }
        }
        r
    }

    /// The connection `req` travels on.
    fn lane(&self, req: &RpcRequest) -> &tokio::sync::Mutex<Option<RaftStream>> {
        match req {
            RpcRequest::AppendEntries(_) | RpcRequest::Vote(_) | RpcRequest::InstallSnapshot(_) => {
                &self.raft
            }
            RpcRequest::Propose(_) => &self.proposals,
            // A change waits for a new voter to catch up: never in front of a heartbeat.
            RpcRequest::ChangeVoters { .. } => &self.voter_changes,
            RpcRequest::Heartbeat { .. }
            | RpcRequest::AddLearner { .. }
            | RpcRequest::ClusterId
            | RpcRequest::DescribeQuorum => &self.control,
        }
    }

    /// One request/response, bounded by `timeout` (waiting for its connection, which one call
    /// at a time uses, included).
    pub async fn call(&self, req: &RpcRequest, timeout: Duration) -> std::io::Result<RpcResponse> {
        let deadline = tokio::time::Instant::now() + timeout;
        let Ok(mut guard) = tokio::time::timeout_at(deadline, self.lane(req).lock()).await else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "controller connection busy",
            ));
        };
        let fut = async {
            if guard.is_none() {
                let s = TcpStream::connect(&self.addr).await?;
                s.set_nodelay(true)?;
                *guard = Some(self.secure(s).await?);
            }
            let s = guard
                .as_mut()
                .ok_or_else(|| std::io::Error::other("no connection"))?;
            write_frame(s, req).await?;
            read_frame(s).await
        };
        let r = match tokio::time::timeout_at(deadline, fut).await {
            Ok(r) => r,
            Err(_) => Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "controller RPC timed out",
            )),
        };
        if r.is_err() {
            *guard = None;
        }
        r
    }
}

/// Serve the controller listener: every connection is secured by `transport` (a failure is
/// logged with the peer and drops that connection only), then its requests go through `handle`
/// in order; a `None` answer (the node stopped) closes the connection.
pub async fn serve<F, Fut>(listener: TcpListener, transport: Arc<dyn RaftTransport>, handle: F)
where
    F: Fn(RpcRequest) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Option<RpcResponse>> + Send,
{
    loop {
        let Ok((tcp, peer)) = listener.accept().await else {
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let h = handle.clone();
        let transport = transport.clone();
        tokio::spawn(async move {
            let mut s = match transport.accept(tcp).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(%peer, error = %e, "controller connection refused");
                    return;
                }
            };
            loop {
                let req: RpcRequest = match read_frame(&mut s).await {
                    Ok(r) => r,
                    Err(e) => {
                        if e.kind() != std::io::ErrorKind::UnexpectedEof {
                            tracing::debug!(%peer, error = %e, "controller connection closed");
                        }
                        return;
                    }
                };
                let Some(resp) = h(req).await else { return };
                if write_frame(&mut s, &resp).await.is_err() {
                    return;
                }
            }
        });
    }
}

/// openraft's network factory over [`RpcClient`]s (one per peer, shared).
#[derive(Debug, Clone)]
pub struct Network {
    clients: Arc<std::sync::Mutex<HashMap<u64, Arc<RpcClient>>>>,
    transport: Arc<dyn RaftTransport>,
}

impl Network {
    /// Clients over `transport`.
    pub fn new(transport: Arc<dyn RaftTransport>) -> Self {
        Network {
            clients: Arc::default(),
            transport,
        }
    }

    /// The transport the clients use.
    pub fn transport(&self) -> Arc<dyn RaftTransport> {
        self.transport.clone()
    }

    /// The shared client for `target` at `addr`.
    pub fn client(&self, target: u64, addr: &str) -> Arc<RpcClient> {
        self.clients
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(target)
            .or_insert_with(|| Arc::new(RpcClient::new(addr, self.transport.clone())))
            .clone()
    }
}

/// A connection to one peer, as openraft sees it.
pub struct PeerConnection {
    target: u64,
    client: Arc<RpcClient>,
}

/// Whether a peer answered its last Raft RPC: never asked yet, yes, no.
const PEER_UNKNOWN: u8 = 0;
const PEER_UP: u8 = 1;
const PEER_DOWN: u8 = 2;

impl PeerConnection {
    /// Log when a peer that answered stops answering Raft RPCs, and when it answers again: one
    /// line per change (openraft's own per-RPC errors are only shown when `RUST_LOG` asks).
    fn note(&self, result: Result<(), &std::io::Error>) {
        let now = if result.is_ok() { PEER_UP } else { PEER_DOWN };
        let before = self.client.peer_state.swap(now, Ordering::Relaxed);
        match (before, result) {
            (PEER_UP, Err(e)) => tracing::warn!(
                node = self.target,
                addr = %self.client.addr,
                error = %e,
                "metadata quorum: node {} stopped answering",
                self.target
            ),
            (PEER_DOWN, Ok(())) => tracing::info!(
                node = self.target,
                "metadata quorum: node {} answers again",
                self.target
            ),
            _ => {}
        }
    }
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = PeerConnection;

    async fn new_client(&mut self, target: u64, node: &BasicNode) -> PeerConnection {
        PeerConnection {
            target,
            client: self.client(target, &node.addr),
        }
    }
}

fn unreachable<E: std::error::Error>(e: std::io::Error) -> RPCError<u64, BasicNode, E> {
    if e.kind() == std::io::ErrorKind::ConnectionRefused {
        RPCError::Unreachable(Unreachable::new(&e))
    } else {
        RPCError::Network(NetworkError::new(&e))
    }
}

fn ttl(option: &RPCOption) -> Duration {
    option.hard_ttl()
}

fn wrong<E: std::error::Error>() -> RPCError<u64, BasicNode, E> {
    RPCError::Network(NetworkError::new(&std::io::Error::other(
        "unexpected controller response",
    )))
}

impl RaftNetwork<TypeConfig> for PeerConnection {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<u64>, RPCError<u64, BasicNode, RaftError<u64>>> {
        let answer = self
            .client
            .call(&RpcRequest::AppendEntries(rpc), ttl(&option))
            .await;
        self.note(answer.as_ref().map(|_| ()));
        match answer {
            Ok(RpcResponse::AppendEntries(r)) => {
                r.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
            }
            Ok(_) => Err(wrong()),
            Err(e) => Err(unreachable(e)),
        }
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<u64>,
        RPCError<u64, BasicNode, RaftError<u64, InstallSnapshotError>>,
    > {
        match self
            .client
            .call(&RpcRequest::InstallSnapshot(rpc), ttl(&option))
            .await
        {
            Ok(RpcResponse::InstallSnapshot(r)) => {
                r.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
            }
            Ok(_) => Err(wrong()),
            Err(e) => Err(unreachable(e)),
        }
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<u64>,
        option: RPCOption,
    ) -> Result<VoteResponse<u64>, RPCError<u64, BasicNode, RaftError<u64>>> {
        let answer = self.client.call(&RpcRequest::Vote(rpc), ttl(&option)).await;
        self.note(answer.as_ref().map(|_| ()));
        match answer {
            Ok(RpcResponse::Vote(r)) => {
                r.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
            }
            Ok(_) => Err(wrong()),
            Err(e) => Err(unreachable(e)),
        }
    }
}
