//! May the dead-letter copier write to a share group's DLQ topic, and creating a missing one
//! (KIP-1191 as Kafka 4.4 does it, `ShareGroupDLQStateManager.ProduceRequestHandler`:
//! `validateDlqTopic` before every write, `createTopicBuilder` for auto-creation).
//!
//! In order, a dead letter of group G with DLQ topic T is refused — archived without a copy,
//! with an error logged, as Kafka's `SharePartition` does with a failed DLQ write — when
//! T starts with `__`; T exists without `errors.deadletterqueue.group.enable=true`; T does not
//! exist and `errors.deadletterqueue.auto.create.topics.enable` is false; or the broker's
//! `errors.deadletterqueue.topic.name.prefix` is not empty and T does not start with it.
//! Otherwise a missing T is created like any CreateTopics through the metadata quorum, with
//! the broker's `num.partitions` and `default.replication.factor` (Kafka sends -1 / -1) and the
//! topic configs `errors.deadletterqueue.group.enable=true` and
//! `message.timestamp.type=CreateTime`. A creation that fails for good (say, a replication
//! factor above the live brokers) refuses the dead letters too; a retriable failure
//! (NOT_CONTROLLER, REQUEST_TIMED_OUT) leaves them pending for the next pass.

use std::collections::BTreeMap;
use std::time::Duration;

use kafka_protocol::error::ResponseError;

use super::manager::SharePartitionManager;
use crate::admin::proposal::deadline_of;
use crate::config::topic::{dlq_group_enabled, DLQ_GROUP_ENABLE};
use crate::config::ShareSettings;
use crate::error::BrokerError;
use crate::metadata::topic_meta::TopicMeta;

/// How long a DLQ topic another broker just created may take to reach this broker's image.
const AWAIT_CREATED: Duration = Duration::from_secs(10);

/// Why a group's dead letters are archived without a copy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DlqRefusal {
    /// The name is in the internal topics' `__` namespace.
    #[error("DLQ topic {topic} of share group {group} starts with __")]
    Reserved {
        /// Share group.
        group: String,
        /// Its DLQ topic.
        topic: String,
    },
    /// The topic exists without `errors.deadletterqueue.group.enable=true`.
    #[error("DLQ topic {topic} of share group {group} does not have {DLQ_GROUP_ENABLE}=true")]
    NotEnabled {
        /// Share group.
        group: String,
        /// Its DLQ topic.
        topic: String,
    },
    /// The topic does not exist and the broker may not create it.
    #[error("DLQ topic {topic} of share group {group} does not exist and errors.deadletterqueue.auto.create.topics.enable is false")]
    Missing {
        /// Share group.
        group: String,
        /// Its DLQ topic.
        topic: String,
    },
    /// The name lacks the broker's `errors.deadletterqueue.topic.name.prefix`.
    #[error("DLQ topic {topic} of share group {group} does not start with the DLQ topic prefix {prefix:?}")]
    Prefix {
        /// Share group.
        group: String,
        /// Its DLQ topic.
        topic: String,
        /// `errors.deadletterqueue.topic.name.prefix`.
        prefix: String,
    },
    /// Creating the missing topic failed for good.
    #[error("DLQ topic {topic} of share group {group} could not be created: {error}")]
    CreateFailed {
        /// Share group.
        group: String,
        /// Its DLQ topic.
        topic: String,
        /// The creation's error.
        error: String,
    },
}

/// What the copier does next with a group's DLQ topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DlqTarget {
    /// Write the copies to this topic.
    Write(TopicMeta),
    /// Create the topic first.
    Create,
}

/// Why no copy is written in this pass.
#[derive(Debug)]
pub enum DlqUnavailable {
    /// For good: archive the dead letters without a copy.
    Refused(DlqRefusal),
    /// For now: leave them pending for the next pass.
    Retry(BrokerError),
}

/// Kafka's checks of `dlq`, the DLQ topic of `group`, against `existing` (the topic in the
/// metadata image, if any) and the broker's settings (see the module docs for the order).
pub fn check_dlq_topic(
    group: &str,
    dlq: &str,
    existing: Option<TopicMeta>,
    settings: &ShareSettings,
) -> Result<DlqTarget, DlqRefusal> {
    let (group, topic) = (group.to_string(), dlq.to_string());
    if dlq.starts_with("__") {
        return Err(DlqRefusal::Reserved { group, topic });
    }
    match &existing {
        Some(meta) if !dlq_group_enabled(&meta.configs) => {
            return Err(DlqRefusal::NotEnabled { group, topic })
        }
        None if !settings.dlq_auto_create => return Err(DlqRefusal::Missing { group, topic }),
        _ => {}
    }
    let prefix = &settings.dlq_topic_prefix;
    if !prefix.is_empty() && !dlq.starts_with(prefix.as_str()) {
        return Err(DlqRefusal::Prefix {
            group,
            topic,
            prefix: prefix.clone(),
        });
    }
    Ok(existing.map_or(DlqTarget::Create, DlqTarget::Write))
}

/// The topic configs of an auto-created DLQ topic.
pub fn auto_created_configs() -> BTreeMap<String, String> {
    BTreeMap::from([
        (DLQ_GROUP_ENABLE.to_string(), "true".to_string()),
        (
            "message.timestamp.type".to_string(),
            "CreateTime".to_string(),
        ),
    ])
}

/// Errors of a topic creation worth another attempt in a later pass.
fn retriable(e: &BrokerError) -> bool {
    let code = e.code();
    code == ResponseError::NotController.code() || code == ResponseError::RequestTimedOut.code()
}

impl SharePartitionManager {
    /// The DLQ topic `dlq` of `group` when the copier may write to it, creating it when it is
    /// missing and auto-creation is on (see the module docs).
    pub(crate) async fn dlq_topic(
        &self,
        group: &str,
        dlq: &str,
    ) -> Result<TopicMeta, DlqUnavailable> {
        match check_dlq_topic(group, dlq, self.view.topic(dlq), &self.settings)
            .map_err(DlqUnavailable::Refused)?
        {
            DlqTarget::Write(meta) => return Ok(meta),
            DlqTarget::Create => {}
        }
        let created = self
            .admin
            .create_topic(dlq, -1, -1, auto_created_configs(), false, deadline_of(0))
            .await;
        match created {
            Ok(_) => tracing::info!(group, topic = dlq, "created DLQ topic"),
            Err(e) if e.code() == ResponseError::TopicAlreadyExists.code() => {
                // Created meanwhile (by another broker's copier, or by hand): it must reach
                // this image, then pass the checks like any existing topic.
                tokio::time::timeout(AWAIT_CREATED, self.admin.await_topic(dlq))
                    .await
                    .map_err(|_| {
                        DlqUnavailable::Retry(BrokerError::kafka(
                            ResponseError::UnknownTopicOrPartition,
                            format!("DLQ topic {dlq} not yet in this broker's metadata"),
                        ))
                    })?
                    .map_err(DlqUnavailable::Retry)?;
            }
            Err(e) if retriable(&e) => return Err(DlqUnavailable::Retry(e)),
            Err(e) => {
                return Err(DlqUnavailable::Refused(DlqRefusal::CreateFailed {
                    group: group.to_string(),
                    topic: dlq.to_string(),
                    error: e.to_string(),
                }))
            }
        }
        let existing = self.view.topic(dlq);
        match check_dlq_topic(group, dlq, existing, &self.settings) {
            Ok(DlqTarget::Write(meta)) => Ok(meta),
            Ok(DlqTarget::Create) => Err(DlqUnavailable::Retry(BrokerError::kafka(
                ResponseError::UnknownTopicOrPartition,
                format!("DLQ topic {dlq} was deleted again"),
            ))),
            Err(why) => Err(DlqUnavailable::Refused(why)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::share::{parse_share_config, DEFAULTS};

    fn settings(auto_create: bool, prefix: &str) -> ShareSettings {
        let get = |k: &str| {
            DEFAULTS
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
                .unwrap_or_default()
        };
        let mut s = parse_share_config(&get).unwrap();
        s.dlq_auto_create = auto_create;
        s.dlq_topic_prefix = prefix.to_string();
        s
    }

    fn topic(name: &str, enable: Option<&str>) -> TopicMeta {
        TopicMeta {
            name: name.into(),
            id: uuid::Uuid::new_v4(),
            partitions: 1,
            replication_factor: 1,
            configs: enable
                .map(|v| BTreeMap::from([(DLQ_GROUP_ENABLE.to_string(), v.to_string())]))
                .unwrap_or_default(),
        }
    }

    fn refusal(r: Result<DlqTarget, DlqRefusal>) -> String {
        match r.unwrap_err() {
            DlqRefusal::Reserved { .. } => "reserved",
            DlqRefusal::NotEnabled { .. } => "not-enabled",
            DlqRefusal::Missing { .. } => "missing",
            DlqRefusal::Prefix { .. } => "prefix",
            DlqRefusal::CreateFailed { .. } => "create-failed",
        }
        .into()
    }

    #[test]
    fn an_enabled_topic_with_the_prefix_is_written_to() {
        let s = settings(false, "dlq.");
        let t = topic("dlq.orders", Some("true"));
        assert_eq!(
            check_dlq_topic("g", "dlq.orders", Some(t.clone()), &s),
            Ok(DlqTarget::Write(t))
        );
    }

    #[test]
    fn a_topic_without_group_enable_is_refused() {
        let s = settings(true, "dlq.");
        for enable in [None, Some("false")] {
            let t = topic("dlq.orders", enable);
            let r = check_dlq_topic("g", "dlq.orders", Some(t), &s);
            assert_eq!(refusal(r), "not-enabled", "{enable:?}");
        }
    }

    #[test]
    fn a_missing_topic_is_created_only_with_auto_create() {
        assert_eq!(
            refusal(check_dlq_topic(
                "g",
                "dlq.x",
                None,
                &settings(false, "dlq.")
            )),
            "missing"
        );
        assert_eq!(
            check_dlq_topic("g", "dlq.x", None, &settings(true, "dlq.")),
            Ok(DlqTarget::Create)
        );
        let c = auto_created_configs();
        assert!(dlq_group_enabled(&c));
        assert_eq!(c["message.timestamp.type"], "CreateTime");
    }

    #[test]
    fn the_prefix_is_checked_at_write_time_and_an_empty_prefix_allows_any_name() {
        let s = settings(true, "dlq.");
        let t = topic("orders-dlq", Some("true"));
        let r = check_dlq_topic("g", "orders-dlq", Some(t.clone()), &s);
        assert_eq!(refusal(r), "prefix");
        // Not created either.
        assert_eq!(
            refusal(check_dlq_topic("g", "orders-dlq", None, &s)),
            "prefix"
        );
        let any = settings(true, "");
        assert_eq!(
            check_dlq_topic("g", "orders-dlq", Some(t.clone()), &any),
            Ok(DlqTarget::Write(t))
        );
    }

    #[test]
    fn checks_come_in_kafkas_order() {
        // `__` first, even with an empty prefix and an enabled topic.
        let t = topic("__x", Some("true"));
        assert_eq!(
            refusal(check_dlq_topic("g", "__x", Some(t), &settings(true, ""))),
            "reserved"
        );
        // A disabled topic is refused as such before the prefix is looked at.
        let t = topic("other", Some("false"));
        let r = check_dlq_topic("g", "other", Some(t), &settings(true, "dlq."));
        assert_eq!(refusal(r), "not-enabled");
        // A missing topic without auto-create, before the prefix.
        let r = check_dlq_topic("g", "other", None, &settings(false, "dlq."));
        assert_eq!(refusal(r), "missing");
    }
}
