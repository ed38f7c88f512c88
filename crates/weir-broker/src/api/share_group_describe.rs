//! ShareGroupDescribe (key 77, v1): members, epochs and assignments of share groups this
//! broker coordinates.

use kafka_protocol::messages::share_group_describe_response::{
    Assignment, DescribedGroup, Member, TopicPartitions,
};
use kafka_protocol::messages::{ShareGroupDescribeRequest, ShareGroupDescribeResponse, TopicName};
use kafka_protocol::protocol::StrBytes;

use crate::error::BrokerError;
use crate::metadata::view::MetadataView;
use crate::share::groups::ShareGroupCoordinator;

/// One described group per requested id; GROUP_ID_NOT_FOUND for unknown groups,
/// NOT_COORDINATOR for groups coordinated elsewhere.
pub async fn handle(
    groups: &ShareGroupCoordinator,
    view: &MetadataView,
    _version: i16,
    req: ShareGroupDescribeRequest,
) -> ShareGroupDescribeResponse {
    let mut resp = ShareGroupDescribeResponse::default();
    for id in req.group_ids {
        let mut g = DescribedGroup::default();
        g.group_id = id.clone();
        g.authorized_operations = i32::MIN;
        match groups.describe(id.as_str()).await {
            Ok(d) => {
                g.group_state = StrBytes::from_static_str(d.state);
                g.group_epoch = d.group_epoch;
                g.assignment_epoch = d.assignment_epoch;
                g.assignor_name = StrBytes::from_static_str("simple");
                g.members = d
                    .members
                    .into_iter()
                    .map(|m| {
                        let mut out = Member::default();
                        out.member_id = StrBytes::from_string(m.member_id);
                        out.rack_id = m.rack_id.map(StrBytes::from_string);
                        out.member_epoch = m.member_epoch;
                        out.client_id = StrBytes::from_string(m.client_id);
                        out.client_host = StrBytes::from_string(m.client_host);
                        out.subscribed_topic_names = m
                            .subscribed_topic_names
                            .into_iter()
                            .map(|n| TopicName(StrBytes::from_string(n)))
                            .collect();
                        let mut a = Assignment::default();
                        a.topic_partitions = m
                            .assignment
                            .into_iter()
                            .map(|(t, ps)| {
                                let id = uuid::Uuid::from_bytes(t.0);
                                let mut tp = TopicPartitions::default();
                                tp.topic_id = id;
                                tp.topic_name = TopicName(StrBytes::from_string(
                                    view.topic_by_id(id).map(|t| t.name).unwrap_or_default(),
                                ));
                                tp.partitions = ps;
                                tp
                            })
                            .collect();
                        out.assignment = a;
                        out
                    })
                    .collect();
            }
            Err(e) => {
                let e = BrokerError::from(e);
                g.error_code = e.code();
                g.error_message = Some(StrBytes::from_string(e.message()));
                // As Kafka: an error entry has an empty state.
            }
        }
        resp.groups.push(g);
    }
    resp
}
