//! Plain descriptions of groups for ListGroups, DescribeGroups and ConsumerGroupDescribe: the
//! handlers build their responses from these and never see the coordinator's state.

use bytes::Bytes;
use weir_coordinator::CoordinatorError;

use crate::assignment::TopicPartitions;
use crate::classic::ClassicState;
use crate::coordinator::GroupCoordinator;
use crate::group::{Group, Membership};

/// One group in a ListGroups answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupListing {
    /// Group id.
    pub group_id: String,
    /// Protocol type ("consumer"; "" for a classic group never joined).
    pub protocol_type: String,
    /// Kafka's state name (e.g. "Stable", "Empty").
    pub state: &'static str,
    /// "classic" or "consumer".
    pub group_type: &'static str,
}

/// Everything DescribeGroups / ConsumerGroupDescribe report about one group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDescription {
    /// Group id.
    pub group_id: String,
    /// Kafka's state name.
    pub state: &'static str,
    /// Protocol type ("consumer"; "" for a classic group never joined).
    pub protocol_type: String,
    /// "classic" or "consumer".
    pub group_type: &'static str,
    /// Membership details by protocol.
    pub detail: GroupDetail,
}

/// Membership details of a described group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupDetail {
    /// A classic group.
    Classic(ClassicDescription),
    /// A KIP-848 consumer group.
    Consumer(ConsumerDescription),
}

/// A classic group's membership.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassicDescription {
    /// The chosen protocol (assignor name; DescribeGroups' protocol_data), "" if none.
    pub protocol: String,
    /// Generation.
    pub generation: i32,
    /// Leader member id, if any.
    pub leader: Option<String>,
    /// Members in member id order.
    pub members: Vec<ClassicMemberDescription>,
}

/// One member of a classic group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassicMemberDescription {
    /// Member id.
    pub member_id: String,
    /// Static instance id.
    pub instance_id: Option<String>,
    /// Client id.
    pub client_id: String,
    /// Client host.
    pub client_host: String,
    /// The member's metadata for the chosen protocol; empty unless the group is Stable (as
    /// Kafka's DescribeGroups).
    pub metadata: Bytes,
    /// The member's assignment; empty unless the group is Stable.
    pub assignment: Bytes,
}

/// A KIP-848 consumer group's membership.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerDescription {
    /// Group epoch.
    pub group_epoch: i32,
    /// Epoch of the current target assignment.
    pub assignment_epoch: i32,
    /// Server assignor of the current target.
    pub assignor: String,
    /// Members in member id order.
    pub members: Vec<ConsumerMemberDescription>,
}

/// One member of a KIP-848 consumer group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerMemberDescription {
    /// Member id.
    pub member_id: String,
    /// Static instance id.
    pub instance_id: Option<String>,
    /// Rack.
    pub rack: Option<String>,
    /// Client id.
    pub client_id: String,
    /// Client host.
    pub client_host: String,
    /// Member epoch.
    pub member_epoch: i32,
    /// Subscribed topic names, sorted.
    pub subscribed_topics: Vec<String>,
    /// Partitions the member owns now.
    pub assigned: TopicPartitions,
    /// The member's target assignment.
    pub target: TopicPartitions,
}

fn describe(id: &str, g: &Group) -> GroupDescription {
    let detail = match &g.membership {
        Membership::Classic(c) => {
            let protocol = c.protocol.clone().unwrap_or_default();
            let stable = c.state == ClassicState::Stable;
            GroupDetail::Classic(ClassicDescription {
                members: c
                    .members
                    .values()
                    .map(|m| ClassicMemberDescription {
                        member_id: m.id.clone(),
                        instance_id: m.instance_id.clone(),
                        client_id: m.client_id.clone(),
                        client_host: m.client_host.clone(),
                        metadata: if stable {
                            m.metadata(&protocol)
                        } else {
                            Bytes::new()
                        },
                        assignment: if stable {
                            m.assignment.clone()
                        } else {
                            Bytes::new()
                        },
                    })
                    .collect(),
                protocol,
                generation: c.generation,
                leader: c.leader.clone(),
            })
        }
        Membership::Consumer(c) => GroupDetail::Consumer(ConsumerDescription {
            group_epoch: c.group_epoch,
            assignment_epoch: c.assignment_epoch,
            assignor: c.assignor.clone(),
            members: c
                .members
                .values()
                .map(|m| ConsumerMemberDescription {
                    member_id: m.id.clone(),
                    instance_id: m.instance_id.clone(),
                    rack: m.rack.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    member_epoch: m.epoch,
                    subscribed_topics: m.subscribed.iter().cloned().collect(),
                    assigned: m.assigned.clone(),
                    target: c.target.get(&m.id).cloned().unwrap_or_default(),
                })
                .collect(),
        }),
    };
    GroupDescription {
        group_id: id.to_string(),
        state: g.state_name(),
        protocol_type: g.protocol_type(),
        group_type: g.group_type(),
        detail,
    }
}

impl GroupCoordinator {
    /// The groups this broker coordinates (ListGroups), sorted by id, without Dead groups.
    /// `states` and `types` filter case-insensitively by state name and group type ("classic",
    /// "consumer"); an empty filter matches everything.
    pub fn list_groups(&self, states: &[String], types: &[String]) -> Vec<GroupListing> {
        let states: Vec<String> = states.iter().map(|s| s.to_lowercase()).collect();
        let types: Vec<String> = types.iter().map(|s| s.to_lowercase()).collect();
        let mut out: Vec<GroupListing> = self
            .runtime
            .scan(|_, s, _| {
                s.groups
                    .iter()
                    .filter(|(_, g)| g.state_name() != "Dead")
                    .filter(|(_, g)| {
                        states.is_empty() || states.contains(&g.state_name().to_lowercase())
                    })
                    .filter(|(_, g)| {
                        types.is_empty() || types.contains(&g.group_type().to_string())
                    })
                    .map(|(id, g)| GroupListing {
                        group_id: id.clone(),
                        protocol_type: g.protocol_type(),
                        state: g.state_name(),
                        group_type: g.group_type(),
                    })
                    .collect::<Vec<_>>()
            })
            .into_iter()
            .flat_map(|(_, l)| l)
            .collect();
        out.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        out
    }

    /// Describe groups, one answer per id in order: `Err` = this broker cannot serve the group
    /// (NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS), `Ok(None)` = no such group (Kafka
    /// describes it as Dead), else its description. Before `__consumer_offsets` exists no group
    /// exists.
    pub fn describe_groups(
        &self,
        ids: &[String],
    ) -> Vec<Result<Option<GroupDescription>, CoordinatorError>> {
        ids.iter()
            .map(|id| {
                self.runtime
                    .try_read(id, |s| s.groups.get(id).map(|g| describe(id, g)))
                    .map(Option::flatten)
            })
            .collect()
    }
}
