//! ListGroups (key 16): the groups this broker coordinates, with protocol type, state (v4+) and
//! type (v5+).

use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::{GroupId, ListGroupsRequest, ListGroupsResponse};
use kafka_protocol::protocol::StrBytes;

use weir_group_coordinator::GroupCoordinator;

use crate::share::groups::ShareGroupCoordinator;

/// Lists the groups this broker coordinates (those of the `__consumer_offsets` partitions it
/// leads), like Kafka's per-broker ListGroups: admin clients ask every broker and merge.
/// States filter (v4+) and types filter (v5+) match case-insensitively, as in Kafka. Deleted
/// (Dead) groups are not listed. Share groups (KIP-932) are listed with type and protocol type
/// `share`.
pub async fn handle(
    groups: &GroupCoordinator,
    share_groups: &ShareGroupCoordinator,
    _version: i16,
    req: ListGroupsRequest,
) -> ListGroupsResponse {
    let states: Vec<String> = req.states_filter.iter().map(|s| s.to_string()).collect();
    let types: Vec<String> = req.types_filter.iter().map(|s| s.to_string()).collect();
    let mut resp = ListGroupsResponse::default();
    let mut listed: Vec<ListedGroup> = groups
        .list_groups(&states, &types)
        .into_iter()
        .map(|g| {
            let mut l = ListedGroup::default();
            l.group_id = GroupId(StrBytes::from_string(g.group_id));
            l.protocol_type = StrBytes::from_string(g.protocol_type);
            l.group_state = StrBytes::from_static_str(g.state);
            l.group_type = StrBytes::from_static_str(g.group_type);
            l
        })
        .collect();
    let wanted = |filter: &[String], v: &str| {
        filter.is_empty() || filter.iter().any(|f| f.eq_ignore_ascii_case(v))
    };
    if wanted(&types, "share") {
        for (id, state) in share_groups.list() {
            if !wanted(&states, state) {
                continue;
            }
            let mut l = ListedGroup::default();
            l.group_id = GroupId(StrBytes::from_string(id));
            l.protocol_type = StrBytes::from_static_str("share");
            l.group_state = StrBytes::from_static_str(state);
            l.group_type = StrBytes::from_static_str("share");
            listed.push(l);
        }
    }
    resp.groups = listed;
    resp
}
