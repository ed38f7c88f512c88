//! TxnOffsetCommit (key 28, KIP-98 / KIP-447): offsets committed as part of a producer's
//! transaction, written to `__consumer_offsets` as a transactional batch and visible to
//! OffsetFetch only once the transaction's COMMIT marker reaches the group's partition.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafka_protocol::messages::{TxnOffsetCommitRequest, TxnOffsetCommitResponse};

use weir_group_coordinator::offsets::Committer;
use weir_group_coordinator::GroupCoordinator;

use crate::coordinators::verification::TxnVerifier;
use crate::metadata::view::MetadataView;

/// The highest version this handler serves.
pub const MAX_VERSION: i16 = 6;

/// Versions 0–6; from v5 (KIP-890, transaction version 2, whose clients send no
/// AddOffsetsToTxn) the group's `__consumer_offsets` partition is first added to the
/// transaction through its coordinator; below v5 the coordinator verifies that it is already
/// in the ongoing transaction (`transaction.partition.verification.enable`): an unknown
/// transactional id is INVALID_PRODUCER_ID_MAPPING (49), a partition not in the transaction
/// INVALID_TXN_STATE (48). Either refusal is every partition's answer. The offsets are
/// written durably (one transactional batch of `producer_id` /
/// `producer_epoch`) and staged as pending before the response; they are never visible to
/// OffsetFetch before the producer's COMMIT marker. From v3 (KIP-447) `member_id`,
/// `generation_id` and `group_instance_id` are checked when given (ILLEGAL_GENERATION 22,
/// UNKNOWN_MEMBER_ID 25, FENCED_INSTANCE_ID 82); without them (v0–v2, or generation -1 and
/// no member id) the group's membership is not checked. Per partition:
/// UNKNOWN_TOPIC_OR_PARTITION (3), OFFSET_METADATA_TOO_LARGE (12). Every partition gets the
/// group-level refusals (the response has no top-level error code): INVALID_GROUP_ID (24),
/// NOT_COORDINATOR (16), COORDINATOR_LOAD_IN_PROGRESS (14), COORDINATOR_NOT_AVAILABLE (15), a
/// stale producer epoch's INVALID_PRODUCER_EPOCH (47) — PRODUCER_FENCED (90) is answered as
/// INVALID_PRODUCER_EPOCH below v3, as Kafka does. v6 (KIP-1319) names topics by id, resolved
/// through the metadata image (an unknown id: UNKNOWN_TOPIC_ID 100 for each of its
/// partitions; the answer names each topic by its id), and answers an unknown group asked
/// with a generation GROUP_ID_NOT_FOUND (69) and a KIP-848 member's stale epoch
/// STALE_MEMBER_EPOCH (113), both ILLEGAL_GENERATION (22) below v6.
pub async fn handle(
    groups: &GroupCoordinator,
    verifier: &TxnVerifier,
    view: &MetadataView,
    version: i16,
    req: TxnOffsetCommitRequest,
) -> TxnOffsetCommitResponse {
    // The topics' names: from the request (v0–v5) or the image (v6; None: unknown id).
    let names: Vec<Option<String>> = req
        .topics
        .iter()
        .map(|t| {
            if version >= 6 {
                view.topic_by_id(t.topic_id).map(|m| m.name)
            } else {
                Some(t.name.to_string())
            }
        })
        .collect();
    // KIP-890: from v5 the offsets partition joins the transaction before the write; below,
    // it must already be in it (AddOffsetsToTxn), which the transaction coordinator verifies.
    let (id, pid, epoch) = (
        req.transactional_id.as_str(),
        req.producer_id.0,
        req.producer_epoch,
    );
    let added = match groups.coordinator_partition(&req.group_id) {
        Some(partition) if !req.group_id.is_empty() => if version >= 5 {
            verifier
                .add_offsets_partition(id, pid, epoch, partition)
                .await
        } else {
            verifier
                .verify_offsets_partition(id, pid, epoch, partition)
                .await
        }
        .err(),
        _ => None,
    };
    commit(groups, version, req, names, added).await
}

/// The commit itself, of the topics whose `names` are known (one per request topic; None:
/// UNKNOWN_TOPIC_ID); `refused` (the v5 addition's error) answers every partition instead.
async fn commit(
    groups: &GroupCoordinator,
    version: i16,
    req: TxnOffsetCommitRequest,
    names: Vec<Option<String>>,
    refused: Option<i16>,
) -> TxnOffsetCommitResponse {
    let who = Committer {
        member_id: req.member_id.to_string(),
        instance_id: req.group_instance_id.as_ref().map(|s| s.to_string()),
        generation_or_epoch: req.generation_id,
    };
    let entries: Vec<(String, i32, i64, i32, String)> = req
        .topics
        .iter()
        .zip(&names)
        .filter_map(|(t, name)| Some((t, name.clone()?)))
        .flat_map(|(t, name)| {
            t.partitions.iter().map(move |p| {
                (
                    name.clone(),
                    p.partition_index,
                    p.committed_offset,
                    p.committed_leader_epoch,
                    p.committed_metadata
                        .as_ref()
                        .map(|s| s.to_string())
                        .unwrap_or_default(),
                )
            })
        })
        .collect();
    let refused = if req.group_id.is_empty() {
        Some(ResponseError::InvalidGroupId.code())
    } else if refused.is_some() {
        refused
    } else {
        groups
            .check_coordinator(&req.group_id)
            .err()
            .map(|e| e.code())
    };
    let codes = match refused {
        Some(code) => vec![code; entries.len()],
        None => {
            groups
                .txn_offset_commit(
                    &req.group_id,
                    req.producer_id.0,
                    req.producer_epoch,
                    &who,
                    entries,
                )
                .await
        }
    };
    let fenced = ResponseError::ProducerFenced.code();
    let v6_only = [
        ResponseError::GroupIdNotFound.code(),
        ResponseError::StaleMemberEpoch.code(),
    ];
    let mut codes = codes.into_iter().map(|c| {
        if version < 3 && c == fenced {
            ResponseError::InvalidProducerEpoch.code()
        } else if version < 6 && v6_only.contains(&c) {
            ResponseError::IllegalGeneration.code()
        } else {
            c
        }
    });
    let mut resp = TxnOffsetCommitResponse::default();
    resp.topics = req
        .topics
        .into_iter()
        .zip(names)
        .map(|(t, name)| {
            let mut rt = TxnOffsetCommitResponseTopic::default();
            rt.partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let mut rp = TxnOffsetCommitResponsePartition::default();
                    rp.partition_index = p.partition_index;
                    rp.error_code = match name {
                        Some(_) => codes.next().unwrap_or(0),
                        None => ResponseError::UnknownTopicId.code(),
                    };
                    rp
                })
                .collect();
            rt.name = t.name;
            rt.topic_id = t.topic_id;
            rt
        })
        .collect();
    resp
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use kafka_protocol::messages::txn_offset_commit_request::{
        TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
    };
    use kafka_protocol::messages::{GroupId, ProducerId, TopicName};
    use kafka_protocol::protocol::StrBytes;
    use weir_coordinator::testing::MemoryLog;
    use weir_coordinator::WriteError;
    use weir_group_coordinator::{GroupConfig, ManualClock, TopicView};

    use super::*;

    struct Topics;

    impl TopicView for Topics {
        fn partition_counts(&self) -> BTreeMap<String, i32> {
            [("t".to_string(), 2)].into()
        }
        fn partition_exists(&self, topic: &str, partition: i32) -> bool {
            topic == "t" && (0..2).contains(&partition)
        }
    }

    fn coordinator() -> (Arc<MemoryLog>, GroupCoordinator) {
        let log = Arc::new(MemoryLog::with_topic(1));
        let c = GroupCoordinator::new(
            GroupConfig::default(),
            log.clone(),
            log.clone(),
            Arc::new(ManualClock::new(1_000)),
            Arc::new(Topics),
        );
        c.sync_ownership(Some(1), &[(0, 0)].into());
        (log, c)
    }

    fn request(group: &str, partitions: &[(&str, i32)]) -> TxnOffsetCommitRequest {
        let mut req = TxnOffsetCommitRequest::default();
        req.transactional_id = StrBytes::from_static_str("tx").into();
        req.group_id = GroupId(StrBytes::from_string(group.to_string()));
        req.producer_id = ProducerId(7);
        req.producer_epoch = 0;
        req.generation_id = -1;
        let mut by_topic: Vec<TxnOffsetCommitRequestTopic> = Vec::new();
        for &(t, p) in partitions {
            let mut rp = TxnOffsetCommitRequestPartition::default();
            rp.partition_index = p;
            rp.committed_offset = 42;
            match by_topic.iter_mut().find(|x| x.name.as_str() == t) {
                Some(x) => x.partitions.push(rp),
                None => {
                    let mut rt = TxnOffsetCommitRequestTopic::default();
                    rt.name = TopicName(StrBytes::from_string(t.to_string()));
                    rt.partitions.push(rp);
                    by_topic.push(rt);
                }
            }
        }
        req.topics = by_topic;
        req
    }

    /// [`commit`] of a request that names its topics (v0–v5).
    async fn commit_named(
        c: &GroupCoordinator,
        version: i16,
        req: TxnOffsetCommitRequest,
    ) -> TxnOffsetCommitResponse {
        let names = req
            .topics
            .iter()
            .map(|t| Some(t.name.to_string()))
            .collect();
        commit(c, version, req, names, None).await
    }

    fn codes(resp: &TxnOffsetCommitResponse) -> Vec<(String, i32, i16)> {
        resp.topics
            .iter()
            .flat_map(|t| {
                t.partitions
                    .iter()
                    .map(move |p| (t.name.to_string(), p.partition_index, p.error_code))
            })
            .collect()
    }

    #[tokio::test]
    async fn commits_pending_offsets_and_answers_per_partition() {
        let (log, c) = coordinator();
        let resp = commit_named(&c, 3, request("g", &[("t", 0), ("t", 5), ("u", 0)])).await;
        assert_eq!(
            codes(&resp),
            vec![("t".into(), 0, 0), ("t".into(), 5, 3), ("u".into(), 0, 3)]
        );
        assert_eq!(log.records(0).len(), 1);
        // Pending: not visible until the COMMIT marker.
        assert!(c.fetch("g", None, None).unwrap().is_empty());
        assert_eq!(c.complete_transaction(0, 7, true), Ok(1));
        assert_eq!(c.fetch("g", None, None).unwrap().len(), 1);
    }

    #[tokio::test]
    async fn group_level_refusals_reach_every_partition() {
        let (_, c) = coordinator();
        let resp = commit_named(&c, 0, request("", &[("t", 0), ("t", 1)])).await;
        assert_eq!(codes(&resp), vec![("t".into(), 0, 24), ("t".into(), 1, 24)]);
        c.sync_ownership(Some(1), &BTreeMap::new());
        let resp = commit_named(&c, 2, request("g", &[("t", 0)])).await;
        assert_eq!(codes(&resp), vec![("t".into(), 0, 16)]);
    }

    #[tokio::test]
    async fn producer_fenced_is_invalid_producer_epoch_below_v3() {
        let (log, c) = coordinator();
        for (version, want) in [(2, 47), (3, 90)] {
            log.fail_next_append(WriteError::Other {
                code: ResponseError::ProducerFenced.code(),
                message: "fenced".into(),
            });
            let resp = commit_named(&c, version, request("g", &[("t", 0)])).await;
            assert_eq!(codes(&resp), vec![("t".into(), 0, want)], "v{version}");
        }
    }

    #[tokio::test]
    async fn v6_codes_are_illegal_generation_below_v6() {
        let (_, c) = coordinator();
        for (version, want) in [(5, 22), (6, 69)] {
            // An unknown group asked with a generation.
            let mut req = request(&format!("new{version}"), &[("t", 0)]);
            req.generation_id = 3;
            let resp = commit_named(&c, version, req).await;
            assert_eq!(codes(&resp), vec![("t".into(), 0, want)], "v{version}");
        }
    }

    #[tokio::test]
    async fn v6_unknown_topic_ids_are_answered_without_a_write() {
        let (log, c) = coordinator();
        let mut req = request("g", &[("t", 0), ("u", 1)]);
        req.topics[1].topic_id = uuid::Uuid::from_u128(9);
        let resp = commit(&c, 6, req, vec![Some("t".into()), None], None).await;
        assert_eq!(codes(&resp), vec![("t".into(), 0, 0), ("u".into(), 1, 100)]);
        assert_eq!(resp.topics[1].topic_id, uuid::Uuid::from_u128(9));
        assert_eq!(log.records(0).len(), 1);
    }
}
