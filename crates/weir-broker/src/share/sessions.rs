//! Share sessions (KIP-932): one per (group, member) on a partition leader, holding the
//! share-partitions the member fetches and the epoch its next ShareFetch / ShareAcknowledge
//! must carry. Epoch 0 opens (or replaces) a session, -1 closes it, any other epoch must be
//! the session's current one; each request moves it on by one (1 after `i32::MAX`).

use std::collections::{BTreeSet, HashMap};

use kafka_protocol::error::ResponseError;

use crate::error::BrokerError;

/// A share-partition of a session: (topic id, partition).
pub type SessionPartition = (uuid::Uuid, i32);

/// What a request's epoch did to the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionStep {
    /// A new session (epoch 0) with these partitions; the previous one's partitions (if a
    /// session was replaced) are returned so the member's records there can be released.
    Opened {
        /// Partitions of the replaced session not in the new one.
        replaced: Vec<SessionPartition>,
    },
    /// The session moved to its next epoch.
    Continued,
    /// The session was closed (epoch -1); these were its partitions.
    Closed(Vec<SessionPartition>),
}

#[derive(Debug, Default)]
struct Session {
    epoch: i32,
    partitions: BTreeSet<SessionPartition>,
    /// The connection that opened the session (0: not bound).
    connection: u64,
}

/// The share sessions of this broker.
#[derive(Debug)]
pub struct ShareSessions {
    sessions: HashMap<(String, String), Session>,
    max: usize,
}

fn next_epoch(e: i32) -> i32 {
    if e == i32::MAX {
        1
    } else {
        e + 1
    }
}

impl ShareSessions {
    /// No sessions; at most `max` (`group.share.max.share.sessions`).
    pub fn new(max: usize) -> Self {
        ShareSessions {
            sessions: HashMap::new(),
            max,
        }
    }

    /// Apply a request's `epoch` for (group, member): `add` / `forget` change the session's
    /// partitions (a fetch; an acknowledge passes none and may not open a session,
    /// `may_open` false). SHARE_SESSION_NOT_FOUND (122) when no session exists for a non-zero
    /// epoch, INVALID_SHARE_SESSION_EPOCH (123) for a wrong epoch (or epoch 0 on an
    /// acknowledge), SHARE_SESSION_LIMIT_REACHED (133) when full.
    pub fn step(
        &mut self,
        group: &str,
        member: &str,
        epoch: i32,
        may_open: bool,
        add: &[SessionPartition],
        forget: &[SessionPartition],
    ) -> Result<SessionStep, BrokerError> {
        let key = (group.to_string(), member.to_string());
        if epoch == 0 {
            if !may_open {
                return Err(BrokerError::kafka(
                    ResponseError::InvalidShareSessionEpoch,
                    "ShareAcknowledge cannot open a share session (epoch 0)",
                ));
            }
            let old = self.sessions.remove(&key);
            if old.is_none() && self.sessions.len() >= self.max {
                return Err(BrokerError::kafka(
                    ResponseError::ShareSessionLimitReached,
                    format!("{} share sessions are open on this broker", self.max),
                ));
            }
            let partitions: BTreeSet<SessionPartition> = add
                .iter()
                .filter(|p| !forget.contains(p))
                .copied()
                .collect();
            let replaced = old
                .map(|s| s.partitions.difference(&partitions).copied().collect())
                .unwrap_or_default();
            self.sessions.insert(
                key,
                Session {
                    epoch: 1,
                    partitions,
                    connection: 0,
                },
            );
            return Ok(SessionStep::Opened { replaced });
        }
        let Some(s) = self.sessions.get_mut(&key) else {
            return Err(BrokerError::kafka(
                ResponseError::ShareSessionNotFound,
                format!("no share session for member {member} of group {group}"),
            ));
        };
        if epoch == -1 {
            let s = self.sessions.remove(&key).unwrap_or_default();
            return Ok(SessionStep::Closed(s.partitions.into_iter().collect()));
        }
        if epoch != s.epoch {
            return Err(BrokerError::kafka(
                ResponseError::InvalidShareSessionEpoch,
                format!("share session epoch {epoch}, expected {}", s.epoch),
            ));
        }
        s.epoch = next_epoch(s.epoch);
        s.partitions.extend(add.iter().copied());
        for f in forget {
            s.partitions.remove(f);
        }
        Ok(SessionStep::Continued)
    }

    /// The partitions of (group, member)'s session (empty when none).
    pub fn partitions(&self, group: &str, member: &str) -> Vec<SessionPartition> {
        self.sessions
            .get(&(group.to_string(), member.to_string()))
            .map(|s| s.partitions.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Bind (group, member)'s session to the connection that opened it (after an epoch-0
    /// ShareFetch); a no-op when there is no such session.
    pub fn bind(&mut self, group: &str, member: &str, connection: u64) {
        if let Some(s) = self
            .sessions
            .get_mut(&(group.to_string(), member.to_string()))
        {
            s.connection = connection;
        }
    }

    /// Remove the sessions opened on `connection` (it closed); returns (group, member, the
    /// session's partitions) of each, so that what the members hold there can be released.
    pub fn close_connection(
        &mut self,
        connection: u64,
    ) -> Vec<(String, String, Vec<SessionPartition>)> {
        let keys: Vec<(String, String)> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.connection == connection && connection != 0)
            .map(|(k, _)| k.clone())
            .collect();
        keys.into_iter()
            .filter_map(|k| {
                let s = self.sessions.remove(&k)?;
                Some((k.0, k.1, s.partitions.into_iter().collect()))
            })
            .collect()
    }

    /// Drop every session of `group` (the group was deleted).
    pub fn drop_group(&mut self, group: &str) {
        self.sessions.retain(|(g, _), _| g != group);
    }

    /// Drop (group, member)'s session (it left the group or its session expired).
    pub fn drop_member(&mut self, group: &str, member: &str) {
        self.sessions
            .remove(&(group.to_string(), member.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_as_kip_932() {
        let t = uuid::Uuid::from_u128(7);
        let mut s = ShareSessions::new(1);
        let code = |r: Result<SessionStep, BrokerError>| r.err().map(|e| e.code());
        assert_eq!(code(s.step("g", "m", 1, true, &[], &[])), Some(122));
        assert_eq!(code(s.step("g", "m", 0, false, &[], &[])), Some(123));
        s.step("g", "m", 0, true, &[(t, 0)], &[]).unwrap();
        assert_eq!(code(s.step("g", "m2", 0, true, &[(t, 0)], &[])), Some(133));
        assert_eq!(code(s.step("g", "m", 2, true, &[], &[])), Some(123));
        assert_eq!(
            s.step("g", "m", 1, true, &[], &[]).unwrap(),
            SessionStep::Continued
        );
        assert_eq!(s.partitions("g", "m"), vec![(t, 0)]);
        assert_eq!(
            s.step("g", "m", -1, false, &[], &[]).unwrap(),
            SessionStep::Closed(vec![(t, 0)])
        );
        assert_eq!(code(s.step("g", "m", 2, true, &[], &[])), Some(122));
    }

    #[test]
    fn a_closed_connection_takes_only_its_own_sessions() {
        let t = uuid::Uuid::from_u128(7);
        let mut s = ShareSessions::new(10);
        s.step("g", "a", 0, true, &[(t, 0)], &[]).unwrap();
        s.bind("g", "a", 5);
        s.step("g", "b", 0, true, &[(t, 1)], &[]).unwrap();
        s.bind("g", "b", 6);
        assert_eq!(
            s.close_connection(5),
            vec![("g".to_string(), "a".to_string(), vec![(t, 0)])]
        );
        assert!(s.partitions("g", "a").is_empty());
        assert_eq!(s.partitions("g", "b"), vec![(t, 1)]);
        assert!(s.close_connection(5).is_empty());
        assert!(s.close_connection(0).is_empty());
    }
}
