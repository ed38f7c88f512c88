//! The share coordinator's inter-broker APIs (KIP-932): InitializeShareGroupState (83),
//! ReadShareGroupState (84), WriteShareGroupState (85, v0–v1), DeleteShareGroupState (86), v0
//! otherwise — what a share-partition leader sends when another broker leads the
//! share-partition's `__share_group_state` partition (`share/persister.rs`). Each is answered by the local share coordinator (NOT_COORDINATOR
//! when it does not own the key). A key without state reads as state epoch -1.

use kafka_protocol::messages::{
    delete_share_group_state_response as delete, initialize_share_group_state_response as init,
    read_share_group_state_response as read, write_share_group_state_response as write,
    DeleteShareGroupStateRequest, DeleteShareGroupStateResponse, InitializeShareGroupStateRequest,
    InitializeShareGroupStateResponse, ReadShareGroupStateRequest, ReadShareGroupStateResponse,
    WriteShareGroupStateRequest, WriteShareGroupStateResponse,
};
use kafka_protocol::protocol::StrBytes;
use weir_share_coordinator::{ShareKey, ShareStateCoordinator, StateUpdate, TopicId};

use crate::error::BrokerError;
use crate::share::persister::from_wire;

fn key(group: &StrBytes, topic: uuid::Uuid, partition: i32) -> ShareKey {
    ShareKey::new(group.to_string(), TopicId(*topic.as_bytes()), partition)
}

fn err(e: impl Into<BrokerError>) -> (i16, Option<StrBytes>) {
    let e = e.into();
    (e.code(), Some(StrBytes::from_string(e.message())))
}

/// InitializeShareGroupState (83).
pub async fn initialize(
    state: &ShareStateCoordinator,
    _version: i16,
    req: InitializeShareGroupStateRequest,
) -> InitializeShareGroupStateResponse {
    let mut resp = InitializeShareGroupStateResponse::default();
    for t in req.topics {
        let mut tr = init::InitializeStateResult::default();
        tr.topic_id = t.topic_id;
        for p in t.partitions {
            let k = key(&req.group_id, t.topic_id, p.partition);
            let mut pr = init::PartitionResult::default();
            pr.partition = p.partition;
            if let Err(e) = state
                .initialize_state(&k, p.state_epoch, p.start_offset)
                .await
            {
                (pr.error_code, pr.error_message) = err(e);
            }
            tr.partitions.push(pr);
        }
        resp.results.push(tr);
    }
    resp
}

/// ReadShareGroupState (84).
pub async fn read(
    state: &ShareStateCoordinator,
    _version: i16,
    req: ReadShareGroupStateRequest,
) -> ReadShareGroupStateResponse {
    let mut resp = ReadShareGroupStateResponse::default();
    for t in req.topics {
        let mut tr = read::ReadStateResult::default();
        tr.topic_id = t.topic_id;
        for p in t.partitions {
            let k = key(&req.group_id, t.topic_id, p.partition);
            let mut pr = read::PartitionResult::default();
            pr.partition = p.partition;
            pr.state_epoch = -1;
            pr.start_offset = -1;
            match state.read_state(&k).await {
                Ok(Some(s)) => {
                    pr.state_epoch = s.state_epoch;
                    pr.start_offset = s.start_offset;
                    pr.state_batches = s
                        .batches
                        .iter()
                        .map(|b| {
                            let mut w = read::StateBatch::default();
                            w.first_offset = b.first_offset;
                            w.last_offset = b.last_offset;
                            w.delivery_state = b.state.id();
                            w.delivery_count = b.delivery_count;
                            w
                        })
                        .collect();
                }
                Ok(None) => {}
                Err(e) => (pr.error_code, pr.error_message) = err(e),
            }
            tr.partitions.push(pr);
        }
        resp.results.push(tr);
    }
    resp
}

/// WriteShareGroupState (85). v1 (KIP-1226) carries the share-partition's
/// `DeliveryCompleteCount`, stored with the state (DescribeShareGroupOffsets derives its lag from
/// it); v0 has none: unknown (-1, lag -1), not zero.
pub async fn write(
    state: &ShareStateCoordinator,
    _version: i16,
    req: WriteShareGroupStateRequest,
) -> WriteShareGroupStateResponse {
    let mut resp = WriteShareGroupStateResponse::default();
    for t in req.topics {
        let mut tr = write::WriteStateResult::default();
        tr.topic_id = t.topic_id;
        for p in t.partitions {
            let k = key(&req.group_id, t.topic_id, p.partition);
            let mut pr = write::PartitionResult::default();
            pr.partition = p.partition;
            let update = StateUpdate {
                start_offset: p.start_offset,
                batches: p
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
                // The codec's default for v0, which has no such field, is -1.
                delivery_complete_count: p.delivery_complete_count,
            };
            if let Err(e) = state
                .write_state(&k, p.state_epoch, p.leader_epoch, &update)
                .await
            {
                (pr.error_code, pr.error_message) = err(e);
            }
            tr.partitions.push(pr);
        }
        resp.results.push(tr);
    }
    resp
}

/// DeleteShareGroupState (86).
pub async fn delete(
    state: &ShareStateCoordinator,
    _version: i16,
    req: DeleteShareGroupStateRequest,
) -> DeleteShareGroupStateResponse {
    let mut resp = DeleteShareGroupStateResponse::default();
    for t in req.topics {
        let mut tr = delete::DeleteStateResult::default();
        tr.topic_id = t.topic_id;
        for p in t.partitions {
            let k = key(&req.group_id, t.topic_id, p.partition);
            let mut pr = delete::PartitionResult::default();
            pr.partition = p.partition;
            if let Err(e) = state.delete_state(&k).await {
                (pr.error_code, pr.error_message) = err(e);
            }
            tr.partitions.push(pr);
        }
        resp.results.push(tr);
    }
    resp
}
