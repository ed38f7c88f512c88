//! The coordinator's timers (the broker calls [`GroupCoordinator::tick`] every 100 ms).

use crate::classic::Effects;
use crate::classic_ops::deliver;
use crate::coordinator::GroupCoordinator;
use crate::group::{group_record, Membership};
use crate::shard::GroupShard;

impl GroupCoordinator {
    /// Advance every group's timers (session expiry, join deadlines, KIP-848 fencing) and, every
    /// `offsets.retention.check.interval.ms`, expire offsets of groups empty for longer than
    /// `offsets.retention.minutes`.
    pub async fn tick(&self) {
        let limits = self.limits();
        let mut pending: Vec<(String, Effects)> = Vec::new();
        let mut consumer_ids = Vec::new();
        self.runtime.scan(|_, s, now| {
            for (id, g) in s.groups.iter_mut() {
                let was_empty = g.is_empty();
                match &mut g.membership {
                    Membership::Classic(c) => {
                        let fx = c.tick(now, &limits);
                        if !fx.joins.is_empty() || !fx.syncs.is_empty() || fx.persist {
                            pending.push((id.clone(), fx));
                        }
                    }
                    Membership::Consumer(_) => consumer_ids.push(id.clone()),
                }
                if !was_empty && g.is_empty() {
                    g.empty_since = now;
                }
            }
        });
        for (id, fx) in pending {
            if !fx.persist {
                deliver(fx, &Ok(()));
                continue;
            }
            // Persist the group's metadata, then deliver (waiters get the write's error).
            let r = self
                .runtime
                .write(
                    &id,
                    |s: &mut GroupShard, now| {
                        let recs = match s.groups.get(&id).map(|g| &g.membership) {
                            Some(Membership::Classic(c)) => vec![group_record(&id, c, now)],
                            _ => Vec::new(),
                        };
                        Ok((recs, fx))
                    },
                    |_, written, fx| deliver(fx, &written),
                )
                .await;
            if let Err(e) = r {
                tracing::warn!(group = %id, error = %e, "could not persist group metadata");
            }
        }
        for id in consumer_ids {
            self.tick_consumer_group(&id).await;
        }
        let now = self.now();
        let due = {
            let mut last = self
                .last_expiry_check
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            let due = now - *last >= self.config.offsets_retention_check_interval_ms;
            if due {
                *last = now;
            }
            due
        };
        if due {
            self.expire(now).await;
        }
    }
}
