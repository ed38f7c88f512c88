//! The Raft state machine: the [`MetadataImage`] plus the last applied log id and membership.
//! Every applied change is published on a watch channel for the broker. Snapshots are the whole
//! image as JSON in `<metadata.log.dir>/snapshot.json` (written atomically), loaded at open.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use openraft::storage::RaftStateMachine;
use openraft::{
    Entry, EntryPayload, ErrorSubject, ErrorVerb, LogId, OptionalSend, RaftSnapshotBuilder,
    Snapshot, SnapshotMeta, StorageError, StoredMembership,
};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::{io_err, write_atomic, ProposalResult, TypeConfig};
use crate::image::MetadataImage;

/// What a snapshot holds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Stored {
    last_applied: Option<LogId<u64>>,
    membership: StoredMembership<u64, openraft::BasicNode>,
    image: MetadataImage,
    snapshot_id: String,
}

#[derive(Debug)]
struct Inner {
    state: Stored,
}

/// The state machine (cheap to clone; clones share the state).
#[derive(Debug, Clone)]
pub struct StateMachine {
    dir: PathBuf,
    inner: Arc<Mutex<Inner>>,
    published: watch::Sender<Arc<MetadataImage>>,
}

impl StateMachine {
    /// Open in `dir`: the image starts from `snapshot.json` if present.
    pub fn open(dir: &Path) -> std::io::Result<StateMachine> {
        std::fs::create_dir_all(dir)?;
        let state: Stored = match std::fs::read(dir.join("snapshot.json")) {
            Ok(b) => serde_json::from_slice(&b)
                .map_err(|e| std::io::Error::other(format!("snapshot.json: {e}")))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Stored::default(),
            Err(e) => return Err(e),
        };
        let (published, _) = watch::channel(Arc::new(state.image.clone()));
        Ok(StateMachine {
            dir: dir.to_path_buf(),
            inner: Arc::new(Mutex::new(Inner { state })),
            published,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Watch the applied image.
    pub fn subscribe(&self) -> watch::Receiver<Arc<MetadataImage>> {
        self.published.subscribe()
    }

    /// The applied image now.
    pub fn image(&self) -> Arc<MetadataImage> {
        self.published.borrow().clone()
    }

    /// The last applied log index (0 when nothing).
    pub fn last_applied_index(&self) -> u64 {
        self.lock().state.last_applied.map(|l| l.index).unwrap_or(0)
    }

    fn snapshot_of(state: &Stored) -> Snapshot<TypeConfig> {
        let bytes = serde_json::to_vec(state).unwrap_or_default();
        Snapshot {
            meta: SnapshotMeta {
                last_log_id: state.last_applied,
                last_membership: state.membership.clone(),
                snapshot_id: state.snapshot_id.clone(),
            },
            snapshot: Box::new(Cursor::new(bytes)),
        }
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError<u64>> {
        let mut inner = self.lock();
        let idx = inner.state.last_applied.map(|l| l.index).unwrap_or(0);
        inner.state.snapshot_id = format!("{idx}-{}", uuid::Uuid::new_v4());
        let bytes = serde_json::to_vec(&inner.state).unwrap_or_default();
        write_atomic(&self.dir.join("snapshot.json"), &bytes)
            .map_err(|e| io_err(ErrorSubject::Snapshot(None), ErrorVerb::Write, &e))?;
        Ok(Self::snapshot_of(&inner.state))
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = StateMachine;

    async fn applied_state(
        &mut self,
    ) -> Result<
        (
            Option<LogId<u64>>,
            StoredMembership<u64, openraft::BasicNode>,
        ),
        StorageError<u64>,
    > {
        let inner = self.lock();
        Ok((inner.state.last_applied, inner.state.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<ProposalResult>, StorageError<u64>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut out = Vec::new();
        let mut inner = self.lock();
        for e in entries {
            inner.state.last_applied = Some(e.log_id);
            match e.payload {
                EntryPayload::Blank => out.push(Ok(Vec::new())),
                EntryPayload::Membership(m) => {
                    inner.state.membership = StoredMembership::new(Some(e.log_id), m);
                    out.push(Ok(Vec::new()));
                }
                EntryPayload::Normal(records) => {
                    // All or nothing: apply to a copy and keep it only if every record is valid.
                    let mut next = inner.state.image.clone();
                    let mut applied = Vec::with_capacity(records.len());
                    let mut failed = None;
                    for r in &records {
                        match next.apply(r) {
                            Ok(a) => applied.push(a),
                            Err(err) => {
                                failed = Some(err);
                                break;
                            }
                        }
                    }
                    match failed {
                        Some(err) => out.push(Err(err)),
                        None => {
                            inner.state.image = next;
                            out.push(Ok(applied));
                        }
                    }
                }
            }
        }
        let image = Arc::new(inner.state.image.clone());
        drop(inner);
        self.published.send_replace(image);
        Ok(out)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(
        &mut self,
    ) -> Result<Box<Cursor<Vec<u8>>>, StorageError<u64>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<u64, openraft::BasicNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError<u64>> {
        let bytes = snapshot.into_inner();
        let mut state: Stored = serde_json::from_slice(&bytes).map_err(|e| {
            io_err(
                ErrorSubject::Snapshot(Some(meta.signature())),
                ErrorVerb::Read,
                &std::io::Error::other(e.to_string()),
            )
        })?;
        state.last_applied = meta.last_log_id;
        state.membership = meta.last_membership.clone();
        state.snapshot_id = meta.snapshot_id.clone();
        // openraft builds snapshots in a task of their own: writing `snapshot.json` under the same
        // lock as `build_snapshot` keeps the two from sharing the temporary file (a failed rename
        // stopped the quorum member) and an older built snapshot from replacing an installed one.
        let mut inner = self.lock();
        write_atomic(
            &self.dir.join("snapshot.json"),
            &serde_json::to_vec(&state).unwrap_or_default(),
        )
        .map_err(|e| {
            io_err(
                ErrorSubject::Snapshot(Some(meta.signature())),
                ErrorVerb::Write,
                &e,
            )
        })?;
        let image = Arc::new(state.image.clone());
        inner.state = state;
        drop(inner);
        self.published.send_replace(image);
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<Snapshot<TypeConfig>>, StorageError<u64>> {
        match std::fs::read(self.dir.join("snapshot.json")) {
            Ok(b) => {
                let state: Stored = serde_json::from_slice(&b).map_err(|e| {
                    io_err(
                        ErrorSubject::Snapshot(None),
                        ErrorVerb::Read,
                        &std::io::Error::other(e.to_string()),
                    )
                })?;
                Ok(Some(Self::snapshot_of(&state)))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(ErrorSubject::Snapshot(None), ErrorVerb::Read, &e)),
        }
    }
}
