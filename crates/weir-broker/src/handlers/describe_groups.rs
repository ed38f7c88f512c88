//! DescribeGroups (key 15): state, protocol and members of groups.

use std::sync::Arc;

use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::{DescribeGroupsRequest, DescribeGroupsResponse, RequestHeader};
use kafka_protocol::protocol::StrBytes;

use crate::broker::Broker;
use crate::groups::assignment::encode_assignment;
use crate::groups::Membership;

/// An unknown group is described as state "Dead" with no error (v0–v5, as Kafka) or
/// GROUP_ID_NOT_FOUND (69) from v6. Member metadata and assignments are included (for a classic
/// group only when Stable, as Kafka does). KIP-848 groups are described with protocol type
/// "consumer", their assignor as protocol, and each member's assignment in consumer-protocol form.
/// Per group: NOT_COORDINATOR (16) when another broker coordinates it,
/// COORDINATOR_LOAD_IN_PROGRESS (14) while its state loads (with empty state and protocol).
pub async fn handle(
    broker: &Arc<Broker>,
    _header: &RequestHeader,
    version: i16,
    req: DescribeGroupsRequest,
) -> DescribeGroupsResponse {
    // Ownership first, without holding the group map.
    let refusals: Vec<Option<i16>> = req
        .groups
        .iter()
        .map(|id| broker.check_coordinator(id).err().map(|e| e.code()))
        .collect();
    let groups = broker.groups.lock();
    let mut resp = DescribeGroupsResponse::default();
    resp.groups = req
        .groups
        .into_iter()
        .zip(refusals)
        .map(|(id, refused)| {
            let mut d = DescribedGroup::default();
            d.authorized_operations = i32::MIN;
            if let Some(code) = refused {
                // Kafka's DescribeGroupsResponse.groupError: empty state and protocol.
                d.error_code = code;
                d.group_id = id;
                return d;
            }
            match groups.get(id.as_str()) {
                None => {
                    d.group_state = StrBytes::from_static_str("Dead");
                    if version >= 6 {
                        d.error_code = kafka_protocol::error::ResponseError::GroupIdNotFound.code();
                        d.error_message = Some(StrBytes::from_string(format!(
                            "group {} not found",
                            id.as_str()
                        )));
                    }
                }
                Some(g) => {
                    d.group_state = StrBytes::from_static_str(g.state_name());
                    d.protocol_type = StrBytes::from_string(g.protocol_type());
                    match &g.membership {
                        Membership::Classic(c) => {
                            let protocol = c.protocol.clone().unwrap_or_default();
                            let stable = c.state == crate::groups::classic::ClassicState::Stable;
                            d.protocol_data = StrBytes::from_string(protocol.clone());
                            d.members = c
                                .members
                                .values()
                                .map(|m| {
                                    let mut dm =
                                        member(&m.id, &m.instance_id, &m.client_id, &m.client_host);
                                    if stable {
                                        dm.member_metadata = m.metadata(&protocol);
                                        dm.member_assignment = m.assignment.clone();
                                    }
                                    dm
                                })
                                .collect();
                        }
                        Membership::Consumer(c) => {
                            d.protocol_data = StrBytes::from_string(c.assignor.clone());
                            d.members = c
                                .members
                                .values()
                                .map(|m| {
                                    let mut dm =
                                        member(&m.id, &m.instance_id, &m.client_id, &m.client_host);
                                    dm.member_assignment = encode_assignment(&m.assigned);
                                    dm
                                })
                                .collect();
                        }
                    }
                }
            }
            d.group_id = id;
            d
        })
        .collect();
    resp
}

/// A described member's identity fields.
fn member(
    id: &str,
    instance_id: &Option<String>,
    client_id: &str,
    client_host: &str,
) -> DescribedGroupMember {
    let mut dm = DescribedGroupMember::default();
    dm.member_id = StrBytes::from_string(id.to_string());
    dm.group_instance_id = instance_id.clone().map(StrBytes::from_string);
    dm.client_id = StrBytes::from_string(client_id.to_string());
    dm.client_host = StrBytes::from_string(client_host.to_string());
    dm
}
