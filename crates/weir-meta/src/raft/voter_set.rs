//! The voter-set decisions of the dynamic metadata quorum (KIP-853), pure: which additions and
//! removals are refused, and the change a follower forwards to the Raft leader.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::MetaError;

/// A voter change, as forwarded to the Raft leader.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum VoterChange {
    /// Make `id` (reachable at `addr`, its CONTROLLER listener) a voter.
    Add {
        /// Node id.
        id: u64,
        /// `host:port`.
        addr: String,
    },
    /// Stop `id` voting (it stays a learner, following the log, while it runs).
    Remove {
        /// Node id.
        id: u64,
    },
}

fn majority_live(set: &BTreeSet<u64>, live: &BTreeSet<u64>) -> bool {
    set.intersection(live).count() * 2 > set.len()
}

/// The voter set after adding `id` to `voters`, given the replicas known to be `live` (caught
/// up): refused with DUPLICATE_VOTER when `id` already votes, REQUEST_TIMED_OUT (`Raft`) when `id`
/// is not live (as Kafka, which waits for the new voter to catch up), and INVALID_REQUEST when the
/// new set would have no live majority (the change could never commit).
pub fn plan_add(
    voters: &BTreeSet<u64>,
    live: &BTreeSet<u64>,
    id: u64,
) -> Result<BTreeSet<u64>, MetaError> {
    if voters.contains(&id) {
        return Err(MetaError::DuplicateVoter(format!(
            "node {id} is already in the set of voters {voters:?}"
        )));
    }
    if !live.contains(&id) {
        return Err(MetaError::Raft(format!(
            "node {id} has not caught up with the metadata log (is it running and following \
             it as an observer?)"
        )));
    }
    let mut next = voters.clone();
    next.insert(id);
    if !majority_live(&next, live) {
        return Err(MetaError::InvalidRequest(format!(
            "adding voter {id} to {voters:?} needs a majority of {next:?} reachable; only \
             {:?} answered",
            next.intersection(live).collect::<Vec<_>>()
        )));
    }
    Ok(next)
}

/// The voter set after removing `id` from `voters`, given the replicas known to be `live`:
/// refused with VOTER_NOT_FOUND when `id` does not vote or is the only voter (as Kafka), and
/// with INVALID_REQUEST when the old or the new set would have no live majority — the joint
/// configuration could not commit and the quorum would be lost.
pub fn plan_remove(
    voters: &BTreeSet<u64>,
    live: &BTreeSet<u64>,
    id: u64,
) -> Result<BTreeSet<u64>, MetaError> {
    if !voters.contains(&id) || voters.len() == 1 {
        return Err(MetaError::VoterNotFound(format!(
            "cannot remove voter {id} from the set of voters {voters:?}"
        )));
    }
    let mut next = voters.clone();
    next.remove(&id);
    if !majority_live(voters, live) || !majority_live(&next, live) {
        return Err(MetaError::InvalidRequest(format!(
            "removing voter {id} would lose the metadata quorum: {next:?} would remain and only \
             {:?} of them answered",
            next.intersection(live).collect::<Vec<_>>()
        )));
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ids: &[u64]) -> BTreeSet<u64> {
        ids.iter().copied().collect()
    }

    #[test]
    fn a_voter_is_added_when_the_new_set_keeps_a_live_majority() {
        assert_eq!(
            plan_add(&set(&[1, 2, 3]), &set(&[1, 2, 3, 4]), 4).unwrap(),
            set(&[1, 2, 3, 4])
        );
        // One old voter down: 1, 2 and 4 are a majority of four.
        assert!(plan_add(&set(&[1, 2, 3]), &set(&[1, 2, 4]), 4).is_ok());
        // Two old voters down: two of four is no majority.
        assert!(matches!(
            plan_add(&set(&[1, 2, 3]), &set(&[1, 4]), 4),
            Err(MetaError::InvalidRequest(_))
        ));
        // The new voter has not caught up.
        assert!(matches!(
            plan_add(&set(&[1, 2, 3]), &set(&[1, 2, 3]), 4),
            Err(MetaError::Raft(_))
        ));
    }

    #[test]
    fn adding_a_voter_twice_is_a_duplicate() {
        assert!(matches!(
            plan_add(&set(&[1, 2, 3]), &set(&[1, 2, 3]), 2),
            Err(MetaError::DuplicateVoter(_))
        ));
    }

    #[test]
    fn removing_an_unknown_or_the_last_voter_is_voter_not_found() {
        assert!(matches!(
            plan_remove(&set(&[1, 2, 3]), &set(&[1, 2, 3]), 9),
            Err(MetaError::VoterNotFound(_))
        ));
        assert!(matches!(
            plan_remove(&set(&[1]), &set(&[1]), 1),
            Err(MetaError::VoterNotFound(_))
        ));
    }

    #[test]
    fn a_removal_that_would_lose_the_quorum_is_refused() {
        // 3 is down: removing 2 leaves {1, 3}, of which only 1 answers.
        assert!(matches!(
            plan_remove(&set(&[1, 2, 3]), &set(&[1, 2]), 2),
            Err(MetaError::InvalidRequest(_))
        ));
        // Removing the dead one is what the operator should do.
        assert_eq!(
            plan_remove(&set(&[1, 2, 3]), &set(&[1, 2]), 3).unwrap(),
            set(&[1, 2])
        );
        // Two voters left, both live: one may go (down to a sole voter).
        assert_eq!(
            plan_remove(&set(&[1, 2]), &set(&[1, 2]), 1).unwrap(),
            set(&[2])
        );
        // Four voters, two down: the old set has no live majority.
        assert!(matches!(
            plan_remove(&set(&[1, 2, 3, 4]), &set(&[1, 2]), 4),
            Err(MetaError::InvalidRequest(_))
        ));
    }
}
