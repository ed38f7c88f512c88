//! ConsumerGroupDescribe (key 69): KIP-848 groups with epochs, members and assignments.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::consumer_group_describe_response::{
    Assignment, DescribedGroup, Member, TopicPartitions,
};
use kafka_protocol::messages::{
    ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use crate::metadata::view::MetadataView;
use weir_group_coordinator::assignment::TopicPartitions as Assigned;
use weir_group_coordinator::GroupCoordinator;
use weir_group_coordinator::{GroupDescription, GroupDetail};

/// Per group: GROUP_ID_NOT_FOUND (69) for unknown groups and for classic groups (as Kafka does),
/// NOT_COORDINATOR (16) when another broker coordinates the group,
/// COORDINATOR_LOAD_IN_PROGRESS (14) while its state loads.
pub async fn handle(
    groups: &GroupCoordinator,
    view: &MetadataView,
    _version: i16,
    req: ConsumerGroupDescribeRequest,
) -> ConsumerGroupDescribeResponse {
    let described = groups.describe_groups(&ids(&req));
    let mut resp = ConsumerGroupDescribeResponse::default();
    resp.groups = req
        .group_ids
        .into_iter()
        .zip(described)
        .map(|(id, described)| {
            let mut d = DescribedGroup::default();
            d.authorized_operations = i32::MIN;
            match described {
                Err(e) => {
                    d.error_code = e.code();
                    d.error_message = Some(StrBytes::from_string(e.message()));
                }
                Ok(Some(GroupDescription {
                    state,
                    detail: GroupDetail::Consumer(c),
                    ..
                })) => {
                    d.group_state = StrBytes::from_static_str(state);
                    d.group_epoch = c.group_epoch;
                    d.assignment_epoch = c.assignment_epoch;
                    d.assignor_name = StrBytes::from_string(c.assignor.clone());
                    d.members = c
                        .members
                        .iter()
                        .map(|m| {
                            let mut dm = Member::default();
                            dm.member_id = StrBytes::from_string(m.member_id.clone());
                            dm.instance_id = m.instance_id.clone().map(StrBytes::from_string);
                            dm.rack_id = m.rack.clone().map(StrBytes::from_string);
                            dm.member_epoch = m.member_epoch;
                            dm.client_id = StrBytes::from_string(m.client_id.clone());
                            dm.client_host = StrBytes::from_string(m.client_host.clone());
                            dm.subscribed_topic_names = m
                                .subscribed_topics
                                .iter()
                                .map(|t| TopicName(StrBytes::from_string(t.clone())))
                                .collect();
                            dm.assignment = to_wire(view, &m.assigned);
                            dm.target_assignment = to_wire(view, &m.target);
                            dm.member_type = 1;
                            dm
                        })
                        .collect();
                }
                Ok(_) => {
                    d.error_code = ResponseError::GroupIdNotFound.code();
                    d.error_message = Some(StrBytes::from_string(format!(
                        "group {} is not a consumer group",
                        id.as_str()
                    )));
                }
            }
            d.group_id = id;
            d
        })
        .collect();
    resp
}

fn ids(req: &ConsumerGroupDescribeRequest) -> Vec<String> {
    req.group_ids.iter().map(|g| g.to_string()).collect()
}

fn to_wire(view: &MetadataView, a: &Assigned) -> Assignment {
    let mut out = Assignment::default();
    out.topic_partitions = a
        .iter()
        .filter_map(|(t, ps)| {
            let meta = view.topic(t)?;
            let mut tp = TopicPartitions::default();
            tp.topic_id = meta.id;
            tp.topic_name = TopicName(StrBytes::from_string(t.clone()));
            tp.partitions = ps.iter().copied().collect();
            Some(tp)
        })
        .collect();
    out
}
