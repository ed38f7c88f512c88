//! The vocabulary of the classic group state machine ([`super::classic`]): states, limits, the
//! JoinGroup parameters, the answers, the effects a call returns, and a member.

use bytes::Bytes;
use tokio::sync::oneshot;

/// Milliseconds since the epoch (injected).
pub type Ms = i64;

/// A classic group's state (names as Kafka reports them in DescribeGroups/ListGroups).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClassicState {
    /// No members (offsets may still exist).
    Empty,
    /// Waiting for members to (re)join.
    PreparingRebalance,
    /// Join phase done, waiting for the leader's assignment.
    CompletingRebalance,
    /// Every member has its assignment.
    Stable,
    /// Deleted.
    Dead,
}

impl ClassicState {
    /// Kafka's name of the state.
    pub fn name(self) -> &'static str {
        match self {
            ClassicState::Empty => "Empty",
            ClassicState::PreparingRebalance => "PreparingRebalance",
            ClassicState::CompletingRebalance => "CompletingRebalance",
            ClassicState::Stable => "Stable",
            ClassicState::Dead => "Dead",
        }
    }
}

/// Limits from the broker config.
#[derive(Debug, Clone, Copy)]
pub struct ClassicLimits {
    /// `group.min.session.timeout.ms`.
    pub min_session_timeout_ms: i32,
    /// `group.max.session.timeout.ms`.
    pub max_session_timeout_ms: i32,
    /// `group.initial.rebalance.delay.ms`.
    pub initial_rebalance_delay_ms: i64,
    /// `group.max.size`.
    pub max_size: usize,
}

/// A JoinGroup request as the state machine sees it.
#[derive(Debug, Clone)]
pub struct JoinParams {
    /// Member id ("" for a new member).
    pub member_id: String,
    /// Static membership id.
    pub instance_id: Option<String>,
    /// Client id.
    pub client_id: String,
    /// Client host.
    pub client_host: String,
    /// Session timeout.
    pub session_timeout_ms: i32,
    /// Rebalance timeout (v0: the session timeout).
    pub rebalance_timeout_ms: i32,
    /// Protocol type ("consumer").
    pub protocol_type: String,
    /// (assignor name, subscription metadata) in preference order.
    pub protocols: Vec<(String, Bytes)>,
    /// v4+: a new dynamic member must first get MEMBER_ID_REQUIRED.
    pub require_known_member_id: bool,
}

/// A JoinGroup answer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JoinOutcome {
    /// Error code (0 = none).
    pub error: i16,
    /// Generation.
    pub generation: i32,
    /// Protocol type.
    pub protocol_type: Option<String>,
    /// Chosen protocol.
    pub protocol: Option<String>,
    /// Leader member id.
    pub leader: String,
    /// The member's id.
    pub member_id: String,
    /// For the leader: (member id, instance id, metadata) of every member.
    pub members: Vec<(String, Option<String>, Bytes)>,
}

/// A SyncGroup answer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SyncOutcome {
    /// Error code.
    pub error: i16,
    /// Protocol type.
    pub protocol_type: Option<String>,
    /// Chosen protocol.
    pub protocol: Option<String>,
    /// The member's assignment.
    pub assignment: Bytes,
}

/// Responses to deliver after a call (after persisting, if `persist`).
#[derive(Debug, Default)]
pub struct Effects {
    /// JoinGroup responses.
    pub joins: Vec<(oneshot::Sender<JoinOutcome>, JoinOutcome)>,
    /// SyncGroup responses.
    pub syncs: Vec<(oneshot::Sender<SyncOutcome>, SyncOutcome)>,
    /// The group's metadata changed in a way Kafka persists (sync done, group emptied).
    pub persist: bool,
}

impl Effects {
    pub(crate) fn merge(&mut self, other: Effects) {
        self.joins.extend(other.joins);
        self.syncs.extend(other.syncs);
        self.persist |= other.persist;
    }
}

/// One member of a classic group.
#[derive(Debug)]
pub struct Member {
    /// Member id.
    pub id: String,
    /// Static membership id.
    pub instance_id: Option<String>,
    /// Client id.
    pub client_id: String,
    /// Client host.
    pub client_host: String,
    /// Session timeout.
    pub session_timeout_ms: i32,
    /// Rebalance timeout.
    pub rebalance_timeout_ms: i32,
    /// Supported protocols with metadata.
    pub protocols: Vec<(String, Bytes)>,
    /// Current assignment.
    pub assignment: Bytes,
    /// Last time the member showed it is alive.
    pub last_seen: Ms,
    pub(crate) join_waiter: Option<oneshot::Sender<JoinOutcome>>,
    pub(crate) sync_waiter: Option<oneshot::Sender<SyncOutcome>>,
}

impl Member {
    /// The metadata the member sent for `protocol`.
    pub fn metadata(&self, protocol: &str) -> Bytes {
        self.protocols
            .iter()
            .find(|(n, _)| n == protocol)
            .map(|(_, m)| m.clone())
            .unwrap_or_default()
    }
}
