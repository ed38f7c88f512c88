//! [`Persister`]: Kafka's share-group state persister — the share-partition leader's way to
//! its share coordinator. When this broker leads the share-partition's `__share_group_state`
//! partition, the local [`ShareStateCoordinator`] is called; otherwise the state goes to that
//! partition's leader as Initialize / Read / Write / DeleteShareGroupState (v0) over the
//! [`PeerClient`],
//! answered there by `api/share_group_state.rs` with the same local calls.

use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{
    delete_share_group_state_request as delete_req,
    initialize_share_group_state_request as init_req, read_share_group_state_request as read_req,
    write_share_group_state_request as write_req, ApiKey, DeleteShareGroupStateRequest,
    DeleteShareGroupStateResponse, InitializeShareGroupStateRequest,
    InitializeShareGroupStateResponse, ReadShareGroupStateRequest, ReadShareGroupStateResponse,
    WriteShareGroupStateRequest, WriteShareGroupStateResponse,
};
use kafka_protocol::protocol::StrBytes;
use weir_share_coordinator::{
    DeliveryState, PersistedState, ShareKey, ShareStateCoordinator, StateBatch, StateUpdate,
    SHARE_GROUP_STATE_TOPIC,
};

use crate::error::BrokerError;
use crate::metadata::view::MetadataView;
use crate::peers::PeerClient;

/// How long a forwarded state request may take.
const PEER_TIMEOUT: Duration = Duration::from_secs(30);

/// Local or forwarded share-state operations (see the module docs).
pub struct Persister {
    state: Arc<ShareStateCoordinator>,
    view: Arc<MetadataView>,
    peers: Arc<PeerClient>,
}

fn kafka(code: i16, message: Option<StrBytes>) -> BrokerError {
    BrokerError::kafka(
        ResponseError::try_from_code(code).unwrap_or(ResponseError::UnknownServerError),
        message.map(|m| m.to_string()).unwrap_or_default(),
    )
}

fn peer_error(e: crate::peers::PeerError) -> BrokerError {
    BrokerError::kafka(ResponseError::CoordinatorNotAvailable, e.to_string())
}

/// A wire state batch of the crate's.
pub fn from_wire(first: i64, last: i64, state: i8, count: i16) -> Option<StateBatch> {
    Some(StateBatch {
        first_offset: first,
        last_offset: last,
        state: DeliveryState::from_id(state)?,
        delivery_count: count,
    })
}

impl Persister {
    /// State through `state` when local, through `peers` otherwise.
    pub fn new(
        state: Arc<ShareStateCoordinator>,
        view: Arc<MetadataView>,
        peers: Arc<PeerClient>,
    ) -> Self {
        Persister { state, view, peers }
    }

    /// The local share coordinator.
    pub fn local(&self) -> &ShareStateCoordinator {
        &self.state
    }

    /// None when the local coordinator owns `key`, else the leader of its state partition
    /// (COORDINATOR_NOT_AVAILABLE while it has none).
    async fn remote(&self, key: &ShareKey) -> Result<Option<i32>, BrokerError> {
        self.state.ensure_topic().await?;
        match self.state.check(key) {
            Ok(_) => return Ok(None),
            Err(e) if e.code() != ResponseError::NotCoordinator.code() => return Err(e.into()),
            Err(_) => {}
        }
        let n = self
            .view
            .topic(SHARE_GROUP_STATE_TOPIC)
            .map_or(0, |t| t.partitions);
        let p = weir_share_coordinator::partition_for(&key.coordinator_key(), n.max(1));
        match self.view.partition(SHARE_GROUP_STATE_TOPIC, p) {
            Some(i) if i.leader >= 0 && i.leader != self.view.node_id() => {
                tracing::debug!(key = %key.coordinator_key(), leader = i.leader, "share state forwarded");
                Ok(Some(i.leader))
            }
            _ => Err(BrokerError::kafka(
                ResponseError::CoordinatorNotAvailable,
                format!("{SHARE_GROUP_STATE_TOPIC}-{p} has no leader"),
            )),
        }
    }

    /// ReadShareGroupState.
    pub async fn read_state(&self, key: &ShareKey) -> Result<Option<PersistedState>, BrokerError> {
        let Some(node) = self.remote(key).await? else {
            return Ok(self.state.read_state(key).await?);
        };
        let mut p = read_req::PartitionData::default();
        p.partition = key.partition;
        p.leader_epoch = -1;
        let mut t = read_req::ReadStateData::default();
        t.topic_id = uuid::Uuid::from_bytes(key.topic_id.0);
        t.partitions = vec![p];
        let mut req = ReadShareGroupStateRequest::default();
        req.group_id = StrBytes::from_string(key.group_id.clone());
        req.topics = vec![t];
        let resp: ReadShareGroupStateResponse = self
            .peers
            .send(node, ApiKey::ReadShareGroupState, 0, &req, PEER_TIMEOUT)
            .await
            .map_err(peer_error)?;
        let r = resp
            .results
            .into_iter()
            .flat_map(|t| t.partitions)
            .next()
            .ok_or_else(|| BrokerError::kafka(ResponseError::UnknownServerError, "empty answer"))?;
        if r.error_code != 0 {
            return Err(kafka(r.error_code, r.error_message));
        }
        if r.state_epoch < 0 {
            return Ok(None);
        }
        Ok(Some(PersistedState {
            state_epoch: r.state_epoch,
            start_offset: r.start_offset,
            batches: r
                .state_batches
                .iter()
                .filter_map(|b| {
                    from_wire(
                        b.first_offset,
                        b.last_offset,
                        b.delivery_state,
                        b.delivery_count,
                    )
                })
                .collect(),
            // ReadShareGroupState v0 does not carry it.
            delivery_complete_count: -1,
            ..PersistedState::default()
        }))
    }

    /// InitializeShareGroupState.
    pub async fn initialize_state(
        &self,
        key: &ShareKey,
        state_epoch: i32,
        start_offset: i64,
    ) -> Result<(), BrokerError> {
        let Some(node) = self.remote(key).await? else {
            return Ok(self
                .state
                .initialize_state(key, state_epoch, start_offset)
                .await?);
        };
        let mut p = init_req::PartitionData::default();
        p.partition = key.partition;
        p.state_epoch = state_epoch;
        p.start_offset = start_offset;
        let mut t = init_req::InitializeStateData::default();
        t.topic_id = uuid::Uuid::from_bytes(key.topic_id.0);
        t.partitions = vec![p];
        let mut req = InitializeShareGroupStateRequest::default();
        req.group_id = StrBytes::from_string(key.group_id.clone());
        req.topics = vec![t];
        let resp: InitializeShareGroupStateResponse = self
            .peers
            .send(
                node,
                ApiKey::InitializeShareGroupState,
                0,
                &req,
                PEER_TIMEOUT,
            )
            .await
            .map_err(peer_error)?;
        match resp.results.into_iter().flat_map(|t| t.partitions).next() {
            Some(r) if r.error_code != 0 => Err(kafka(r.error_code, r.error_message)),
            _ => Ok(()),
        }
    }

    /// WriteShareGroupState (v1: with the KIP-1226 `DeliveryCompleteCount`, so a remote
    /// coordinator keeps the lag; every node of a cluster runs the same Weir).
    pub async fn write_state(
        &self,
        key: &ShareKey,
        state_epoch: i32,
        leader_epoch: i32,
        update: &StateUpdate,
    ) -> Result<(), BrokerError> {
        let Some(node) = self.remote(key).await? else {
            return Ok(self
                .state
                .write_state(key, state_epoch, leader_epoch, update)
                .await?);
        };
        let mut p = write_req::PartitionData::default();
        p.partition = key.partition;
        p.state_epoch = state_epoch;
        p.leader_epoch = leader_epoch;
        p.start_offset = update.start_offset;
        p.delivery_complete_count = update.delivery_complete_count;
        p.state_batches = update
            .batches
            .iter()
            .map(|b| {
                let mut w = write_req::StateBatch::default();
                w.first_offset = b.first_offset;
                w.last_offset = b.last_offset;
                w.delivery_state = b.state.id();
                w.delivery_count = b.delivery_count;
                w
            })
            .collect();
        let mut t = write_req::WriteStateData::default();
        t.topic_id = uuid::Uuid::from_bytes(key.topic_id.0);
        t.partitions = vec![p];
        let mut req = WriteShareGroupStateRequest::default();
        req.group_id = StrBytes::from_string(key.group_id.clone());
        req.topics = vec![t];
        let resp: WriteShareGroupStateResponse = self
            .peers
            .send(node, ApiKey::WriteShareGroupState, 1, &req, PEER_TIMEOUT)
            .await
            .map_err(peer_error)?;
        match resp.results.into_iter().flat_map(|t| t.partitions).next() {
            Some(r) if r.error_code != 0 => Err(kafka(r.error_code, r.error_message)),
            _ => Ok(()),
        }
    }

    /// DeleteShareGroupState: `key`'s state is gone (a key without state is no error).
    pub async fn delete_state(&self, key: &ShareKey) -> Result<(), BrokerError> {
        let Some(node) = self.remote(key).await? else {
            return Ok(self.state.delete_state(key).await?);
        };
        let mut p = delete_req::PartitionData::default();
        p.partition = key.partition;
        let mut t = delete_req::DeleteStateData::default();
        t.topic_id = uuid::Uuid::from_bytes(key.topic_id.0);
        t.partitions = vec![p];
        let mut req = DeleteShareGroupStateRequest::default();
        req.group_id = StrBytes::from_string(key.group_id.clone());
        req.topics = vec![t];
        let resp: DeleteShareGroupStateResponse = self
            .peers
            .send(node, ApiKey::DeleteShareGroupState, 0, &req, PEER_TIMEOUT)
            .await
            .map_err(peer_error)?;
        match resp.results.into_iter().flat_map(|t| t.partitions).next() {
            Some(r) if r.error_code != 0 => Err(kafka(r.error_code, r.error_message)),
            _ => Ok(()),
        }
    }
}
