//! Per-partition backoff of a follower's fetcher (Kafka's `AbstractFetcherThread.delayPartitions`):
//! a partition whose last answer was an error (or could not be applied) is left out of the next
//! fetch requests until its delay has passed. Without it, one partition that keeps failing (a
//! leader that has no local log for it, say) makes every fetch return at once — the leader answers
//! errors without long-polling — while the other partitions' answers keep the fetcher going: a
//! fetch storm that keeps the leader's request threads busy (docs/reliability.md, bug J).
//!
//! Sans-IO: the caller passes the time.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use weir_log::TopicPartition;

use super::manager::FollowTarget;

/// Partitions held back until a time, for the target (leader and epoch) they failed with: a new
/// leader or epoch clears the delay (the error was probably about the old one).
#[derive(Debug, Default)]
pub(super) struct FetchDelays {
    until: HashMap<TopicPartition, (FollowTarget, Instant)>,
}

impl FetchDelays {
    /// Hold `tp` (fetched for `target`) back until `now + delay`.
    pub(super) fn delay(
        &mut self,
        tp: &TopicPartition,
        target: FollowTarget,
        now: Instant,
        delay: Duration,
    ) {
        self.until.insert(tp.clone(), (target, now + delay));
    }

    /// The partitions of `parts` to fetch now, and when the earliest held-back one is due (`None`
    /// when none is held back). Delays of partitions no longer followed, of another target, or
    /// already due are forgotten.
    pub(super) fn ready(
        &mut self,
        parts: Vec<(TopicPartition, FollowTarget)>,
        now: Instant,
    ) -> (Vec<(TopicPartition, FollowTarget)>, Option<Instant>) {
        let current: HashMap<&TopicPartition, &FollowTarget> =
            parts.iter().map(|(tp, t)| (tp, t)).collect();
        self.until.retain(|tp, (target, until)| {
            current.get(tp).is_some_and(|t| *t == target) && *until > now
        });
        let next = self.until.values().map(|(_, until)| *until).min();
        let ready = parts
            .into_iter()
            .filter(|(tp, _)| !self.until.contains_key(tp))
            .collect();
        (ready, next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(p: i32) -> TopicPartition {
        TopicPartition::new("t", p)
    }

    fn target(leader: i32, leader_epoch: i32) -> FollowTarget {
        FollowTarget {
            leader,
            leader_epoch,
        }
    }

    #[test]
    fn a_failed_partition_is_left_out_until_its_delay_passes() {
        let mut d = FetchDelays::default();
        let t0 = Instant::now();
        let parts = vec![(tp(0), target(1, 5)), (tp(1), target(1, 5))];
        d.delay(&tp(1), target(1, 5), t0, Duration::from_millis(200));
        let (ready, next) = d.ready(parts.clone(), t0 + Duration::from_millis(10));
        assert_eq!(ready, vec![(tp(0), target(1, 5))]);
        assert_eq!(next, Some(t0 + Duration::from_millis(200)));
        let (ready, next) = d.ready(parts.clone(), t0 + Duration::from_millis(200));
        assert_eq!(ready, parts);
        assert_eq!(next, None);
    }

    #[test]
    fn a_new_leader_or_epoch_clears_the_delay() {
        let mut d = FetchDelays::default();
        let t0 = Instant::now();
        d.delay(&tp(0), target(1, 5), t0, Duration::from_secs(1));
        let (ready, _) = d.ready(vec![(tp(0), target(1, 6))], t0);
        assert_eq!(ready, vec![(tp(0), target(1, 6))]);
        // Forgotten, not just skipped: back at the old target it is fetched too.
        let (ready, next) = d.ready(vec![(tp(0), target(1, 5))], t0);
        assert_eq!(ready.len(), 1);
        assert_eq!(next, None);
    }

    #[test]
    fn when_every_partition_is_held_back_the_earliest_due_time_is_given() {
        let mut d = FetchDelays::default();
        let t0 = Instant::now();
        d.delay(&tp(0), target(1, 5), t0, Duration::from_millis(300));
        d.delay(&tp(1), target(1, 5), t0, Duration::from_millis(100));
        let (ready, next) = d.ready(vec![(tp(0), target(1, 5)), (tp(1), target(1, 5))], t0);
        assert!(ready.is_empty());
        assert_eq!(next, Some(t0 + Duration::from_millis(100)));
    }
}
