//! The metadata applier: the only code that applies the metadata image to this broker's local
//! state, always in the same order — (1) stop following partitions this broker now leads,
//! (2) open/configure partition logs and start new leader epochs, (3) delete logs of deleted
//! topics, (4) replication (leader state, follow targets, high watermarks), (5) coordinators
//! (load/unload their internal-topic partitions), (6) delete replicas a reassignment moved away.
//! Topic storage configs are the broker defaults of the image (static configs overlaid with
//! the dynamic broker configs) overlaid with the topic's overrides, so a dynamic change reaches
//! every open log on the next apply, without a restart.
//!
//! Step (1) before (2) keeps Kafka's rule that nothing fetched from an old leader lands after a
//! new epoch starts (the fetcher applies answers only under the fetch-table lock).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use weir_log::{LogConfig, TopicPartition};
use weir_meta::image::MetadataImage;

use crate::config::layers::Layers;
use crate::config::topic::effective_log_config;
use crate::config::BrokerConfig;
use crate::error::BrokerError;
use crate::metadata::view::MetadataView;
use crate::replica::manager::ReplicaManager;

/// How long an admin operation waits for its committed change to reach the local image.
pub const APPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// A coordinator that keeps state in internal-topic partitions led by this broker: told about
/// every applied image so it can load the partitions it now leads and drop the others.
pub trait CoordinatorOwnership: Send + Sync + 'static {
    /// Align with `image` (called with the local logs already open). Must not block on
    /// coordinator requests in flight (it is called while the applier holds its lock).
    fn on_metadata(&self, image: &MetadataImage);
}

/// Applies metadata images to local logs, replication and coordinators.
pub struct MetadataApplier {
    node_id: i32,
    config: Arc<BrokerConfig>,
    view: Arc<MetadataView>,
    replicas: Arc<ReplicaManager>,
    coordinators: RwLock<Vec<Arc<dyn CoordinatorOwnership>>>,
    /// Serialises `apply`; holds what the previous image left behind.
    state: Mutex<Applied>,
}

/// What the last applied image had (to notice deletions and moves).
#[derive(Debug, Default)]
struct Applied {
    topics: BTreeSet<String>,
    replicas: HashMap<TopicPartition, uuid::Uuid>,
    /// Partitions this node led in the last applied image, with their ISR (to log leadership
    /// and ISR changes and count them in the ISR shrink/expand metrics).
    leading: BTreeMap<TopicPartition, Vec<i32>>,
}

impl std::fmt::Debug for MetadataApplier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetadataApplier")
            .field("node_id", &self.node_id)
            .finish_non_exhaustive()
    }
}

impl MetadataApplier {
    /// An applier for node `config.node_id`; the topic defaults come from `config` overlaid with
    /// the dynamic broker configs of each applied image.
    pub fn new(
        config: Arc<BrokerConfig>,
        view: Arc<MetadataView>,
        replicas: Arc<ReplicaManager>,
    ) -> Self {
        MetadataApplier {
            node_id: config.node_id,
            config,
            view,
            replicas,
            coordinators: RwLock::new(Vec::new()),
            state: Mutex::new(Applied::default()),
        }
    }

    /// Add a coordinator to step (5) of every later apply.
    pub fn register_coordinator(&self, c: Arc<dyn CoordinatorOwnership>) {
        self.coordinators
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .push(c);
    }

    /// The effective storage config of a topic with these overrides (over the broker defaults
    /// of the current image).
    pub fn log_config(
        &self,
        overrides: &std::collections::BTreeMap<String, String>,
    ) -> Result<LogConfig, BrokerError> {
        effective_log_config(&self.log_defaults(&self.view.image()), overrides)
    }

    /// The broker's topic storage defaults in `image`: the static `log.*` configs overlaid with
    /// the dynamic ones (cluster default, then this node's). Dynamic values are validated as a
    /// whole before they are committed; should a combination still not resolve, the static
    /// defaults stay in force (logged).
    fn log_defaults(&self, image: &MetadataImage) -> LogConfig {
        match Layers::new(&self.config, image, self.node_id).log_defaults() {
            Ok(cfg) => cfg,
            Err((key, value, why)) => {
                tracing::warn!(%key, %value, %why, "dynamic broker config ignored");
                self.config.log_defaults.clone()
            }
        }
    }

    /// Wait until the local image satisfies `cond`, then apply the latest image (which includes
    /// it), or fail with REQUEST_TIMED_OUT after [`APPLY_TIMEOUT`].
    pub async fn await_image(
        self: &Arc<Self>,
        cond: impl Fn(&MetadataImage) -> bool,
    ) -> Result<(), BrokerError> {
        self.await_image_until(cond, tokio::time::Instant::now() + APPLY_TIMEOUT)
            .await
    }

    /// [`await_image`](Self::await_image) until `deadline` (a request's own timeout). The apply
    /// runs on the blocking pool: when `deadline` passes first (thousands of new partitions to
    /// create on a slow disk) this answers REQUEST_TIMED_OUT and the apply carries on.
    pub async fn await_image_until(
        self: &Arc<Self>,
        cond: impl Fn(&MetadataImage) -> bool,
        deadline: tokio::time::Instant,
    ) -> Result<(), BrokerError> {
        let mut rx = self.view.subscribe();
        loop {
            let img = rx.borrow_and_update().clone();
            if cond(&img) {
                let me = self.clone();
                let apply = tokio::task::spawn_blocking(move || me.apply_latest().map(|_| ()));
                return match tokio::time::timeout_at(deadline, apply).await {
                    Ok(Ok(applied)) => applied,
                    Ok(Err(e)) => Err(BrokerError::kafka(
                        kafka_protocol::error::ResponseError::UnknownServerError,
                        format!("the metadata apply task failed: {e}"),
                    )),
                    Err(_) => Err(BrokerError::kafka(
                        kafka_protocol::error::ResponseError::RequestTimedOut,
                        "the committed metadata change is still being applied on this broker",
                    )),
                };
            }
            if tokio::time::timeout_at(deadline, rx.changed())
                .await
                .is_err()
            {
                return Err(BrokerError::kafka(
                    kafka_protocol::error::ResponseError::RequestTimedOut,
                    "the committed metadata change did not reach this broker in time",
                ));
            }
        }
    }

    /// Apply the latest image (the steps in the module doc) and return it. The image is read
    /// under the applier's lock, so applies never go back in time: an older image applied after
    /// a newer one would look like deleted topics and remove their logs. A partition opened for
    /// the first time in this process with a single replica starts with its high watermark at
    /// its log end (every byte on disk was acknowledged only once durable); a replicated one
    /// keeps its checkpointed high watermark (bytes past it may never have reached the ISR).
    pub fn apply_latest(&self) -> Result<Arc<MetadataImage>, BrokerError> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let image = self.view.image();
        self.apply_locked(&mut state, &image)?;
        Ok(image)
    }

    fn apply_locked(&self, state: &mut Applied, image: &MetadataImage) -> Result<(), BrokerError> {
        let node = self.node_id;
        let logs = self.replicas.logs();
        self.replicas.stop_following_led(image);
        let mut replicated = HashMap::new();
        let mut leading = BTreeMap::new();
        let defaults = self.log_defaults(image);
        // (2) as one batch: the logs open (or are created) and the new epochs start on a few
        // threads in weir-log, each durable before the batch returns, as one at a time.
        let mut wanted = Vec::new();
        for (name, t) in &image.topics {
            let cfg = effective_log_config(&defaults, &t.configs)?;
            for (i, p) in t.partitions.iter().enumerate() {
                if !p.replicas.contains(&node) {
                    continue;
                }
                let tp = TopicPartition::new(name.clone(), i as i32);
                replicated.insert(tp.clone(), t.id);
                if p.leader == node {
                    leading.insert(tp.clone(), p.isr.clone());
                }
                let fresh = logs.get(&tp).is_none();
                wanted.push(((tp, cfg.clone()), (fresh, p)));
            }
        }
        let (items, parts): (Vec<_>, Vec<_>) = wanted.into_iter().unzip();
        let opened = logs.get_or_create_many(&items);
        let mut epochs = Vec::new();
        let mut failed = None;
        for (((tp, cfg), (fresh, p)), log) in items.iter().zip(parts).zip(opened) {
            let log = match log {
                Ok(log) => log,
                // Its log dir is offline: the controller moves it away from this node.
                Err(_) if logs.is_offline(tp) => continue,
                Err(e) => {
                    failed.get_or_insert(e);
                    continue;
                }
            };
            if fresh && p.replicas.len() == 1 {
                log.set_high_watermark(log.log_end_offset());
            } else if log.config() != *cfg {
                log.update_config(cfg.clone());
            }
            if p.leader == node && log.latest_epoch().is_none_or(|e| e < p.leader_epoch) {
                epochs.push((log, p.leader_epoch));
            }
        }
        let assigned = logs
            .assign_epochs(&epochs)
            .into_iter()
            .find_map(Result::err);
        if let Some(e) = failed.or(assigned) {
            return Err(e.into());
        }
        // Topics that left the image while this process ran are deleted locally.
        let now: BTreeSet<String> = image.topics.keys().cloned().collect();
        for gone in state.topics.difference(&now) {
            for tp in logs.partitions_open() {
                if tp.topic == *gone {
                    logs.delete(&tp)?;
                }
            }
            tracing::info!(topic = %gone, "topic deleted from the metadata log: local logs removed");
        }
        state.topics = now;
        log_leadership_change(&state.leading, &leading);
        state.leading = leading;
        self.replicas.reconcile(image);
        for c in self
            .coordinators
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            c.on_metadata(image);
        }
        self.delete_moved_replicas(state, image, replicated);
        Ok(())
    }

    /// Delete the local logs of partitions this node replicated in the previous image of this
    /// process and no longer does (a reassignment removed it), as Kafka deletes a removed
    /// replica. Only partitions of topics that still exist with the same id; a partition this
    /// node replicates is never deleted. (A replica removed while this process was down stays
    /// on disk.)
    fn delete_moved_replicas(
        &self,
        state: &mut Applied,
        image: &MetadataImage,
        replicated: HashMap<TopicPartition, uuid::Uuid>,
    ) {
        let node = self.node_id;
        let previous = std::mem::replace(&mut state.replicas, replicated);
        for (tp, id) in previous {
            if state.replicas.contains_key(&tp) {
                continue;
            }
            let moved = image.topics.get(&tp.topic).is_some_and(|t| {
                t.id == id
                    && usize::try_from(tp.partition)
                        .ok()
                        .and_then(|i| t.partitions.get(i))
                        .is_some_and(|p| !p.replicas.contains(&node))
            });
            if !moved {
                continue;
            }
            match self.replicas.logs().delete(&tp) {
                Ok(()) => {
                    tracing::info!(partition = %tp.dir_name(), "no longer a replica: local log deleted");
                }
                Err(e) => {
                    tracing::warn!(partition = %tp.dir_name(), error = %e, "could not delete a removed replica; retrying");
                    state.replicas.insert(tp, id);
                }
            }
        }
    }

    /// Follow the metadata log for the life of the process: on every change apply the latest
    /// image (on the blocking pool), then start fetchers for newly followed leaders.
    pub async fn follow(self: Arc<Self>) {
        let mut rx = self.view.subscribe();
        loop {
            if rx.changed().await.is_err() {
                return;
            }
            rx.borrow_and_update();
            let me = self.clone();
            match tokio::task::spawn_blocking(move || me.apply_latest()).await {
                Ok(Ok(_)) => self.replicas.ensure_fetchers(),
                Ok(Err(e)) => tracing::warn!(error = %e, "applying metadata to local logs failed"),
                Err(e) => tracing::warn!(error = %e, "metadata apply task failed"),
            }
        }
    }
}

/// One line per applied image that changed this node's leaderships (not one per partition),
/// and the ISR shrinks and expansions of partitions it kept leading: counted in the metrics
/// whatever caused them (this leader's AlterPartition, or the controller fencing a broker), and
/// logged one line per partition.
fn log_leadership_change(
    before: &BTreeMap<TopicPartition, Vec<i32>>,
    after: &BTreeMap<TopicPartition, Vec<i32>>,
) {
    let gained = after.keys().filter(|tp| !before.contains_key(*tp)).count();
    let lost = before.keys().filter(|tp| !after.contains_key(*tp)).count();
    if gained > 0 {
        tracing::info!(
            leading = after.len(),
            "became leader for {gained} partition{}",
            if gained == 1 { "" } else { "s" }
        );
    }
    if lost > 0 {
        tracing::info!(
            leading = after.len(),
            "no longer leader for {lost} partition{}",
            if lost == 1 { "" } else { "s" }
        );
    }
    for (tp, isr) in after {
        let Some(old) = before.get(tp) else { continue };
        if old.len() == isr.len() {
            continue;
        }
        let shrink = isr.len() < old.len();
        crate::metrics::isr_changed(shrink);
        let what = if shrink { "ISR shrunk" } else { "ISR expanded" };
        tracing::info!(partition = %tp.dir_name(), from = ?old, to = ?isr, "{what}");
    }
}
