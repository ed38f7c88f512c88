//! Share groups (KIP-932) at the protocol level for tests: one group on one single-partition
//! topic, driven with raw requests (membership, a share session's acquisition and
//! acknowledgements, group configs) and its offsets APIs (DescribeShareGroupOffsets,
//! AlterShareGroupOffsets, DeleteShareGroupOffsets).

use kafka_protocol::messages::alter_share_group_offsets_request::{
    AlterShareGroupOffsetsRequestPartition, AlterShareGroupOffsetsRequestTopic,
};
use kafka_protocol::messages::delete_share_group_offsets_request::DeleteShareGroupOffsetsRequestTopic;
use kafka_protocol::messages::describe_share_group_offsets_request::{
    DescribeShareGroupOffsetsRequestGroup, DescribeShareGroupOffsetsRequestTopic,
};
use kafka_protocol::messages::describe_share_group_offsets_response::DescribeShareGroupOffsetsResponseGroup;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::share_acknowledge_request::{
    AcknowledgePartition, AcknowledgeTopic, AcknowledgementBatch,
};
use kafka_protocol::messages::share_fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

use crate::raw::RawClient;

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

/// A share group `group` consuming partition 0 of `topic` (whose id is `topic_id`).
#[derive(Debug, Clone)]
pub struct ShareGroup {
    /// The group id.
    pub group: String,
    /// The topic.
    pub topic: String,
    /// The topic's id.
    pub topic_id: uuid::Uuid,
}

/// The id of `topic` (Metadata v12 through `c`).
pub fn topic_id(c: &mut RawClient, topic: &str) -> uuid::Uuid {
    let mut t = MetadataRequestTopic::default();
    t.name = Some(TopicName(s(topic)));
    let mut req = MetadataRequest::default();
    req.topics = Some(vec![t]);
    let resp: MetadataResponse = c.call(ApiKey::Metadata, 12, &req);
    resp.topics[0].topic_id
}

impl ShareGroup {
    /// Group `group` on `topic` (its id looked up through `c`).
    pub fn new(c: &mut RawClient, group: &str, topic: &str) -> ShareGroup {
        ShareGroup {
            group: group.to_string(),
            topic: topic.to_string(),
            topic_id: topic_id(c, topic),
        }
    }

    /// Set the group config `name` (IncrementalAlterConfigs, resource type GROUP); panics on
    /// an error.
    pub fn set_config(&self, c: &mut RawClient, name: &str, value: &str) {
        let mut cfg = AlterableConfig::default();
        cfg.name = s(name);
        cfg.config_operation = 0;
        cfg.value = Some(s(value));
        let mut r = AlterConfigsResource::default();
        r.resource_type = 32;
        r.resource_name = s(&self.group);
        r.configs = vec![cfg];
        let mut req = IncrementalAlterConfigsRequest::default();
        req.resources = vec![r];
        let resp: IncrementalAlterConfigsResponse =
            c.call(ApiKey::IncrementalAlterConfigs, 1, &req);
        assert_eq!(resp.responses[0].error_code, 0, "{resp:?}");
    }

    /// ShareGroupHeartbeat of `member` at `epoch` (0 joins subscribed to the topic, -1
    /// leaves) through the group's coordinator `c`; panics on an error.
    pub fn heartbeat(
        &self,
        c: &mut RawClient,
        member: &str,
        epoch: i32,
    ) -> ShareGroupHeartbeatResponse {
        let mut req = ShareGroupHeartbeatRequest::default();
        req.group_id = GroupId(s(&self.group));
        req.member_id = s(member);
        req.member_epoch = epoch;
        req.subscribed_topic_names = (epoch == 0).then(|| vec![TopicName(s(&self.topic))]);
        let resp: ShareGroupHeartbeatResponse = c.call(ApiKey::ShareGroupHeartbeat, 1, &req);
        assert_eq!(resp.error_code, 0, "{resp:?}");
        resp
    }

    /// Open a share session of `member` on the partition leader `c` (epoch 0) and acquire
    /// what it can (waiting up to 5 s for data): the acquired (first, last) offset ranges
    /// (empty when nothing was acquired).
    pub fn acquire(&self, c: &mut RawClient, member: &str) -> Vec<(i64, i64)> {
        let mut p = FetchPartition::default();
        p.partition_index = 0;
        let mut t = FetchTopic::default();
        t.topic_id = self.topic_id;
        t.partitions = vec![p];
        let mut req = ShareFetchRequest::default();
        req.group_id = Some(GroupId(s(&self.group)));
        req.member_id = Some(s(member));
        req.share_session_epoch = 0;
        req.max_wait_ms = 5000;
        req.min_bytes = 1;
        req.max_bytes = 1 << 20;
        req.max_records = 100;
        req.topics = vec![t];
        let resp: ShareFetchResponse = c.call(ApiKey::ShareFetch, 1, &req);
        assert_eq!(resp.error_code, 0, "{resp:?}");
        // Nothing acquired within the wait: no partition in the answer.
        let Some(p) = resp.responses.first().and_then(|t| t.partitions.first()) else {
            return Vec::new();
        };
        assert_eq!(p.error_code, 0, "{resp:?}");
        p.acquired_records
            .iter()
            .map(|r| (r.first_offset, r.last_offset))
            .collect()
    }

    /// Acknowledge `acks` (offset, type: 1 accept, 2 release, 3 reject) in `member`'s
    /// session on `c` at epoch 1 (right after [`Self::acquire`]); panics on an error.
    pub fn acknowledge(&self, c: &mut RawClient, member: &str, acks: &[(i64, i8)]) {
        let mut p = AcknowledgePartition::default();
        p.partition_index = 0;
        p.acknowledgement_batches = acks
            .iter()
            .map(|&(o, t)| {
                let mut b = AcknowledgementBatch::default();
                b.first_offset = o;
                b.last_offset = o;
                b.acknowledge_types = vec![t];
                b
            })
            .collect();
        let mut t = AcknowledgeTopic::default();
        t.topic_id = self.topic_id;
        t.partitions = vec![p];
        let mut req = ShareAcknowledgeRequest::default();
        req.group_id = Some(GroupId(s(&self.group)));
        req.member_id = Some(s(member));
        req.share_session_epoch = 1;
        req.topics = vec![t];
        let resp: ShareAcknowledgeResponse = c.call(ApiKey::ShareAcknowledge, 1, &req);
        assert_eq!(resp.error_code, 0, "{resp:?}");
        assert_eq!(resp.responses[0].partitions[0].error_code, 0, "{resp:?}");
    }

    /// DescribeShareGroupOffsets at version `v` of (topic, partition)s, or of every
    /// initialized share-partition (None).
    pub fn describe(
        &self,
        c: &mut RawClient,
        v: i16,
        topics: Option<&[(&str, i32)]>,
    ) -> DescribeShareGroupOffsetsResponseGroup {
        let mut g = DescribeShareGroupOffsetsRequestGroup::default();
        g.group_id = GroupId(s(&self.group));
        g.topics = topics.map(|ts| {
            ts.iter()
                .map(|(name, p)| {
                    let mut t = DescribeShareGroupOffsetsRequestTopic::default();
                    t.topic_name = TopicName(s(name));
                    t.partitions = vec![*p];
                    t
                })
                .collect()
        });
        let mut req = DescribeShareGroupOffsetsRequest::default();
        req.groups = vec![g];
        let mut resp: DescribeShareGroupOffsetsResponse =
            c.call(ApiKey::DescribeShareGroupOffsets, v, &req);
        resp.groups.remove(0)
    }

    /// (start offset, lag) of partition 0 of the topic (DescribeShareGroupOffsets v1); panics
    /// on an error.
    pub fn offset(&self, c: &mut RawClient) -> (i64, i64) {
        let g = self.describe(c, 1, Some(&[(&self.topic, 0)]));
        assert_eq!(g.error_code, 0, "{g:?}");
        let p = &g.topics[0].partitions[0];
        assert_eq!(p.error_code, 0, "{g:?}");
        (p.start_offset, p.lag)
    }

    /// AlterShareGroupOffsets of partition 0 of the topic to `start` for group `group`.
    pub fn alter(
        &self,
        c: &mut RawClient,
        group: &str,
        start: i64,
    ) -> AlterShareGroupOffsetsResponse {
        let mut p = AlterShareGroupOffsetsRequestPartition::default();
        p.partition_index = 0;
        p.start_offset = start;
        let mut t = AlterShareGroupOffsetsRequestTopic::default();
        t.topic_name = TopicName(s(&self.topic));
        t.partitions = vec![p];
        let mut req = AlterShareGroupOffsetsRequest::default();
        req.group_id = GroupId(s(group));
        req.topics = vec![t];
        c.call(ApiKey::AlterShareGroupOffsets, 0, &req)
    }

    /// DeleteShareGroupOffsets of `topics`.
    pub fn delete(&self, c: &mut RawClient, topics: &[&str]) -> DeleteShareGroupOffsetsResponse {
        let mut req = DeleteShareGroupOffsetsRequest::default();
        req.group_id = GroupId(s(&self.group));
        req.topics = topics
            .iter()
            .map(|n| {
                let mut t = DeleteShareGroupOffsetsRequestTopic::default();
                t.topic_name = TopicName(s(n));
                t
            })
            .collect();
        c.call(ApiKey::DeleteShareGroupOffsets, 0, &req)
    }
}
