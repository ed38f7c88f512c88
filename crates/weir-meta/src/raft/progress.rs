//! The metadata quorum as its leader sees it — what DescribeQuorum (key 55) reports — computed
//! from openraft's metrics without I/O.

use openraft::{BasicNode, RaftMetrics, ServerState};
use serde::{Deserialize, Serialize};

/// The leader's view of the metadata log's replication. Offsets are Kafka-style: one past the
/// last entry (a log end offset), the high watermark one past the last applied (committed) entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuorumInfo {
    /// The leader's node id.
    pub leader: u64,
    /// The leader's term (Kafka's leader epoch).
    pub term: u64,
    /// One past the last committed and applied entry.
    pub high_watermark: i64,
    /// The voters, the leader first.
    pub voters: Vec<ReplicaProgress>,
    /// Non-voting learners (broker-only nodes, controllers not yet added as voters, removed
    /// voters still following the log).
    pub observers: Vec<ReplicaProgress>,
    /// The voters' CONTROLLER addresses (`host:port`) as the log's voter set records them.
    #[serde(default)]
    pub voter_endpoints: Vec<(u64, String)>,
}

/// One replica's progress as known to the leader.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaProgress {
    /// Node id.
    pub id: u64,
    /// One past the last entry the leader knows this replica holds (0: nothing known).
    pub log_end_offset: i64,
    /// True when the replica holds every committed entry.
    pub caught_up: bool,
}

fn end_offset(index: Option<u64>) -> i64 {
    index.map_or(0, |i| {
        i64::try_from(i).unwrap_or(i64::MAX).saturating_add(1)
    })
}

/// The quorum as `m`'s node sees it, or None unless that node is the leader.
pub fn quorum_info(m: &RaftMetrics<u64, BasicNode>) -> Option<QuorumInfo> {
    if m.state != ServerState::Leader || m.current_leader != Some(m.id) {
        return None;
    }
    let high_watermark = end_offset(m.last_applied.map(|l| l.index));
    let progress = |id: u64| {
        let log_end_offset = if id == m.id {
            end_offset(m.last_log_index)
        } else {
            let matched = m
                .replication
                .as_ref()
                .and_then(|r| r.get(&id).copied().flatten());
            end_offset(matched.map(|l| l.index))
        };
        ReplicaProgress {
            id,
            log_end_offset,
            caught_up: log_end_offset >= high_watermark,
        }
    };
    let membership = m.membership_config.membership();
    let mut voters: Vec<u64> = membership.voter_ids().collect();
    voters.sort_by_key(|v| (*v != m.id, *v));
    Some(QuorumInfo {
        leader: m.id,
        term: m.current_term,
        high_watermark,
        voter_endpoints: voters
            .iter()
            .filter_map(|v| Some((*v, membership.get_node(v)?.addr.clone())))
            .filter(|(_, addr)| !addr.is_empty())
            .collect(),
        voters: voters.into_iter().map(progress).collect(),
        observers: membership.learner_ids().map(progress).collect(),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::sync::Arc;

    use openraft::{CommittedLeaderId, LogId, Membership, StoredMembership};

    use super::*;

    fn log_id(index: u64) -> LogId<u64> {
        LogId::new(CommittedLeaderId::new(3, 1), index)
    }

    fn leader_metrics() -> RaftMetrics<u64, BasicNode> {
        let mut m = RaftMetrics::new_initial(1);
        m.state = ServerState::Leader;
        m.current_leader = Some(1);
        m.current_term = 3;
        m.last_log_index = Some(10);
        m.last_applied = Some(log_id(9));
        let voters: BTreeSet<u64> = [1, 2, 3].into();
        let all: BTreeSet<u64> = [1, 2, 3, 4].into();
        m.membership_config = Arc::new(StoredMembership::new(
            None,
            Membership::new(vec![voters], all),
        ));
        m.replication = Some(BTreeMap::from([
            (1, Some(log_id(10))),
            (2, Some(log_id(9))),
            (3, Some(log_id(4))),
            (4, None),
        ]));
        m
    }

    #[test]
    fn the_leader_reports_each_replicas_log_end_and_whether_it_caught_up() {
        let q = quorum_info(&leader_metrics()).unwrap();
        assert_eq!((q.leader, q.term, q.high_watermark), (1, 3, 10));
        let p = |id, log_end_offset, caught_up| ReplicaProgress {
            id,
            log_end_offset,
            caught_up,
        };
        assert_eq!(
            q.voters,
            vec![p(1, 11, true), p(2, 10, true), p(3, 5, false)]
        );
        assert_eq!(q.observers, vec![p(4, 0, false)]);
    }

    #[test]
    fn a_follower_has_no_view_of_the_quorum() {
        let mut m = leader_metrics();
        m.state = ServerState::Follower;
        m.current_leader = Some(2);
        assert_eq!(quorum_info(&m), None);
    }
}
