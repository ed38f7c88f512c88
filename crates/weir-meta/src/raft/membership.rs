//! The dynamic metadata quorum (KIP-853): AddRaftVoter / RemoveRaftVoter as openraft membership
//! changes (a learner first, then joint consensus to the new voter set), checked by
//! [`super::voter_set`], and where a member's CONTROLLER address comes from.
//!
//! The voter set lives in the Raft log and snapshot (openraft's membership entries), so it
//! survives restarts; `controller.quorum.voters` only seeds a pristine quorum and is the address
//! book of last resort: the log's voter set and its addresses win.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use openraft::error::{ClientWriteError, RaftError};
use openraft::{BasicNode, ChangeMembers};

use super::network::{Forwarded, RpcRequest, RpcResponse};
use super::node::MetaNode;
use super::voter_set::{plan_add, plan_remove, VoterChange};
use crate::MetaError;

/// How long a replica has to acknowledge a fresh entry to count as live for a voter change.
const LIVENESS_PROBE: Duration = Duration::from_secs(2);

fn change_err(e: RaftError<u64, ClientWriteError<u64, BasicNode>>) -> MetaError {
    match e {
        RaftError::APIError(ClientWriteError::ForwardToLeader(f)) => {
            MetaError::NotController(f.leader_id)
        }
        other => MetaError::Raft(other.to_string()),
    }
}

impl MetaNode {
    /// The CONTROLLER address of member `id`: from the log's membership (what AddRaftVoter or a
    /// learner's join recorded), else from `controller.quorum.voters`.
    pub(super) fn addr_of(&self, id: u64) -> Option<String> {
        let m = self.raft.metrics().borrow().membership_config.clone();
        m.membership()
            .get_node(&id)
            .map(|n| n.addr.clone())
            .filter(|a| !a.is_empty())
            .or_else(|| self.voters.get(&id).cloned())
    }

    /// The voters of the log's latest membership with their CONTROLLER `host:port` (voters
    /// without a recorded address, as a sole voter's, are left out).
    pub fn voter_endpoints(&self) -> std::collections::BTreeMap<u64, String> {
        let m = self.raft.metrics().borrow().membership_config.clone();
        let membership = m.membership();
        membership
            .voter_ids()
            .filter_map(|id| Some((id, membership.get_node(&id)?.addr.clone())))
            .filter(|(_, addr)| !addr.is_empty())
            .collect()
    }

    /// The voters of the log's latest membership (during a change, those of the newest config).
    pub fn current_voters(&self) -> BTreeSet<u64> {
        let m = self.raft.metrics().borrow().membership_config.clone();
        m.membership().voter_ids().collect()
    }

    /// Apply `change` through the Raft leader (here, or forwarded to it over the CONTROLLER
    /// transport) within `timeout`; returns once the new voter set is committed. Refusals:
    /// DUPLICATE_VOTER / VOTER_NOT_FOUND / INVALID_REQUEST (see [`plan_add`], [`plan_remove`]),
    /// REQUEST_TIMED_OUT (`Raft`) while another change is in progress or when the change did not
    /// complete in time, NOT_CONTROLLER when no leader is reachable.
    pub async fn change_voters(
        &self,
        change: VoterChange,
        timeout: Duration,
    ) -> Result<(), MetaError> {
        if self.is_leader() {
            return self.change_voters_here(change, timeout).await;
        }
        let Some(leader) = self.leader() else {
            return Err(MetaError::NotController(None));
        };
        // The leader gets a little less, so its answer (even a timeout) arrives in time.
        let for_leader = timeout.saturating_sub(Duration::from_millis(500));
        let req = RpcRequest::ChangeVoters {
            change,
            timeout_ms: u64::try_from(for_leader.as_millis()).unwrap_or(u64::MAX),
        };
        match self.call_voter(leader, &req, timeout).await? {
            RpcResponse::Forwarded(Forwarded::Done(r)) => r.map(|_| ()),
            RpcResponse::Forwarded(Forwarded::NotLeader(l)) => Err(MetaError::NotController(l)),
            RpcResponse::Forwarded(Forwarded::Failed(e)) => Err(MetaError::Raft(e)),
            other => Err(MetaError::Raft(format!(
                "unexpected answer to a voter change: {other:?}"
            ))),
        }
    }

    /// [`change_voters`](Self::change_voters) on the leader: one change at a time.
    pub(super) async fn change_voters_here(
        &self,
        change: VoterChange,
        timeout: Duration,
    ) -> Result<(), MetaError> {
        if !self.is_leader() {
            return Err(MetaError::NotController(self.leader()));
        }
        let Ok(_one_at_a_time) = self.voter_change.try_lock() else {
            return Err(MetaError::Raft(
                "another voter change is in progress".to_string(),
            ));
        };
        let deadline = Instant::now() + timeout;
        let work = async {
            match change {
                VoterChange::Add { id, addr } => self.add_voter(id, addr, deadline).await,
                VoterChange::Remove { id } => {
                    let live = self.live_replicas(deadline).await;
                    plan_remove(&self.current_voters(), &live, id)?;
                    self.raft
                        .change_membership(ChangeMembers::RemoveVoters([id].into()), true)
                        .await
                        .map_err(change_err)?;
                    tracing::info!(node = id, "metadata quorum: voter {id} removed");
                    Ok(())
                }
            }
        };
        tokio::time::timeout_at(deadline.into(), work)
            .await
            .unwrap_or_else(|_| {
                Err(MetaError::Raft(
                    "the voter change did not complete in time".to_string(),
                ))
            })
    }

    /// While leader: move a joint configuration left by an interrupted voter change (a request
    /// that timed out between openraft's two steps, or a leader that died there) on to its new
    /// voter set. Runs on the controller's tick; skipped while a change is in progress.
    pub(super) async fn finish_voter_change(&self) {
        if !self.is_leader() {
            return;
        }
        let Ok(_one_at_a_time) = self.voter_change.try_lock() else {
            return;
        };
        let m = self.raft.metrics().borrow().membership_config.clone();
        let configs = m.membership().get_joint_config();
        let (true, Some(target)) = (configs.len() > 1, configs.last().cloned()) else {
            return;
        };
        tracing::info!(voters = ?target, "metadata quorum: finishing an interrupted voter change");
        if let Err(e) = self
            .raft
            .change_membership(ChangeMembers::ReplaceAllVoters(target), true)
            .await
        {
            tracing::debug!(error = %e, "finishing the voter change failed; retrying");
        }
    }

    async fn add_voter(&self, id: u64, addr: String, deadline: Instant) -> Result<(), MetaError> {
        if self.current_voters().contains(&id) {
            return plan_add(&self.current_voters(), &BTreeSet::new(), id).map(|_| ());
        }
        let known = self.addr_of(id);
        if known.as_deref() != Some(addr.as_str()) {
            // A learner first (or at its new address), blocking until it has caught up.
            let node = BasicNode::new(&addr);
            let nodes = [(id, node)].into();
            let changes = if known.is_some() {
                ChangeMembers::SetNodes(nodes)
            } else {
                ChangeMembers::AddNodes(nodes)
            };
            self.raft
                .change_membership(changes, true)
                .await
                .map_err(change_err)?;
        }
        let live = self.live_replicas(deadline).await;
        plan_add(&self.current_voters(), &live, id)?;
        self.raft
            .change_membership(ChangeMembers::AddVoterIds([id].into()), true)
            .await
            .map_err(change_err)?;
        tracing::info!(node = id, %addr, "metadata quorum: voter {id} added");
        Ok(())
    }

    /// The members (and this leader) that acknowledge a fresh entry within
    /// [`LIVENESS_PROBE`] (or by `deadline`): an empty proposal moves the log end, and a replica
    /// whose matched index reaches it is live and caught up.
    async fn live_replicas(&self, deadline: Instant) -> BTreeSet<u64> {
        let until = deadline.min(Instant::now() + LIVENESS_PROBE);
        let _ = tokio::time::timeout_at(until.into(), self.raft.client_write(Vec::new())).await;
        let mut rx = self.raft.metrics();
        let target = rx.borrow().last_log_index;
        loop {
            let (live, all) = {
                let m = rx.borrow_and_update();
                let all: BTreeSet<u64> = m
                    .membership_config
                    .membership()
                    .nodes()
                    .map(|(id, _)| *id)
                    .collect();
                let mut live: BTreeSet<u64> = m
                    .replication
                    .iter()
                    .flatten()
                    .filter(|(_, matched)| matched.map(|l| l.index) >= target)
                    .map(|(id, _)| *id)
                    .collect();
                live.insert(self.id);
                (live, all)
            };
            if all.is_subset(&live) {
                return live;
            }
            if tokio::time::timeout_at(until.into(), rx.changed())
                .await
                .is_err()
            {
                return live;
            }
        }
    }

    /// Ask the voters (the leader, once known) to add this node as a learner; true when done
    /// (also when the log already has it as a member: a restarted learner or added voter).
    pub(super) async fn join_as_learner(&self, addr: &str) -> bool {
        let mut targets: Vec<u64> = self.leader().into_iter().collect();
        targets.extend(self.voters.keys().copied());
        for t in targets {
            let Some(vaddr) = self.addr_of(t) else {
                continue;
            };
            let req = RpcRequest::AddLearner {
                id: self.id,
                addr: addr.to_string(),
            };
            if let Ok(RpcResponse::Forwarded(Forwarded::Done(Ok(_)))) = self
                .network
                .client(t, &vaddr)
                .call(&req, Duration::from_secs(5))
                .await
            {
                tracing::info!(node = self.id, "following the metadata log");
                return true;
            }
        }
        false
    }

    /// The leader's side of [`join_as_learner`](Self::join_as_learner): a node the log already
    /// has (voter or learner) is left as it is.
    pub(super) async fn add_learner_here(&self, id: u64, addr: String) -> Forwarded {
        if !self.is_leader() {
            return Forwarded::NotLeader(self.leader());
        }
        let known = self.raft.metrics().borrow().membership_config.clone();
        if known.membership().get_node(&id).is_some() {
            return Forwarded::Done(Ok(Vec::new()));
        }
        match self.raft.add_learner(id, BasicNode::new(addr), false).await {
            Ok(_) => Forwarded::Done(Ok(Vec::new())),
            Err(e) => Forwarded::Failed(e.to_string()),
        }
    }
}
