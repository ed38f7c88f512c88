//! [`ShareGroupCoordinator`]: share-group membership (ShareGroupHeartbeat, ShareGroupDescribe,
//! ListGroups, DeleteGroups) on the group coordinator — as in Kafka, the coordinator of a
//! share group is the leader of the group's `__consumer_offsets` partition. Membership itself
//! is the crate's [`ShareGroups`] (in memory; see its docs for why that is safe).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use weir_coordinator::{Clock, CoordinatorError};
use weir_group_coordinator::{GroupCoordinator, OFFSETS_TOPIC};
use weir_share_coordinator::{
    ExpiredMember, HeartbeatRequest, HeartbeatResponse, ShareError, ShareGroupDescription,
    ShareGroups, TopicId, TopicMetadata,
};

use super::configs::group_config;
use crate::config::ShareSettings;
use crate::metadata::view::MetadataView;

/// The share groups this broker coordinates.
pub struct ShareGroupCoordinator {
    groups: Mutex<ShareGroups>,
    offsets: Arc<GroupCoordinator>,
    view: Arc<MetadataView>,
    settings: ShareSettings,
    clock: Arc<dyn Clock>,
}

/// The topics of `view` as the share assignor sees them.
pub fn topic_metadata(view: &MetadataView) -> BTreeMap<String, TopicMetadata> {
    view.topics()
        .into_iter()
        .filter(|t| !t.name.starts_with("__"))
        .map(|t| {
            (
                t.name.clone(),
                TopicMetadata {
                    topic_id: TopicId(*t.id.as_bytes()),
                    partitions: t.partitions,
                },
            )
        })
        .collect()
}

impl ShareGroupCoordinator {
    /// Share groups whose coordinator is chosen as `offsets` chooses consumer groups'.
    pub fn new(
        offsets: Arc<GroupCoordinator>,
        view: Arc<MetadataView>,
        settings: ShareSettings,
        clock: Arc<dyn Clock>,
    ) -> Self {
        ShareGroupCoordinator {
            groups: Mutex::new(ShareGroups::new(settings.max_size)),
            offsets,
            view,
            settings,
            clock,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ShareGroups> {
        self.groups.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// True when this broker coordinates `group` (leads its `__consumer_offsets` partition).
    fn leads(&self, group: &str) -> bool {
        self.offsets
            .coordinator_partition(group)
            .and_then(|p| self.view.partition(OFFSETS_TOPIC, p))
            .is_some_and(|p| p.leader == self.view.node_id())
    }

    /// NOT_COORDINATOR unless this broker coordinates `group`; creates `__consumer_offsets`
    /// first (COORDINATOR_NOT_AVAILABLE while it cannot).
    async fn check(&self, group: &str) -> Result<(), ShareError> {
        self.offsets.ensure_offsets_topic().await?;
        if self.leads(group) {
            Ok(())
        } else {
            Err(ShareError::Coordinator(CoordinatorError::NotCoordinator(
                format!("this broker does not coordinate share group {group}"),
            )))
        }
    }

    /// ShareGroupHeartbeat: join, stay, leave. A member that left is returned in `.1` so the
    /// broker releases its acquired records.
    pub async fn heartbeat(
        &self,
        req: HeartbeatRequest,
    ) -> Result<(HeartbeatResponse, Option<ExpiredMember>), ShareError> {
        self.check(&req.group_id).await?;
        let config = group_config(&self.view.image(), &self.settings, &req.group_id);
        let topics = topic_metadata(&self.view);
        let now = self.clock.now_ms();
        let mut groups = self.lock();
        let leaving = if req.member_epoch == -1 {
            groups
                .describe(&req.group_id)
                .ok()
                .and_then(|d| d.members.into_iter().find(|m| m.member_id == req.member_id))
                .map(|m| ExpiredMember {
                    group_id: req.group_id.clone(),
                    member_id: m.member_id,
                    assignment: m.assignment,
                })
        } else {
            None
        };
        let resp = groups.heartbeat(&req, &config, &topics, now)?;
        Ok((resp, leaving))
    }

    /// ShareGroupDescribe of one group (GROUP_ID_NOT_FOUND when unknown here).
    pub async fn describe(&self, group: &str) -> Result<ShareGroupDescription, ShareError> {
        self.check(group).await?;
        self.lock().describe(group)
    }

    /// The share groups this broker coordinates, with their state ("Empty" / "Stable").
    pub fn list(&self) -> Vec<(String, &'static str)> {
        let groups = self.lock();
        groups
            .group_ids()
            .into_iter()
            .filter_map(|g| groups.describe(&g).ok().map(|d| (g, d.state)))
            .collect()
    }

    /// True when `group` is a share group known here.
    pub fn is_share_group(&self, group: &str) -> bool {
        self.lock().describe(group).is_ok()
    }

    /// DeleteGroups of a share group: NON_EMPTY_GROUP while it has members; forgets it.
    /// (The caller deletes its persisted share-partition state.)
    pub async fn delete(&self, group: &str) -> Result<(), crate::error::BrokerError> {
        self.check(group).await?;
        let mut groups = self.lock();
        let d = groups.describe(group)?;
        if !d.members.is_empty() {
            return Err(crate::error::BrokerError::kafka(
                kafka_protocol::error::ResponseError::NonEmptyGroup,
                format!("share group {group} has {} members", d.members.len()),
            ));
        }
        groups.drop_groups(|g| g == group);
        Ok(())
    }

    /// The timer: expire members past their session timeout (returned, so their records are
    /// released) and forget groups this broker no longer coordinates.
    pub fn tick(&self) -> Vec<ExpiredMember> {
        let topics = topic_metadata(&self.view);
        let now = self.clock.now_ms();
        let mut groups = self.lock();
        let expired = groups.expire_members(&topics, now);
        groups.drop_groups(|g| !self.leads(g));
        expired
    }
}

impl std::fmt::Debug for ShareGroupCoordinator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShareGroupCoordinator")
            .finish_non_exhaustive()
    }
}
