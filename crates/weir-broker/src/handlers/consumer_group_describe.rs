//! ConsumerGroupDescribe (key 69): KIP-848 groups with epochs, members and assignments.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::consumer_group_describe_response::{
    Assignment, DescribedGroup, Member, TopicPartitions,
};
use kafka_protocol::messages::{
    ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse, RequestHeader, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use crate::broker::Broker;
use crate::groups::assignment::TopicPartitions as Assigned;
use crate::groups::Membership;

/// Per group: GROUP_ID_NOT_FOUND (69) for unknown groups and for classic groups (as Kafka does),
/// NOT_COORDINATOR (16) when another broker coordinates the group,
/// COORDINATOR_LOAD_IN_PROGRESS (14) while its state loads.
pub async fn handle(
    broker: &Arc<Broker>,
    _header: &RequestHeader,
    _version: i16,
    req: ConsumerGroupDescribeRequest,
) -> ConsumerGroupDescribeResponse {
    // Ownership first, without holding the group map.
    let refusals: Vec<Option<(i16, String)>> = req
        .group_ids
        .iter()
        .map(|id| {
            broker
                .check_coordinator(id)
                .err()
                .map(|e| (e.code(), e.message()))
        })
        .collect();
    let groups = broker.groups.lock();
    let mut resp = ConsumerGroupDescribeResponse::default();
    resp.groups = req
        .group_ids
        .into_iter()
        .zip(refusals)
        .map(|(id, refused)| {
            let mut d = DescribedGroup::default();
            d.authorized_operations = i32::MIN;
            if let Some((code, message)) = refused {
                d.error_code = code;
                d.error_message = Some(StrBytes::from_string(message));
                d.group_id = id;
                return d;
            }
            match groups.get(id.as_str()).map(|g| &g.membership) {
                Some(Membership::Consumer(c)) => {
                    d.group_state = StrBytes::from_static_str(c.state_name());
                    d.group_epoch = c.group_epoch;
                    d.assignment_epoch = c.assignment_epoch;
                    d.assignor_name = StrBytes::from_string(c.assignor.clone());
                    d.members = c
                        .members
                        .values()
                        .map(|m| {
                            let mut dm = Member::default();
                            dm.member_id = StrBytes::from_string(m.id.clone());
                            dm.instance_id = m.instance_id.clone().map(StrBytes::from_string);
                            dm.rack_id = m.rack.clone().map(StrBytes::from_string);
                            dm.member_epoch = m.epoch;
                            dm.client_id = StrBytes::from_string(m.client_id.clone());
                            dm.client_host = StrBytes::from_string(m.client_host.clone());
                            dm.subscribed_topic_names = m
                                .subscribed
                                .iter()
                                .map(|t| TopicName(StrBytes::from_string(t.clone())))
                                .collect();
                            dm.assignment = to_wire(broker, &m.assigned);
                            dm.target_assignment =
                                to_wire(broker, &c.target.get(&m.id).cloned().unwrap_or_default());
                            dm.member_type = 1;
                            dm
                        })
                        .collect();
                }
                _ => {
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

fn to_wire(broker: &Broker, a: &Assigned) -> Assignment {
    let mut out = Assignment::default();
    out.topic_partitions = a
        .iter()
        .filter_map(|(t, ps)| {
            let meta = broker.topics.get(t)?;
            let mut tp = TopicPartitions::default();
            tp.topic_id = meta.id;
            tp.topic_name = TopicName(StrBytes::from_string(t.clone()));
            tp.partitions = ps.iter().copied().collect();
            Some(tp)
        })
        .collect();
    out
}
