//! DescribeGroups (key 15): state, protocol and members of groups.

use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::{DescribeGroupsRequest, DescribeGroupsResponse};
use kafka_protocol::protocol::StrBytes;

use weir_group_coordinator::assignment::encode_assignment;
use weir_group_coordinator::GroupCoordinator;
use weir_group_coordinator::GroupDetail;

/// An unknown group is described as state "Dead" with no error (v0–v5, as Kafka) or
/// GROUP_ID_NOT_FOUND (69) from v6. Member metadata and assignments are included (for a classic
/// group only when Stable, as Kafka does). KIP-848 groups are described with protocol type
/// "consumer", their assignor as protocol, and each member's assignment in consumer-protocol form.
/// Per group: NOT_COORDINATOR (16) when another broker coordinates it,
/// COORDINATOR_LOAD_IN_PROGRESS (14) while its state loads (with empty state and protocol).
pub async fn handle(
    groups: &GroupCoordinator,
    version: i16,
    req: DescribeGroupsRequest,
) -> DescribeGroupsResponse {
    let ids: Vec<String> = req.groups.iter().map(|g| g.to_string()).collect();
    let described = groups.describe_groups(&ids);
    let mut resp = DescribeGroupsResponse::default();
    resp.groups = req
        .groups
        .into_iter()
        .zip(described)
        .map(|(id, described)| {
            let mut d = DescribedGroup::default();
            d.authorized_operations = i32::MIN;
            match described {
                // Kafka's DescribeGroupsResponse.groupError: empty state and protocol.
                Err(e) => d.error_code = e.code(),
                Ok(None) => {
                    d.group_state = StrBytes::from_static_str("Dead");
                    if version >= 6 {
                        d.error_code = kafka_protocol::error::ResponseError::GroupIdNotFound.code();
                        d.error_message = Some(StrBytes::from_string(format!(
                            "group {} not found",
                            id.as_str()
                        )));
                    }
                }
                Ok(Some(g)) => {
                    d.group_state = StrBytes::from_static_str(g.state);
                    d.protocol_type = StrBytes::from_string(g.protocol_type);
                    match g.detail {
                        GroupDetail::Classic(c) => {
                            // As Kafka (GroupMetadata.summary): the protocol, the members'
                            // metadata and assignments only while the group is Stable.
                            let stable = g.state == "Stable";
                            if stable {
                                d.protocol_data = StrBytes::from_string(c.protocol);
                            }
                            d.members = c
                                .members
                                .into_iter()
                                .map(|m| {
                                    let mut dm = member(
                                        &m.member_id,
                                        &m.instance_id,
                                        &m.client_id,
                                        &m.client_host,
                                    );
                                    if stable {
                                        dm.member_metadata = m.metadata;
                                        dm.member_assignment = m.assignment;
                                    }
                                    dm
                                })
                                .collect();
                        }
                        GroupDetail::Consumer(c) => {
                            d.protocol_data = StrBytes::from_string(c.assignor);
                            d.members = c
                                .members
                                .iter()
                                .map(|m| {
                                    let mut dm = member(
                                        &m.member_id,
                                        &m.instance_id,
                                        &m.client_id,
                                        &m.client_host,
                                    );
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
