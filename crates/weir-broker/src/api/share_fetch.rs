//! ShareFetch (key 78, v1-v2): share sessions, piggybacked acknowledgements, acquisition of
//! records on the share-partitions this broker leads, long-polling like Fetch (KIP-932). v2 adds
//! the consumer's acquire mode (KIP-1206: record_limit makes `max_records` strict) and renew
//! fetches (KIP-1222: `is_renew_ack`, acknowledgements only, nothing acquired).

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::share_fetch_response::{
    AcquiredRecords, PartitionData, ShareFetchableTopicResponse,
};
use kafka_protocol::messages::{ShareFetchRequest, ShareFetchResponse};
use kafka_protocol::protocol::StrBytes;

use weir_share_coordinator::AcquireMode;

use super::share_ack_common::{ack_batches, leader_of};
use crate::error::BrokerError;
use crate::metadata::view::MetadataView;
use crate::replica::manager::ReplicaManager;
use crate::share::manager::{share_key, SharePartitionManager};
use crate::share::sessions::SessionStep;

/// Default `max_records` when the client sends none.
const DEFAULT_MAX_RECORDS: usize = 500;

type Key = (uuid::Uuid, i32);

fn part<'a>(
    out: &'a mut BTreeMap<Key, PartitionData>,
    view: &MetadataView,
    k: Key,
) -> &'a mut PartitionData {
    out.entry(k).or_insert_with(|| {
        let mut d = PartitionData::default();
        d.partition_index = k.1;
        let (leader, epoch) = leader_of(view, k.0, k.1);
        d.current_leader.leader_id = leader;
        d.current_leader.leader_epoch = epoch;
        d.records = Some(Bytes::new());
        d
    })
}

/// The acquire mode a v2 request asks for (`ShareAcquireMode`: 0 batch_optimized, 1
/// record_limit; anything else is INVALID_REQUEST); record_limit also when the group's
/// `share.acquire.mode` says so (a Weir extension for clients before v2).
fn acquire_mode(req: &ShareFetchRequest, group: AcquireMode) -> Result<AcquireMode, BrokerError> {
    match req.share_acquire_mode {
        0 => Ok(group),
        1 => Ok(AcquireMode::RecordLimit),
        m => Err(BrokerError::kafka(
            ResponseError::InvalidRequest,
            format!("unknown share acquire mode {m}"),
        )),
    }
}

/// A renew fetch (v2 `is_renew_ack`, KIP-1222) only carries acknowledgements: like Kafka, its
/// `max_bytes`, `min_bytes`, `max_records` and `max_wait_ms` must all be 0 (INVALID_REQUEST).
fn check_renew_fetch(req: &ShareFetchRequest) -> Result<(), BrokerError> {
    if req.is_renew_ack
        && (req.max_bytes != 0
            || req.min_bytes != 0
            || req.max_records != 0
            || req.max_wait_ms != 0)
    {
        return Err(BrokerError::kafka(
            ResponseError::InvalidRequest,
            "a renew ShareFetch must have max_bytes, min_bytes, max_records and max_wait_ms 0",
        ));
    }
    Ok(())
}

/// Validate the request (INVALID_REQUEST: no group or member id, an unknown acquire mode, a
/// renew fetch with fetch limits), open / continue / close the member's share session
/// (SHARE_SESSION_NOT_FOUND, INVALID_SHARE_SESSION_EPOCH, SHARE_SESSION_LIMIT_REACHED as
/// top-level errors), apply the piggybacked acknowledgements (per-partition
/// `acknowledge_error_code`; Renew only from v2), then — unless the session closed or this is
/// a renew fetch — acquire records on every partition of the session, waiting up to
/// `max_wait_ms` while none could be acquired.
pub async fn handle(
    share: &SharePartitionManager,
    replicas: &ReplicaManager,
    view: &MetadataView,
    version: i16,
    connection: u64,
    req: ShareFetchRequest,
) -> ShareFetchResponse {
    let mut resp = ShareFetchResponse::default();
    let group = req
        .group_id
        .as_ref()
        .map(|g| g.to_string())
        .unwrap_or_default();
    let member = req
        .member_id
        .as_ref()
        .map(|m| m.to_string())
        .unwrap_or_default();
    let fail = |resp: &mut ShareFetchResponse, e: BrokerError| {
        resp.error_code = e.code();
        resp.error_message = Some(StrBytes::from_string(e.message()));
    };
    if group.is_empty() || member.is_empty() {
        fail(
            &mut resp,
            BrokerError::kafka(
                ResponseError::InvalidRequest,
                "group id and member id are required",
            ),
        );
        return resp;
    }
    let config = share.config(&group);
    let mode = match check_renew_fetch(&req).and_then(|()| acquire_mode(&req, config.acquire_mode))
    {
        Ok(m) => m,
        Err(e) => {
            fail(&mut resp, e);
            return resp;
        }
    };
    let closing = req.share_session_epoch == -1;
    let add: Vec<Key> = req
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(move |p| (t.topic_id, p.partition_index))
        })
        .collect();
    let forget: Vec<Key> = req
        .forgotten_topics_data
        .iter()
        .flat_map(|t| t.partitions.iter().map(move |&p| (t.topic_id, p)))
        .collect();
    let step = share.sessions().step(
        &group,
        &member,
        req.share_session_epoch,
        true,
        if closing { &[] } else { &add },
        &forget,
    );
    let step = match step {
        Ok(s) => {
            if matches!(s, SessionStep::Opened { .. }) {
                share.recheck_group(&group);
            }
            s
        }
        Err(e) => {
            fail(&mut resp, e);
            return resp;
        }
    };
    if matches!(step, SessionStep::Opened { .. }) {
        share.sessions().bind(&group, &member, connection);
    }
    resp.acquisition_lock_timeout_ms = config.record_lock_duration_ms;
    let mut out: BTreeMap<Key, PartitionData> = BTreeMap::new();
    for t in &req.topics {
        for p in &t.partitions {
            if p.acknowledgement_batches.is_empty() {
                continue;
            }
            let k = (t.topic_id, p.partition_index);
            let wire = p
                .acknowledgement_batches
                .iter()
                .map(|b| (b.first_offset, b.last_offset, b.acknowledge_types.clone()));
            let r = match ack_batches(version, wire) {
                Ok(batches) => {
                    let key = share_key(&group, k.0, k.1);
                    share.acknowledge(&key, k.0, &member, &batches).await
                }
                Err(e) => Err(e),
            };
            if let Err(e) = r {
                let d = part(&mut out, view, k);
                d.acknowledge_error_code = e.code();
                d.acknowledge_error_message = Some(StrBytes::from_string(e.message()));
            } else {
                part(&mut out, view, k);
            }
        }
    }
    match step {
        SessionStep::Closed(parts) => {
            share.release_member(&group, &member, Some(&parts)).await;
            return respond(resp, out);
        }
        SessionStep::Opened { replaced } if !replaced.is_empty() => {
            share.release_member(&group, &member, Some(&replaced)).await;
        }
        _ => {}
    }
    if req.is_renew_ack {
        return respond(resp, out);
    }
    let partitions = share.sessions().partitions(&group, &member);
    let max_records = usize::try_from(req.max_records)
        .ok()
        .filter(|&n| n > 0)
        .unwrap_or(DEFAULT_MAX_RECORDS);
    let max_bytes = usize::try_from(req.max_bytes)
        .ok()
        .filter(|&n| n > 0)
        .unwrap_or(52_428_800);
    let max_wait = Duration::from_millis(u64::try_from(req.max_wait_ms).unwrap_or(0));
    let deadline = tokio::time::Instant::now() + max_wait;
    let mut new_data = replicas.subscribe_new_data();
    let mut released = share.subscribe_released();
    loop {
        new_data.borrow_and_update();
        released.borrow_and_update();
        let (mut got, mut errors) = (false, false);
        let (mut bytes_left, mut records_left) = (max_bytes, max_records);
        for &k in &partitions {
            if bytes_left == 0 || records_left == 0 {
                break;
            }
            let key = share_key(&group, k.0, k.1);
            match share
                .acquire(&key, k.0, &member, bytes_left, records_left, mode)
                .await
            {
                Ok(a) if !a.ranges.is_empty() => {
                    got = true;
                    bytes_left = bytes_left.saturating_sub(a.records.len());
                    let n: i64 = a
                        .ranges
                        .iter()
                        .map(|r| r.last_offset - r.first_offset + 1)
                        .sum();
                    records_left = records_left.saturating_sub(usize::try_from(n).unwrap_or(0));
                    let d = part(&mut out, view, k);
                    d.records = Some(a.records);
                    d.acquired_records = a
                        .ranges
                        .into_iter()
                        .map(|r| {
                            let mut x = AcquiredRecords::default();
                            x.first_offset = r.first_offset;
                            x.last_offset = r.last_offset;
                            x.delivery_count = r.delivery_count;
                            x
                        })
                        .collect();
                }
                Ok(_) => {}
                Err(e) => {
                    errors = true;
                    let d = part(&mut out, view, k);
                    d.error_code = e.code();
                    d.error_message = Some(StrBytes::from_string(e.message()));
                }
            }
        }
        if got
            || errors
            || max_wait.is_zero()
            || partitions.is_empty()
            || replicas.is_shutting_down()
        {
            break;
        }
        tokio::select! {
            r = tokio::time::timeout_at(deadline, new_data.changed()) => if r.is_err() { break },
            r = tokio::time::timeout_at(deadline, released.changed()) => if r.is_err() { break },
        }
    }
    respond(resp, out)
}

fn respond(mut resp: ShareFetchResponse, out: BTreeMap<Key, PartitionData>) -> ShareFetchResponse {
    for ((topic_id, _), d) in out {
        match resp.responses.last_mut() {
            Some(t) if t.topic_id == topic_id => t.partitions.push(d),
            _ => {
                let mut t = ShareFetchableTopicResponse::default();
                t.topic_id = topic_id;
                t.partitions.push(d);
                resp.responses.push(t);
            }
        }
    }
    resp
}
