//! Transaction markers between the transaction coordinator and partition leaders (Kafka's
//! `TransactionMarkerChannelManager` and the leader side of WriteTxnMarkers).
//!
//! [`LocalMarkers`] writes a marker to a partition this broker leads (acks=all), then tells the
//! group coordinator when the partition is a `__consumer_offsets` one (its pending transactional
//! offsets become visible or vanish). [`BrokerMarkerWriter`] is the transaction coordinator's
//! [`MarkerWriter`]: partitions this broker leads go through [`LocalMarkers`], the others as one
//! WriteTxnMarkers request per leader. [`marker_sender`] is the background task that runs the
//! coordinator's marker jobs and timers.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::write_txn_markers_request::{
    WritableTxnMarker, WritableTxnMarkerTopic,
};
use kafka_protocol::messages::{
    ApiKey, ProducerId, TopicName, WriteTxnMarkersRequest, WriteTxnMarkersResponse,
};
use kafka_protocol::protocol::StrBytes;
use weir_log::txn_marker::TxnMarker;
use weir_txn_coordinator::{
    BoxFuture, MarkerJob, MarkerResult, MarkerWriter, TopicPartition, TxnCoordinator, TxnResult,
    OFFSETS_TOPIC,
};

use crate::metadata::view::MetadataView;
use crate::peers::PeerClient;
use crate::replica::manager::ReplicaManager;

/// How long a marker waits for the ISR (Kafka's `request.timeout.ms` of the marker channel).
pub const MARKER_TIMEOUT: Duration = Duration::from_secs(30);

/// Called after a marker was written to a `__consumer_offsets` partition this broker leads:
/// (partition, producer id, commit).
pub type OffsetsMarkerHook = Arc<dyn Fn(i32, i64, bool) + Send + Sync>;

/// Writes markers to partitions this broker leads.
pub struct LocalMarkers {
    replicas: Arc<ReplicaManager>,
    on_offsets: OffsetsMarkerHook,
}

impl std::fmt::Debug for LocalMarkers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalMarkers").finish_non_exhaustive()
    }
}

impl LocalMarkers {
    /// Markers through `replicas`; `on_offsets` is told about every `__consumer_offsets` marker.
    pub fn new(replicas: Arc<ReplicaManager>, on_offsets: OffsetsMarkerHook) -> Self {
        LocalMarkers {
            replicas,
            on_offsets,
        }
    }

    /// Write one marker to `tp` as its leader and wait for the ISR; returns the Kafka error
    /// code (0 when written and replicated). The group coordinator learns of a
    /// `__consumer_offsets` marker only once it is written.
    pub async fn write(&self, tp: &weir_log::TopicPartition, marker: &TxnMarker) -> i16 {
        match self
            .replicas
            .append_marker(tp, marker, MARKER_TIMEOUT)
            .await
        {
            Ok(()) => {
                if tp.topic == OFFSETS_TOPIC {
                    let commit = marker.result == weir_log::TxnResult::Commit;
                    (self.on_offsets)(tp.partition, marker.producer_id, commit);
                }
                0
            }
            Err(e) => {
                tracing::debug!(partition = %tp.dir_name(), error = %e, "transaction marker not written");
                e.code()
            }
        }
    }
}

/// The transaction coordinator's way to its markers.
pub struct BrokerMarkerWriter {
    view: Arc<MetadataView>,
    local: Arc<LocalMarkers>,
    peers: Arc<PeerClient>,
}

impl BrokerMarkerWriter {
    /// Markers for partitions led here through `local`, the others through `peers`.
    pub fn new(view: Arc<MetadataView>, local: Arc<LocalMarkers>, peers: Arc<PeerClient>) -> Self {
        BrokerMarkerWriter { view, local, peers }
    }

    async fn write(&self, job: &MarkerJob) -> Vec<(TopicPartition, MarkerResult)> {
        let me = self.view.node_id();
        let mut out = Vec::new();
        let mut by_leader: BTreeMap<i32, Vec<TopicPartition>> = BTreeMap::new();
        for tp in &job.partitions {
            if self.view.topic(&tp.topic).is_none() {
                out.push((tp.clone(), MarkerResult::TopicDeleted));
                continue;
            }
            match self.view.partition(&tp.topic, tp.partition) {
                Some(p) if p.leader >= 0 => by_leader.entry(p.leader).or_default().push(tp.clone()),
                Some(_) => out.push((
                    tp.clone(),
                    MarkerResult::Error(ResponseError::LeaderNotAvailable.code()),
                )),
                None => out.push((tp.clone(), MarkerResult::TopicDeleted)),
            }
        }
        let marker = TxnMarker {
            producer_id: job.producer_id,
            producer_epoch: job.producer_epoch,
            coordinator_epoch: job.coordinator_epoch,
            result: match job.result {
                TxnResult::Commit => weir_log::TxnResult::Commit,
                TxnResult::Abort => weir_log::TxnResult::Abort,
            },
            transaction_version: job.transaction_version,
        };
        for (leader, parts) in by_leader {
            if leader == me {
                for tp in parts {
                    let code = self
                        .local
                        .write(
                            &weir_log::TopicPartition::new(&tp.topic, tp.partition),
                            &marker,
                        )
                        .await;
                    out.push((tp, result_of(code)));
                }
            } else {
                out.extend(self.remote(leader, job, parts).await);
            }
        }
        out
    }

    async fn remote(
        &self,
        leader: i32,
        job: &MarkerJob,
        parts: Vec<TopicPartition>,
    ) -> Vec<(TopicPartition, MarkerResult)> {
        let mut marker = WritableTxnMarker::default();
        marker.producer_id = ProducerId(job.producer_id);
        marker.producer_epoch = job.producer_epoch;
        marker.transaction_result = job.result.is_commit();
        marker.coordinator_epoch = job.coordinator_epoch;
        // KIP-1228 (v2): the leader checks the marker's epoch by the transaction's version.
        marker.transaction_version = i8::try_from(job.transaction_version).unwrap_or(i8::MAX);
        for tp in &parts {
            match marker
                .topics
                .iter_mut()
                .find(|t| t.name.0.as_str() == tp.topic)
            {
                Some(t) => t.partition_indexes.push(tp.partition),
                None => {
                    let mut t = WritableTxnMarkerTopic::default();
                    t.name = TopicName(StrBytes::from_string(tp.topic.clone()));
                    t.partition_indexes.push(tp.partition);
                    marker.topics.push(t);
                }
            }
        }
        let mut req = WriteTxnMarkersRequest::default();
        req.markers.push(marker);
        let resp: WriteTxnMarkersResponse = match self
            .peers
            .send(
                leader,
                ApiKey::WriteTxnMarkers,
                2,
                &req,
                MARKER_TIMEOUT + Duration::from_secs(5),
            )
            .await
        {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(leader, error = %e, "WriteTxnMarkers to the partition leader failed; will retry");
                let code = ResponseError::NetworkException.code();
                return parts
                    .into_iter()
                    .map(|tp| (tp, MarkerResult::Error(code)))
                    .collect();
            }
        };
        let mut answered: BTreeMap<TopicPartition, i16> = BTreeMap::new();
        for m in resp
            .markers
            .iter()
            .filter(|m| m.producer_id.0 == job.producer_id)
        {
            for t in &m.topics {
                for p in &t.partitions {
                    answered.insert(
                        TopicPartition::new(t.name.0.as_str(), p.partition_index),
                        p.error_code,
                    );
                }
            }
        }
        parts
            .into_iter()
            .map(|tp| {
                let r = match answered.get(&tp) {
                    Some(&code) => result_of(code),
                    None => MarkerResult::Error(ResponseError::UnknownServerError.code()),
                };
                (tp, r)
            })
            .collect()
    }
}

fn result_of(code: i16) -> MarkerResult {
    if code == 0 {
        MarkerResult::Written
    } else {
        MarkerResult::Error(code)
    }
}

impl MarkerWriter for BrokerMarkerWriter {
    fn write_markers<'a>(
        &'a self,
        job: &'a MarkerJob,
    ) -> BoxFuture<'a, Vec<(TopicPartition, MarkerResult)>> {
        Box::pin(self.write(job))
    }
}

/// How often the marker sender looks for work without being woken (retries, timers).
const SENDER_INTERVAL: Duration = Duration::from_millis(100);

/// The background task of the transaction coordinator: whenever woken (EndTxn, fences, loads)
/// and every [`SENDER_INTERVAL`], run the timers (timed-out transactions are aborted, expired
/// ids removed) and start every pending marker job on its own task (a slow leader holds up only
/// its own transactions). Runs until `stop` resolves.
pub async fn marker_sender(txn: Arc<TxnCoordinator>, stop: impl std::future::Future<Output = ()>) {
    let wakeup = txn.marker_wakeup();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => return,
            _ = wakeup.notified() => {}
            _ = tokio::time::sleep(SENDER_INTERVAL) => {}
        }
        let report = txn.tick().await;
        if !report.aborted.is_empty() {
            tracing::info!(ids = ?report.aborted, "aborted transactions past their timeout");
        }
        for job in txn.pending_marker_jobs() {
            let txn = txn.clone();
            tokio::spawn(async move {
                txn.complete_marker_job(job).await;
            });
        }
    }
}
