//! [`ShareStateCoordinator`]: the share coordinator (Kafka's `ShareCoordinatorService`) — the
//! runtime of `__share_group_state` with the share-state shards; ownership, coordinator
//! checks, and the Initialize / Write / Read / Delete ShareGroupState operations.

use std::collections::BTreeMap;
use std::sync::Arc;

use weir_coordinator::{
    Clock, CoordinatorRuntime, OwnershipChange, PartitionReader, PartitionWriter, Record,
};

use crate::config::ShareCoordinatorConfig;
use crate::error::ShareError;
use crate::records::{self, RecordKind};
use crate::share_partition::StateUpdate;
use crate::state::{PersistedState, ShareStateShard, Stored};
use crate::types::ShareKey;
use crate::SHARE_GROUP_STATE_TOPIC;

/// The share coordinator of every share-partition whose `__share_group_state` partition this
/// broker leads (`partition_for("group:topicId:partition")`, as Kafka). Every write is
/// "decide, append the record, then install" under the key's gate, so a state is visible only
/// once durable, and writes of one share-partition never interleave.
pub struct ShareStateCoordinator {
    runtime: CoordinatorRuntime<ShareStateShard>,
    config: ShareCoordinatorConfig,
}

impl std::fmt::Debug for ShareStateCoordinator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShareStateCoordinator")
            .field("owned", &self.runtime.owned())
            .finish_non_exhaustive()
    }
}

/// What a write decided: the record to append and the state to install once it is durable.
struct Planned {
    record: Record,
    state: Option<Stored>,
}

impl ShareStateCoordinator {
    /// A coordinator that coordinates nothing until [`Self::sync_ownership`] says which
    /// `__share_group_state` partitions this broker leads. `writer` appends to (and creates)
    /// the topic, `reader` replays its partitions.
    pub fn new(
        config: ShareCoordinatorConfig,
        writer: Arc<dyn PartitionWriter>,
        reader: Arc<dyn PartitionReader>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        ShareStateCoordinator {
            runtime: CoordinatorRuntime::new(
                SHARE_GROUP_STATE_TOPIC,
                writer,
                reader,
                clock,
                Box::new(|_| ShareStateShard::new()),
            ),
            config,
        }
    }

    /// The coordinator's settings.
    pub fn config(&self) -> &ShareCoordinatorConfig {
        &self.config
    }

    /// Current time from the injected clock.
    pub fn now(&self) -> i64 {
        self.runtime.now()
    }

    /// Align with the metadata (the broker's metadata applier, one call at a time):
    /// `partitions` = the partition count of `__share_group_state` (None = absent), `led` =
    /// the partitions this broker leads with their leader epoch. Loads newly led partitions by
    /// replay, drops the others.
    pub fn sync_ownership(
        &self,
        partitions: Option<i32>,
        led: &BTreeMap<i32, i32>,
    ) -> OwnershipChange {
        self.runtime.sync_ownership(partitions, led)
    }

    /// The partitions this broker coordinates, with their leader epoch.
    pub fn owned(&self) -> BTreeMap<i32, i32> {
        self.runtime.owned()
    }

    /// The `__share_group_state` partition of `key` (FindCoordinator(share) names its
    /// leader); None while the topic does not exist.
    pub fn coordinator_partition(&self, key: &ShareKey) -> Option<i32> {
        self.runtime.partition_of(&key.coordinator_key())
    }

    /// Check that this broker coordinates `key`: NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS,
    /// or COORDINATOR_NOT_AVAILABLE while the topic does not exist.
    pub fn check(&self, key: &ShareKey) -> Result<i32, ShareError> {
        Ok(self.runtime.check(&key.coordinator_key())?)
    }

    /// Create `__share_group_state` if it does not exist yet; returns its partition count.
    pub async fn ensure_topic(&self) -> Result<i32, ShareError> {
        Ok(self.runtime.ensure_topic().await?)
    }

    /// The persisted state of `key` (ReadShareGroupState); None when it was never initialized
    /// (the share-partition leader then starts it from `share.auto.offset.reset`).
    pub async fn read_state(&self, key: &ShareKey) -> Result<Option<PersistedState>, ShareError> {
        Ok(self
            .runtime
            .read(&key.coordinator_key(), |s| s.state(key).cloned())
            .await?)
    }

    /// InitializeShareGroupState: `key` starts afresh at `start_offset` with `state_epoch`,
    /// as a ShareSnapshot (an existing state is replaced). FENCED_STATE_EPOCH when the stored
    /// state epoch is newer.
    pub async fn initialize_state(
        &self,
        key: &ShareKey,
        state_epoch: i32,
        start_offset: i64,
    ) -> Result<(), ShareError> {
        self.step(key, |stored, now| {
            if let Some(s) = stored {
                if s.state.state_epoch > state_epoch {
                    return Err(ShareError::FencedStateEpoch(format!(
                        "state epoch {state_epoch} of {} is older than {}",
                        key.coordinator_key(),
                        s.state.state_epoch
                    )));
                }
            }
            let state = PersistedState {
                snapshot_epoch: stored.map_or(0, |s| s.state.snapshot_epoch + 1),
                state_epoch,
                leader_epoch: -1,
                start_offset,
                create_timestamp: now,
                write_timestamp: now,
                delivery_complete_count: 0,
                batches: Vec::new(),
            };
            Ok(snapshot(key, state))
        })
        .await
    }

    /// WriteShareGroupState: merge `update` (from [`crate::SharePartition::take_update`]) into
    /// `key`'s state, written by the share-partition leader at `leader_epoch` for
    /// `state_epoch`. A ShareUpdate record normally; a ShareSnapshot of the merged state when
    /// the key has none yet or `snapshot_update_records_per_snapshot` updates followed the
    /// last one. FENCED_LEADER_EPOCH for a leader epoch older than the stored one,
    /// FENCED_STATE_EPOCH for a state epoch older than the stored one.
    pub async fn write_state(
        &self,
        key: &ShareKey,
        state_epoch: i32,
        leader_epoch: i32,
        update: &StateUpdate,
    ) -> Result<(), ShareError> {
        let every = self.config.snapshot_update_records_per_snapshot;
        self.step(key, |stored, now| {
            if let Some(s) = stored {
                if leader_epoch < s.state.leader_epoch {
                    return Err(ShareError::FencedLeaderEpoch(format!(
                        "leader epoch {leader_epoch} of {} is older than {}",
                        key.coordinator_key(),
                        s.state.leader_epoch
                    )));
                }
                if state_epoch < s.state.state_epoch {
                    return Err(ShareError::FencedStateEpoch(format!(
                        "state epoch {state_epoch} of {} is older than {}",
                        key.coordinator_key(),
                        s.state.state_epoch
                    )));
                }
            }
            let mut state = stored.map(|s| s.state.clone()).unwrap_or(PersistedState {
                state_epoch,
                create_timestamp: now,
                ..PersistedState::default()
            });
            state.merge(leader_epoch, update.start_offset, &update.batches);
            state.delivery_complete_count = update.delivery_complete_count;
            match stored {
                Some(s) if s.updates_since_snapshot < every => {
                    let value = records::ShareValue {
                        snapshot_epoch: s.state.snapshot_epoch,
                        state_epoch: 0,
                        leader_epoch,
                        start_offset: update.start_offset,
                        create_timestamp: 0,
                        write_timestamp: 0,
                        delivery_complete_count: update.delivery_complete_count,
                        batches: update.batches.clone(),
                    };
                    Ok(Planned {
                        record: Record {
                            key: records::encode_key(RecordKind::Update, key),
                            value: Some(records::encode_value(RecordKind::Update, &value)),
                        },
                        state: Some(Stored {
                            state,
                            updates_since_snapshot: s.updates_since_snapshot + 1,
                        }),
                    })
                }
                _ => {
                    state.snapshot_epoch = stored.map_or(0, |s| s.state.snapshot_epoch + 1);
                    state.write_timestamp = now;
                    Ok(snapshot(key, state))
                }
            }
        })
        .await
    }

    /// DeleteShareGroupState: tombstones for both record keys of `key`; its state is gone.
    pub async fn delete_state(&self, key: &ShareKey) -> Result<(), ShareError> {
        let k = key.clone();
        let out = self
            .runtime
            .write(
                &key.coordinator_key(),
                move |_s: &mut ShareStateShard, _now| {
                    let records = [RecordKind::Snapshot, RecordKind::Update]
                        .into_iter()
                        .map(|kind| Record {
                            key: records::encode_key(kind, &k),
                            value: None,
                        })
                        .collect();
                    Ok((records, k))
                },
                |shard, written, k| {
                    written?;
                    if let Some(s) = shard {
                        s.states.remove(&k);
                    }
                    Ok::<(), ShareError>(())
                },
            )
            .await?;
        out
    }

    /// One write of `key`: `decide` sees its stored state and now; the planned record is
    /// appended, then the planned state installed (a failed write changes nothing).
    async fn step(
        &self,
        key: &ShareKey,
        decide: impl FnOnce(Option<&Stored>, i64) -> Result<Planned, ShareError> + Send,
    ) -> Result<(), ShareError> {
        let k = key.clone();
        let out = self
            .runtime
            .write(
                &key.coordinator_key(),
                move |s: &mut ShareStateShard, now| {
                    let d = decide(s.states.get(&k), now);
                    let records = match &d {
                        Ok(p) => vec![p.record.clone()],
                        Err(_) => Vec::new(),
                    };
                    Ok((records, (k, d)))
                },
                |shard, written, (k, d)| {
                    let planned = d?;
                    written?;
                    if let (Some(s), Some(state)) = (shard, planned.state) {
                        s.states.insert(k, state);
                    }
                    Ok::<(), ShareError>(())
                },
            )
            .await?;
        out
    }
}

/// The ShareSnapshot record of `state` and the state to install.
fn snapshot(key: &ShareKey, state: PersistedState) -> Planned {
    Planned {
        record: Record {
            key: records::encode_key(RecordKind::Snapshot, key),
            value: Some(records::encode_value(RecordKind::Snapshot, &state.value())),
        },
        state: Some(Stored {
            state,
            updates_since_snapshot: 0,
        }),
    }
}
