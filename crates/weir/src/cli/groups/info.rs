//! What the broker told us about a group and its offsets: shared by the subcommands, which
//! gather it, and the describe printers.

use super::parse::TopicAssignment;

/// What the broker told us about one group member.
pub(super) struct Member {
    pub(super) id: String,
    pub(super) client_id: String,
    pub(super) host: String,
    pub(super) assignment: Vec<TopicAssignment>,
}

/// DescribeGroups for one group.
pub(super) struct GroupInfo {
    pub(super) state: String,
    pub(super) protocol_type: String,
    pub(super) protocol: String,
    pub(super) members: Vec<Member>,
}

/// One row of `describe`.
pub(super) struct Row {
    pub(super) topic: String,
    pub(super) partition: i32,
    pub(super) current: Option<i64>,
    pub(super) end: i64,
    pub(super) owner: Option<usize>,
}
