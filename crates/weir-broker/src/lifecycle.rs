//! This broker's life with the controller: registration (a new incarnation) and heartbeats,
//! controlled shutdown, and the one-time move of a pre-Raft topic table onto the metadata log.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::error::ResponseError;
use weir_log::PartitionDamage;
use weir_meta::error::MetaError;
use weir_meta::image::MetadataImage;
use weir_meta::raft::MetaNode;
use weir_meta::records::{Endpoint, MetadataRecord, PartitionInfo};

use crate::applier::MetadataApplier;
use crate::error::BrokerError;
use crate::metadata::topic_meta::read_legacy;
use crate::metadata::view::MetadataView;
use crate::replica::damage_repair::damaged_leave_isr;
use crate::replica::manager::ReplicaManager;

/// File name of the pre-Raft topic metadata store inside the log dir (migrated at start-up).
pub const TOPICS_FILE: &str = "weir-topics.json";

/// How long a registration keeps retrying when it races metadata changes.
const REGISTER_RETRY_FOR: Duration = Duration::from_secs(10);

/// How long a controlled shutdown waits for leadership to move.
const CONTROLLED_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// Registration, heartbeats and controlled shutdown of this broker.
#[derive(Debug)]
pub struct Lifecycle {
    quorum: Arc<MetaNode>,
    view: Arc<MetadataView>,
    replicas: Arc<ReplicaManager>,
    applier: Arc<MetadataApplier>,
    heartbeat_interval: Duration,
    controlled_shutdown: bool,
    /// Set once the first registration of this process took this broker out of the ISRs of the
    /// partitions whose local copy was truncated because of disk damage.
    damage_handled: AtomicBool,
}

impl Lifecycle {
    /// The lifecycle of the broker `view` describes; heartbeats every `heartbeat_interval`;
    /// `controlled_shutdown` is `controlled.shutdown.enable`.
    pub fn new(
        quorum: Arc<MetaNode>,
        view: Arc<MetadataView>,
        replicas: Arc<ReplicaManager>,
        applier: Arc<MetadataApplier>,
        heartbeat_interval: Duration,
        controlled_shutdown: bool,
    ) -> Self {
        Lifecycle {
            quorum,
            view,
            replicas,
            applier,
            heartbeat_interval,
            controlled_shutdown,
            damage_handled: AtomicBool::new(false),
        }
    }

    /// Register this broker (a new incarnation) and send the first heartbeat, which unfences it.
    ///
    /// If the image still has an earlier incarnation of this broker leading, or in the ISR of, a
    /// partition with other replicas (it crashed and came back before the controller fenced it),
    /// the registration fences that incarnation first: its leaderships move to other ISR members
    /// and it leaves the ISRs, so the new incarnation — which may have lost an unsynced tail the
    /// followers already copied — never leads again at the old leader epoch (Kafka refuses the
    /// new registration until the old session expires, which has the same effect, later).
    /// Found by weir-sim; a stale local image makes the proposal fail validation and the next
    /// heartbeat tick retries.
    ///
    /// Disk damage (issue #18): the first registration of this process also takes this broker
    /// out of the ISR of every partition whose local copy the log manager truncated at open
    /// because a segment was damaged ([`damaged_leave_isr`]), in the same proposal, so that copy
    /// never leads and never counts toward the high watermark; it then follows the leader,
    /// refetches, and rejoins the ISR by the normal catch-up rule.
    pub async fn register(&self) -> Result<(), BrokerError> {
        let me = self.view.identity().clone();
        let mut images = self.view.subscribe();
        let deadline = tokio::time::Instant::now() + REGISTER_RETRY_FOR;
        let damaged = if self.damage_handled.load(Ordering::Acquire) {
            Vec::new()
        } else {
            self.replicas.logs().damaged_partitions()
        };
        loop {
            images.borrow_and_update();
            let image = self.view.image();
            let mut records = self.registration_records(&image);
            if !damaged.is_empty() {
                records = damaged_leave_isr(&image, me.node_id, &damaged, records);
            }
            match self.quorum.propose(records).await {
                Ok(_) => {
                    if !damaged.is_empty() && !self.damage_handled.swap(true, Ordering::AcqRel) {
                        report_damage(&image, me.node_id, &damaged);
                    }
                    break;
                }
                // The local image lagged (e.g. a restarted learner still catching up): the
                // fencing records were computed from old partition epochs. Retry on a newer one.
                Err(MetaError::InvalidUpdateVersion(e) | MetaError::FencedLeaderEpoch(e))
                    if tokio::time::Instant::now() < deadline =>
                {
                    tracing::debug!(error = %e, "registration raced a metadata change; retrying");
                    let _ =
                        tokio::time::timeout(Duration::from_millis(500), images.changed()).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
        self.quorum
            .heartbeat(me.node_id, self.offline_partitions())
            .await?;
        Ok(())
    }

    /// The records registering this incarnation against `image` (fencing an earlier incarnation
    /// first when needed, see [`Lifecycle::register`]).
    fn registration_records(&self, image: &MetadataImage) -> Vec<MetadataRecord> {
        let (host, port) = self.view.advertised_endpoint();
        let me = self.view.identity();
        let stale = image
            .brokers
            .get(&me.node_id)
            .is_some_and(|b| b.incarnation != me.incarnation);
        let still_replicating = image.topics.values().any(|t| {
            t.partitions.iter().any(|p| {
                p.replicas.len() > 1 && (p.leader == me.node_id || p.isr.contains(&me.node_id))
            })
        });
        let mut records = if stale && still_replicating {
            tracing::info!(
                "an earlier incarnation of this broker still leads or is in an ISR: fencing it"
            );
            weir_meta::controller::fence(image, me.node_id)
        } else {
            Vec::new()
        };
        records.push(MetadataRecord::RegisterBroker {
            id: me.node_id,
            incarnation: me.incarnation,
            // The first endpoint is the one other brokers connect to; then every other
            // advertised client listener by name, for clients that came in on it.
            listeners: std::iter::once(Endpoint {
                name: me
                    .advertised
                    .as_ref()
                    .map_or_else(|| "PLAINTEXT".into(), |l| l.name.clone()),
                host,
                port: port as u16,
            })
            .chain(me.advertised_listeners.iter().skip(1).map(|l| Endpoint {
                name: l.name.clone(),
                host: l.host.clone(),
                port: l.port,
            }))
            .collect(),
            rack: me.rack.clone(),
        });
        records
    }

    /// The partitions of this broker's offline log dirs, as heartbeats carry them.
    fn offline_partitions(&self) -> Vec<(String, i32)> {
        self.replicas
            .logs()
            .offline_partitions()
            .into_iter()
            .map(|tp| (tp.topic, tp.partition))
            .collect()
    }

    /// Heartbeat with the active controller every `broker.heartbeat.interval.ms` for the life
    /// of the process (and at once when a log dir goes offline), re-registering when the
    /// controller lost this incarnation. Stops at
    /// shutdown; pauses during a controlled shutdown (so the controller keeps this broker fenced).
    pub async fn heartbeat_loop(self: Arc<Self>) {
        let period = self.heartbeat_interval.max(Duration::from_millis(50));
        let mut beat = tokio::time::interval(period);
        beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failures = self.replicas.logs().subscribe_failures();
        loop {
            // A log dir going offline is reported at once (its partitions' leaderships move).
            tokio::select! {
                _ = beat.tick() => {}
                Ok(()) = failures.changed() => {}
            }
            if self.replicas.is_shutting_down() {
                return;
            }
            if !self.view.is_broker() || self.replicas.is_leaving() {
                continue;
            }
            let r = if self.view.registered() {
                self.quorum
                    .heartbeat(self.view.node_id(), self.offline_partitions())
                    .await
                    .map_err(BrokerError::from)
            } else {
                self.register().await
            };
            if let Err(e) = r {
                tracing::debug!(error = %e, "controller heartbeat failed; retrying");
            }
        }
    }

    /// Controlled shutdown (`controlled.shutdown.enable`): when another broker is alive, stop
    /// heartbeating and have the controller fence this broker, which moves every leadership it
    /// holds to another ISR member and takes it out of every ISR, then wait (bounded) until the
    /// applied metadata shows that. Clients get NOT_LEADER_OR_FOLLOWER, refresh metadata and
    /// carry on with the new leaders instead of timing out against a dead one.
    pub async fn controlled_shutdown(&self) {
        if !self.controlled_shutdown || !self.view.is_broker() {
            return;
        }
        let node = self.view.node_id();
        let image = self.view.image();
        let others = image.brokers.values().any(|b| b.id != node && !b.fenced);
        let leads_replicated = image.topics.values().any(|t| {
            t.partitions
                .iter()
                .any(|p| p.leader == node && p.replicas.len() > 1)
        });
        if !others || !leads_replicated {
            return;
        }
        self.replicas.set_leaving();
        let started = std::time::Instant::now();
        let deadline = tokio::time::Instant::now() + CONTROLLED_SHUTDOWN_TIMEOUT;
        let moved_away = |img: &MetadataImage| {
            img.topics.values().all(|t| {
                t.partitions
                    .iter()
                    .all(|p| p.leader != node || p.replicas.len() == 1)
            })
        };
        let moved = tokio::time::timeout_at(deadline, async {
            loop {
                let image = self.view.image();
                if moved_away(&image) {
                    return Ok(());
                }
                let records = weir_meta::controller::fence(&image, node);
                if let Err(e) = self.quorum.propose(records).await {
                    tracing::warn!(error = %e, "controlled shutdown: fencing failed; retrying");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
                return self.applier.await_image(moved_away).await;
            }
        })
        .await
        .unwrap_or_else(|_| {
            Err(BrokerError::kafka(
                ResponseError::RequestTimedOut,
                "timed out waiting for the controller",
            ))
        });
        match moved {
            Ok(()) => tracing::info!(
                elapsed_ms = started.elapsed().as_millis() as u64,
                "controlled shutdown: leadership moved to other brokers"
            ),
            Err(e) => tracing::warn!(error = %e, "controlled shutdown: leadership did not move"),
        }
    }

    /// Move `weir-topics.json` (pre-Raft data dirs) onto the metadata log, keeping topic ids,
    /// then rename it to `weir-topics.json.migrated`.
    pub async fn migrate_legacy_topics(&self, log_dir: &Path) -> Result<(), BrokerError> {
        let path = log_dir.join(TOPICS_FILE);
        let Some(topics) = read_legacy(&path)? else {
            return Ok(());
        };
        let image = self.view.image();
        let node = self.view.node_id();
        let records: Vec<MetadataRecord> = topics
            .into_iter()
            .filter(|t| !image.topics.contains_key(&t.name))
            .map(|t| MetadataRecord::CreateTopic {
                name: t.name,
                id: t.id,
                partitions: (0..t.partitions)
                    .map(|_| PartitionInfo::new(vec![node]))
                    .collect(),
                configs: t.configs,
            })
            .collect();
        let n = records.len();
        if n > 0 {
            self.quorum.propose(records).await?;
        }
        std::fs::rename(&path, path.with_extension("json.migrated"))?;
        tracing::info!(topics = n, "moved weir-topics.json onto the metadata log");
        Ok(())
    }
}

/// Log, once registered, what the damage means for each partition: refetched from another
/// replica, or records lost when this was the only (in-sync) copy.
fn report_damage(image: &MetadataImage, node: i32, damaged: &[PartitionDamage]) {
    for d in damaged {
        let p = image
            .topics
            .get(&d.tp.topic)
            .and_then(|t| t.partitions.get(d.tp.partition as usize));
        let sole = p.is_none_or(|p| p.isr.iter().all(|r| *r == node));
        if sole {
            tracing::error!(
                partition = %d.tp.dir_name(),
                truncated_at = d.truncated_at,
                previous_log_end = d.previous_log_end,
                "DISK DAMAGE: no other in-sync replica holds this partition: records from offset \
                 {} to {} were lost to disk damage; this broker keeps and serves the truncated log",
                d.truncated_at,
                d.previous_log_end
            );
        } else {
            tracing::warn!(
                partition = %d.tp.dir_name(),
                truncated_at = d.truncated_at,
                previous_log_end = d.previous_log_end,
                "disk damage: this replica left the ISR; it refetches from the leader and rejoins \
                 the ISR once caught up"
            );
        }
    }
}
