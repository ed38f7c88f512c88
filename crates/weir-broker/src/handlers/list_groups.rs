//! ListGroups (key 16): the groups this broker coordinates, with protocol type, state (v4+) and
//! type (v5+).

use std::sync::Arc;

use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::{GroupId, ListGroupsRequest, ListGroupsResponse, RequestHeader};
use kafka_protocol::protocol::StrBytes;

use crate::broker::Broker;

/// Lists the groups this broker coordinates (those of the `__consumer_offsets` partitions it
/// leads), like Kafka's per-broker ListGroups: admin clients ask every broker and merge.
/// States filter (v4+) and types filter (v5+) match case-insensitively, as in Kafka. Deleted
/// (Dead) groups are not listed.
pub async fn handle(
    broker: &Arc<Broker>,
    _header: &RequestHeader,
    _version: i16,
    req: ListGroupsRequest,
) -> ListGroupsResponse {
    let states: Vec<String> = req.states_filter.iter().map(|s| s.to_lowercase()).collect();
    let types: Vec<String> = req.types_filter.iter().map(|s| s.to_lowercase()).collect();
    let mut resp = ListGroupsResponse::default();
    let groups = broker.groups.lock();
    let mut listed: Vec<ListedGroup> = groups
        .iter()
        .filter(|(_, g)| g.state_name() != "Dead")
        .filter(|(_, g)| states.is_empty() || states.contains(&g.state_name().to_lowercase()))
        .filter(|(_, g)| types.is_empty() || types.contains(&g.group_type().to_string()))
        .map(|(id, g)| {
            let mut l = ListedGroup::default();
            l.group_id = GroupId(StrBytes::from_string(id.clone()));
            l.protocol_type = StrBytes::from_string(g.protocol_type());
            l.group_state = StrBytes::from_static_str(g.state_name());
            l.group_type = StrBytes::from_static_str(g.group_type());
            l
        })
        .collect();
    listed.sort_by(|a, b| a.group_id.cmp(&b.group_id));
    resp.groups = listed;
    resp
}
