//! What a partition leader knows about its followers, and the decisions that follow from it:
//! the high watermark, who has fallen out of sync, who may rejoin the ISR. Sans-IO: time is
//! passed in, nothing here touches a log, a socket or the metadata log.

use std::collections::BTreeMap;

/// One follower as its fetches show it (Kafka's `Replica` state on the leader).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FollowerState {
    /// The follower's log end offset (its last fetch offset); -1 until it has fetched in this
    /// leader epoch.
    pub log_end_offset: i64,
    /// Last time the follower was fully caught up (ms).
    pub last_caught_up_ms: i64,
    /// When the previous fetch arrived (ms).
    last_fetch_ms: i64,
    /// The leader's log end offset when the previous fetch arrived.
    last_fetch_leader_leo: i64,
}

/// Leader-side replication state of one partition for one leader epoch.
#[derive(Debug, Clone)]
pub struct LeaderState {
    /// The leader epoch this state belongs to.
    pub leader_epoch: i32,
    /// The log end offset when this epoch began; a follower must reach it to rejoin the ISR.
    pub epoch_start_offset: i64,
    /// This broker's own log end offset that is durable (fsynced, or acknowledged under a
    /// non-durable flush policy).
    pub local_durable_end: i64,
    followers: BTreeMap<i32, FollowerState>,
    /// An AlterPartition for this partition is in flight; do not send another.
    pub isr_change_pending: bool,
    /// Replicas an ISR expansion proposed at partition epoch `.0` adds: the controller may have
    /// committed it (and may then elect one of them) before this broker applies it, so until the
    /// image moves past that epoch they count toward the high watermark (Kafka's "maximal ISR").
    pending_expansion: Option<(i32, Vec<i32>)>,
}

impl LeaderState {
    /// State for a leader elected at `now` with the given followers (every replica but the
    /// leader). Every follower counts as caught up at the election, as in Kafka, so it has
    /// `replica.lag.time.max.ms` to fetch before it is considered out of sync.
    pub fn new(leader_epoch: i32, epoch_start_offset: i64, followers: &[i32], now: i64) -> Self {
        LeaderState {
            leader_epoch,
            epoch_start_offset,
            local_durable_end: epoch_start_offset,
            followers: followers
                .iter()
                .map(|&id| {
                    (
                        id,
                        FollowerState {
                            log_end_offset: -1,
                            last_caught_up_ms: now,
                            last_fetch_ms: now,
                            last_fetch_leader_leo: -1,
                        },
                    )
                })
                .collect(),
            isr_change_pending: false,
            pending_expansion: None,
        }
    }

    /// Record an expansion proposed at `partition_epoch` adding `joiners` (joined with an earlier
    /// one proposed at the same epoch).
    pub fn propose_expansion(&mut self, partition_epoch: i32, joiners: &[i32]) {
        match &mut self.pending_expansion {
            Some((e, ids)) if *e == partition_epoch => {
                ids.extend_from_slice(joiners);
                ids.sort_unstable();
                ids.dedup();
            }
            slot => *slot = Some((partition_epoch, joiners.to_vec())),
        }
    }

    /// Forget the pending expansion (the controller refused it for good).
    pub fn forget_expansion(&mut self) {
        self.pending_expansion = None;
    }

    /// The ISR the high watermark and the lag checks must respect: the image's `isr` (at
    /// `partition_epoch`) plus the members of an expansion proposed at that epoch. Once the image
    /// is past that epoch it shows the controller's decision, and `isr` alone is returned.
    pub fn maximal_isr(&self, isr: &[i32], partition_epoch: i32) -> Vec<i32> {
        let mut out = isr.to_vec();
        if let Some((e, ids)) = &self.pending_expansion {
            if *e == partition_epoch {
                out.extend(ids.iter().filter(|id| !isr.contains(id)));
            }
        }
        out
    }

    /// Make the follower set match `followers` (after a reassignment); new followers start as
    /// at election time.
    pub fn set_followers(&mut self, followers: &[i32], now: i64) {
        self.followers.retain(|id, _| followers.contains(id));
        for &id in followers {
            self.followers.entry(id).or_insert(FollowerState {
                log_end_offset: -1,
                last_caught_up_ms: now,
                last_fetch_ms: now,
                last_fetch_leader_leo: -1,
            });
        }
    }

    /// A follower's fetch from `fetch_offset` arrived at `now` while the leader's log ended at
    /// `leader_leo`. Kafka's rule for "caught up": the fetch reached the leader's end, or it
    /// reached the end the leader had at the previous fetch (then it was caught up then).
    /// Returns false for a broker that is not a follower of this partition.
    pub fn on_follower_fetch(
        &mut self,
        follower: i32,
        fetch_offset: i64,
        leader_leo: i64,
        now: i64,
    ) -> bool {
        let Some(f) = self.followers.get_mut(&follower) else {
            return false;
        };
        if fetch_offset >= leader_leo {
            f.last_caught_up_ms = f.last_caught_up_ms.max(now);
        } else if fetch_offset >= f.last_fetch_leader_leo && f.last_fetch_leader_leo >= 0 {
            f.last_caught_up_ms = f.last_caught_up_ms.max(f.last_fetch_ms);
        }
        f.log_end_offset = fetch_offset;
        f.last_fetch_leader_leo = leader_leo;
        f.last_fetch_ms = now;
        true
    }

    /// The follower's state, if it is one.
    pub fn follower(&self, id: i32) -> Option<&FollowerState> {
        self.followers.get(&id)
    }

    /// The high watermark the ISR allows: the smallest log end offset among the leader (its
    /// durable end) and every other ISR member. An ISR member that has not fetched in this epoch
    /// makes it -1: nothing more is committed (not even what the new leader already had past the
    /// old high watermark) until it fetches or leaves the ISR, as in Kafka.
    pub fn high_watermark(&self, leader: i32, isr: &[i32]) -> i64 {
        let mut hw = self.local_durable_end;
        for id in isr.iter().filter(|&&id| id != leader) {
            let leo = self
                .followers
                .get(id)
                .map(|f| f.log_end_offset)
                .unwrap_or(-1);
            hw = hw.min(leo);
        }
        hw
    }

    /// ISR members (other than the leader) not caught up for longer than `lag_max_ms`
    /// (`replica.lag.time.max.ms`).
    pub fn out_of_sync(&self, leader: i32, isr: &[i32], lag_max_ms: i64, now: i64) -> Vec<i32> {
        isr.iter()
            .copied()
            .filter(|&id| id != leader)
            .filter(|id| {
                self.followers
                    .get(id)
                    .is_some_and(|f| now - f.last_caught_up_ms > lag_max_ms)
            })
            .collect()
    }

    /// Followers outside the ISR that may rejoin it: their log end reached the high watermark
    /// and the start of this leader epoch (Kafka's `isFollowerInSync`).
    pub fn may_join_isr(&self, isr: &[i32], high_watermark: i64) -> Vec<i32> {
        self.followers
            .iter()
            .filter(|(id, f)| {
                !isr.contains(id)
                    && f.log_end_offset >= 0
                    && f.log_end_offset >= high_watermark
                    && f.log_end_offset >= self.epoch_start_offset
            })
            .map(|(&id, _)| id)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn high_watermark_is_the_smallest_isr_end() {
        let mut s = LeaderState::new(3, 100, &[2, 3], 0);
        s.local_durable_end = 150;
        // Nobody fetched yet: nothing can be committed.
        assert_eq!(s.high_watermark(1, &[1, 2, 3]), -1);
        s.on_follower_fetch(2, 130, 150, 5);
        assert_eq!(
            s.high_watermark(1, &[1, 2, 3]),
            -1,
            "follower 3 still unknown"
        );
        s.on_follower_fetch(2, 140, 150, 10);
        s.on_follower_fetch(3, 120, 150, 10);
        assert_eq!(s.high_watermark(1, &[1, 2, 3]), 120);
        // Out of the ISR, follower 3 no longer holds the high watermark back.
        assert_eq!(s.high_watermark(1, &[1, 2]), 140);
        // The leader's own durable end bounds it too.
        s.on_follower_fetch(2, 150, 150, 11);
        s.local_durable_end = 145;
        assert_eq!(s.high_watermark(1, &[1, 2]), 145);
        // Single-replica ISR: the leader alone.
        assert_eq!(s.high_watermark(1, &[1]), 145);
    }

    #[test]
    fn lag_is_time_since_last_caught_up() {
        let mut s = LeaderState::new(0, 0, &[2, 3], 1_000);
        // Follower 2 keeps reaching the leader's end; 3 fetches but stays behind.
        s.on_follower_fetch(2, 10, 10, 5_000);
        s.on_follower_fetch(3, 5, 10, 5_000);
        s.on_follower_fetch(3, 8, 20, 6_000);
        assert!(s.out_of_sync(1, &[1, 2, 3], 30_000, 20_000).is_empty());
        assert_eq!(s.out_of_sync(1, &[1, 2, 3], 30_000, 31_001), vec![3]);
        // Reaching the end the leader had at the previous fetch counts as caught up then.
        s.on_follower_fetch(3, 20, 30, 32_000);
        s.on_follower_fetch(2, 30, 30, 32_000);
        assert_eq!(s.follower(3).map(|f| f.last_caught_up_ms), Some(6_000));
        assert_eq!(s.out_of_sync(1, &[1, 2, 3], 30_000, 36_001), vec![3]);
        s.on_follower_fetch(3, 30, 30, 37_000);
        assert!(s.out_of_sync(1, &[1, 2, 3], 30_000, 40_000).is_empty());
        // Follower 2 stopped fetching at 32 000.
        assert_eq!(s.out_of_sync(1, &[1, 2, 3], 30_000, 62_001), vec![2]);
        // Unknown brokers are ignored.
        assert!(!s.on_follower_fetch(9, 0, 0, 1));
    }

    #[test]
    fn rejoin_needs_high_watermark_and_epoch_start() {
        let mut s = LeaderState::new(5, 50, &[2, 3], 0);
        s.on_follower_fetch(3, 40, 60, 1);
        assert!(
            s.may_join_isr(&[1, 2], 40).is_empty(),
            "below the epoch start"
        );
        s.on_follower_fetch(3, 55, 60, 2);
        assert!(
            s.may_join_isr(&[1, 2], 58).is_empty(),
            "below the high watermark"
        );
        assert_eq!(s.may_join_isr(&[1, 2], 55), vec![3]);
        assert!(
            s.may_join_isr(&[1, 2, 3], 55).is_empty(),
            "already in the ISR"
        );
    }

    #[test]
    fn a_proposed_expansion_holds_the_high_watermark_until_the_image_moves_on() {
        let mut s = LeaderState::new(1, 0, &[2, 3], 0);
        s.local_durable_end = 100;
        s.on_follower_fetch(2, 100, 100, 1);
        s.on_follower_fetch(3, 60, 100, 1);
        // Follower 3 caught up to the high watermark and the leader asked to add it at
        // partition epoch 7; until the image shows the outcome, 3's end bounds the high watermark.
        s.propose_expansion(7, &[3]);
        let isr = s.maximal_isr(&[1, 2], 7);
        assert_eq!(isr, vec![1, 2, 3]);
        assert_eq!(s.high_watermark(1, &isr), 60);
        // The image moved to epoch 8 (with or without 3): the image's ISR alone counts.
        assert_eq!(s.maximal_isr(&[1, 2], 8), vec![1, 2]);
        assert_eq!(s.maximal_isr(&[1, 2, 3], 8), vec![1, 2, 3]);
        // A refused expansion is forgotten.
        s.forget_expansion();
        assert_eq!(s.maximal_isr(&[1, 2], 7), vec![1, 2]);
        // Proposals at the same epoch accumulate; a new epoch replaces them.
        s.propose_expansion(9, &[3]);
        s.propose_expansion(9, &[2, 3]);
        assert_eq!(s.maximal_isr(&[1], 9), vec![1, 2, 3]);
        s.propose_expansion(10, &[2]);
        assert_eq!(s.maximal_isr(&[1], 9), vec![1]);
        assert_eq!(s.maximal_isr(&[1], 10), vec![1, 2]);
    }

    #[test]
    fn reassignment_keeps_known_followers() {
        let mut s = LeaderState::new(0, 0, &[2], 0);
        s.on_follower_fetch(2, 7, 7, 1);
        s.set_followers(&[2, 4], 5);
        assert_eq!(s.follower(2).map(|f| f.log_end_offset), Some(7));
        assert_eq!(s.follower(4).map(|f| f.log_end_offset), Some(-1));
        s.set_followers(&[4], 6);
        assert!(s.follower(2).is_none());
    }
}
