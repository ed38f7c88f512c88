//! The data invariants of the replication model.

use std::collections::BTreeMap;

use super::log::Entry;
use super::{Repl, ATTEMPT_BITS, TOPIC};

impl Repl {
    /// Record that a leader wrote `(epoch, value)` at `offset`: a different record at the same
    /// offset and epoch breaks log matching (an epoch was reused).
    pub(super) fn note_written(
        &mut self,
        b: i32,
        offset: i64,
        epoch: i32,
        value: u64,
    ) -> Result<(), String> {
        match self.written.insert((offset, epoch), value) {
            Some(v) if v != value && self.p.check_hw => Err(format!(
                "log matching: broker {b} wrote value {value} at offset {offset} in leader epoch \
                 {epoch}, where value {v} was already written in the same epoch"
            )),
            _ => Ok(()),
        }
    }

    /// A record was acknowledged: it must not replace another acknowledged record.
    pub(super) fn note_acked(&mut self, b: i32, offset: i64, entry: Entry) -> Result<(), String> {
        self.w.stats.acked += 1;
        self.w
            .note(|| format!("ack: broker {b} offset {offset} {entry:?}"));
        match self.committed.insert(offset, entry) {
            Some(old) if old != entry => Err(format!(
                "acknowledged record lost: offset {offset} was acknowledged as {old:?} \
                 (epoch, value) and is now acknowledged as {entry:?} by broker {b}"
            )),
            _ => Ok(()),
        }
    }

    /// Every acknowledged record must be in `b`'s log (checked when `b` starts to lead).
    pub(super) fn check_has_committed(&self, b: i32, why: &str) -> Result<(), String> {
        let log = &self.brokers[&b].log;
        for (&o, &e) in &self.committed {
            if log.get(o) != Some(e) {
                return Err(format!(
                    "acknowledged record lost: broker {b} {why} without the record {e:?} \
                     (epoch, value) acknowledged at offset {o} (it has {:?}; log end {})",
                    log.get(o),
                    log.leo()
                ));
            }
        }
        Ok(())
    }

    /// A replica removed records: none of them may be an acknowledged record.
    pub(super) fn check_truncation(&self, b: i32, removed: &[(i64, Entry)]) -> Result<(), String> {
        for (o, e) in removed {
            if self.committed.get(o) == Some(e) {
                return Err(format!(
                    "broker {b} truncated the acknowledged record {e:?} at offset {o}"
                ));
            }
        }
        Ok(())
    }

    pub(super) fn final_checks(&self) -> Result<(), String> {
        let p = self
            .image
            .partition(TOPIC, 0)
            .ok_or("the partition is gone")?;
        if p.leader >= 0 && self.brokers[&p.leader].leader.is_some() {
            self.check_has_committed(p.leader, "leads at the end")?;
        }
        // Order: the producer sends sequence n + 1 only after n was acknowledged, so the first
        // offset of each acknowledged sequence grows with the sequence.
        let mut first: BTreeMap<u64, i64> = BTreeMap::new();
        for (&o, &(_, v)) in &self.committed {
            first.entry(v >> ATTEMPT_BITS).or_insert(o);
        }
        let mut last = -1;
        for (n, o) in first {
            if o <= last {
                return Err(format!(
                    "order: sequence {n} was acknowledged first at offset {o}, before an earlier one"
                ));
            }
            last = o;
        }
        Ok(())
    }
}
