//! One replica's partition log as the replication model needs it: records `(leader epoch,
//! value)` at consecutive offsets, the leader-epoch cache, the fsynced prefix and the high
//! watermark, with `weir_log::PartitionLog`'s rules for epochs (`record_epoch`, `assign_epoch`,
//! `end_offset_for_epoch`), truncation (`truncate_to`) and crash recovery (the unsynced tail is
//! lost; cached epochs starting past the log end are dropped).

/// A record: the leader epoch it was written in, and the producer's value.
pub type Entry = (i32, u64);

/// A replica's log.
#[derive(Debug, Clone, Default)]
pub struct ReplicaLog {
    entries: Vec<Entry>,
    epochs: Vec<(i32, i64)>,
    durable: usize,
    /// The high watermark (only moves forward, except when truncation or a crash cuts the log).
    pub hw: i64,
    /// Bumped on every truncation and crash, so a completing fsync knows what it covers.
    pub generation: u64,
}

impl ReplicaLog {
    /// The log end offset.
    pub fn leo(&self) -> i64 {
        self.entries.len() as i64
    }

    /// The end of the fsynced prefix.
    pub fn durable_end(&self) -> i64 {
        self.durable as i64
    }

    /// The record at `offset`.
    pub fn get(&self, offset: i64) -> Option<Entry> {
        usize::try_from(offset)
            .ok()
            .and_then(|o| self.entries.get(o).copied())
    }

    /// The records from `offset`, at most `max`.
    pub fn read(&self, offset: i64, max: usize) -> Vec<Entry> {
        let from = (offset.max(0) as usize).min(self.entries.len());
        let to = (from + max).min(self.entries.len());
        self.entries[from..to].to_vec()
    }

    /// The latest cached epoch, -1 when none.
    pub fn latest_epoch(&self) -> i32 {
        self.epochs.last().map_or(-1, |&(e, _)| e)
    }

    /// `record_epoch`: `epoch` starts at `start` if newer than the latest; entries starting at
    /// or after `start` are replaced.
    pub fn assign_epoch(&mut self, epoch: i32, start: i64) {
        if epoch < 0 || self.epochs.last().is_some_and(|&(e, _)| e >= epoch) {
            return;
        }
        self.epochs.retain(|&(_, s)| s < start);
        self.epochs.push((epoch, start));
    }

    /// A leader's append: returns the offset.
    pub fn append(&mut self, epoch: i32, value: u64) -> i64 {
        let offset = self.leo();
        self.assign_epoch(epoch, offset);
        self.entries.push((epoch, value));
        offset
    }

    /// A follower's append of records fetched from `base` (which must be the log end offset,
    /// as `append_replicated` refuses batches below it).
    pub fn append_replicated(&mut self, base: i64, entries: &[Entry]) -> Result<(), String> {
        if base != self.leo() {
            return Err(format!(
                "fetched records start at {base}, log end is {}",
                self.leo()
            ));
        }
        for &(epoch, value) in entries {
            let o = self.leo();
            self.assign_epoch(epoch, o);
            self.entries.push((epoch, value));
        }
        Ok(())
    }

    /// `fsync` covering the log up to `end` (if no truncation happened since `generation`).
    pub fn synced(&mut self, end: i64, generation: u64) {
        if generation == self.generation {
            self.durable = self
                .durable
                .max((end.max(0) as usize).min(self.entries.len()));
        }
    }

    /// `truncate_to`: remove records at or above `offset`; returns the removed records with
    /// their offsets.
    pub fn truncate_to(&mut self, offset: i64) -> Vec<(i64, Entry)> {
        let offset = offset.max(0);
        if offset >= self.leo() {
            self.epochs.retain(|&(_, s)| s < offset);
            return Vec::new();
        }
        let removed: Vec<(i64, Entry)> = self.entries[offset as usize..]
            .iter()
            .enumerate()
            .map(|(i, &e)| (offset + i as i64, e))
            .collect();
        self.entries.truncate(offset as usize);
        let leo = self.leo();
        self.durable = self.durable.min(self.entries.len());
        self.hw = self.hw.min(leo);
        self.epochs.retain(|&(_, s)| s < leo);
        self.generation += 1;
        removed
    }

    /// A crash: the unsynced tail is lost; recovery drops epochs starting past the log end.
    pub fn crash(&mut self) {
        self.entries.truncate(self.durable);
        let leo = self.leo();
        self.hw = self.hw.min(leo);
        self.epochs.retain(|&(_, s)| s <= leo);
        self.generation += 1;
    }

    /// Kafka's `LeaderEpochFileCache.endOffsetFor`, as `PartitionLog::end_offset_for_epoch`.
    pub fn end_offset_for_epoch(&self, requested: i32) -> (i32, i64) {
        if requested == -1 {
            return (-1, -1);
        }
        let Some(&(latest, _)) = self.epochs.last() else {
            return (-1, -1);
        };
        if requested == latest {
            return (latest, self.leo());
        }
        let Some(&(_, higher_start)) = self.epochs.iter().find(|&&(e, _)| e > requested) else {
            return (-1, -1);
        };
        match self.epochs.iter().rev().find(|&&(e, _)| e <= requested) {
            Some(&(floor, _)) => (floor, higher_start),
            None => (requested, higher_start),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_truncation_and_crash() {
        let mut l = ReplicaLog::default();
        l.append(1, 10);
        l.append(1, 11);
        l.assign_epoch(3, 2);
        l.append(3, 12);
        assert_eq!(l.end_offset_for_epoch(1), (1, 2));
        assert_eq!(l.end_offset_for_epoch(2), (1, 2));
        assert_eq!(l.end_offset_for_epoch(3), (3, 3));
        assert_eq!(l.end_offset_for_epoch(0), (0, 0));
        assert_eq!(l.end_offset_for_epoch(4), (-1, -1));
        l.synced(2, l.generation);
        l.crash();
        assert_eq!((l.leo(), l.latest_epoch()), (2, 3));
        assert_eq!(l.truncate_to(1), vec![(1, (1, 11))]);
        assert_eq!((l.leo(), l.latest_epoch()), (1, 1));
        assert!(l.append_replicated(2, &[(4, 1)]).is_err());
        l.append_replicated(1, &[(4, 1)]).unwrap();
        assert_eq!(l.end_offset_for_epoch(1), (1, 1));
    }
}
