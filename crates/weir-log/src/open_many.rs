//! Opening, creating and starting leader epochs of many partitions at once (a new topic with
//! thousands of partitions, or every partition of a node at start-up). One by one this cost a few
//! fsyncs each in a row: 10,000 partitions took minutes. Here the per-partition work runs on a few
//! threads (`parallel.rs`; concurrent fsyncs overlap on the device, and share journal commits on
//! a file system with a journal) and the
//! directory entries of every new partition directory of a log dir are made durable by one fsync
//! of that log dir instead of one each. Nothing is made durable later than before: every file,
//! directory and checkpoint that a single [`LogManager::get_or_create`] or
//! [`PartitionLog::assign_epoch`] made durable before returning is durable before these return.

use std::collections::HashMap;
use std::sync::Arc;

use crate::checkpoint::fsync_dir;
use crate::log_manager::{offline_error, LogManager};
use crate::partition_log::PartitionLog;
use crate::{LogConfig, LogError, TopicPartition};

impl LogManager {
    /// [`LogManager::get_or_create`] for many partitions: the results are in the order of
    /// `items`. Partitions already open are returned as they are; the others are opened (or
    /// created in the online dir with the fewest partitions) on a few threads. The directories
    /// created in one log dir are made durable by one fsync of that dir before any of their
    /// partitions is opened; each new partition's segment files are made durable by an fsync of
    /// its own directory before this returns, as with `get_or_create`. A failure to create a
    /// directory takes its log dir offline (as Kafka does on an I/O error in a log dir); every
    /// partition of an offline dir is an error.
    pub fn get_or_create_many(
        &self,
        items: &[(TopicPartition, LogConfig)],
    ) -> Vec<Result<Arc<PartitionLog>, LogError>> {
        let _opening = self.opening.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<Option<Result<Arc<PartitionLog>, LogError>>> = items
            .iter()
            .map(|(tp, _)| {
                if self.is_offline(tp) {
                    return Some(Err(offline_error(tp)));
                }
                self.read_logs().get(tp).cloned().map(Ok)
            })
            .collect();
        // Place every partition not open yet and create the missing directories. A partition
        // named twice is opened once (`dups`: later item, first item).
        let mut to_open: Vec<(usize, usize)> = Vec::new(); // (item, dir)
        let mut dups: Vec<(usize, usize)> = Vec::new();
        {
            let mut placed = self.placed.write().unwrap_or_else(|e| e.into_inner());
            let mut counts = vec![0usize; self.dirs.len()];
            for &i in placed.values() {
                counts[i] += 1;
            }
            let mut first: HashMap<&TopicPartition, usize> = HashMap::new();
            for (k, (tp, _)) in items.iter().enumerate() {
                if out[k].is_some() {
                    continue;
                }
                if let Some(&f) = first.get(tp) {
                    dups.push((k, f));
                    continue;
                }
                first.insert(tp, k);
                let i = match placed.get(tp) {
                    Some(&i) => i,
                    // The online dir with the fewest partitions (the first of equals), as
                    // Kafka places a new partition.
                    None => match (0..self.dirs.len())
                        .filter(|&i| !self.dirs[i].is_offline())
                        .min_by_key(|&i| (counts[i], i))
                    {
                        Some(i) => {
                            counts[i] += 1;
                            i
                        }
                        None => {
                            out[k] = Some(Err(offline_error(tp)));
                            continue;
                        }
                    },
                };
                if self.dirs[i].is_offline() {
                    out[k] = Some(Err(offline_error(tp)));
                    continue;
                }
                placed.insert(tp.clone(), i);
                to_open.push((k, i));
            }
        }
        // The directories are created without holding `placed` (every read and append looks a
        // partition up in it); one fsync per log dir then makes every directory created in it
        // durable, before any file is created inside them.
        let mut created: HashMap<usize, Vec<usize>> = HashMap::new();
        let mut failed: Vec<usize> = Vec::new();
        for &(k, i) in &to_open {
            let d = &self.dirs[i];
            let dir = d.path.join(items[k].0.dir_name());
            if dir.exists() {
                continue;
            }
            match std::fs::create_dir_all(&dir) {
                Ok(()) => created.entry(i).or_default().push(k),
                Err(e) => {
                    // As Kafka: an IOException in a log dir takes the dir offline.
                    d.commit
                        .fail_writes(&format!("creating {}: {e}", dir.display()));
                    out[k] = Some(Err(e.into()));
                    failed.push(k);
                }
            }
        }
        for (i, ks) in created {
            let d = &self.dirs[i];
            if let Err(e) = fsync_dir(&d.path) {
                d.commit
                    .fail_writes(&format!("fsync of {}: {e}", d.path.display()));
                for k in ks {
                    out[k] = Some(Err(LogError::Io(std::io::Error::other(format!(
                        "fsync of {}: {e}",
                        d.path.display()
                    )))));
                    failed.push(k);
                }
            }
        }
        if !failed.is_empty() {
            // Placed only where its directory exists durably (its dir is offline now anyway).
            let mut placed = self.placed.write().unwrap_or_else(|e| e.into_inner());
            for k in failed {
                placed.remove(&items[k].0);
            }
        }
        to_open.retain(|&(k, _)| out[k].is_none());
        let opened = crate::parallel::map(
            &to_open,
            |&(k, i)| {
                let (tp, config) = &items[k];
                let d = &self.dirs[i];
                PartitionLog::open(
                    tp.clone(),
                    d.path.join(tp.dir_name()),
                    config.clone(),
                    d.commit.clone(),
                    self.clock(),
                    d.offsets(tp),
                    self.files.clone(),
                )
                .map(Arc::new)
            },
            || {
                Err(LogError::Io(std::io::Error::other(
                    "a partition open thread panicked",
                )))
            },
        );
        {
            let mut logs = self.logs.write().unwrap_or_else(|e| e.into_inner());
            for (&(k, _), r) in to_open.iter().zip(opened) {
                if let Ok(l) = &r {
                    logs.insert(items[k].0.clone(), l.clone());
                }
                out[k] = Some(r);
            }
        }
        for (k, f) in dups {
            out[k] = Some(match &out[f] {
                Some(Ok(l)) => Ok(l.clone()),
                Some(Err(e)) => Err(LogError::Io(std::io::Error::other(e.to_string()))),
                None => Err(offline_error(&items[k].0)),
            });
        }
        out.into_iter()
            .zip(items)
            .map(|(r, (tp, _))| r.unwrap_or_else(|| Err(offline_error(tp))))
            .collect()
    }

    /// Start leader epoch `epoch` at the log end of each `(log, epoch)` (a leader election,
    /// [`PartitionLog::assign_epoch`]) on a few threads; each changed `leader-epoch-checkpoint`
    /// is durable before this returns, and one whose content would not change (the epoch is not
    /// newer than the latest) is not written. Results in the order of `items`.
    pub fn assign_epochs(&self, items: &[(Arc<PartitionLog>, i32)]) -> Vec<Result<(), LogError>> {
        crate::parallel::map(
            items,
            |(l, epoch)| l.assign_epoch(*epoch, l.log_end_offset()),
            || {
                Err(LogError::Io(std::io::Error::other(
                    "an epoch assignment thread panicked",
                )))
            },
        )
    }
}

#[cfg(test)]
#[path = "open_many_tests.rs"]
mod tests;
