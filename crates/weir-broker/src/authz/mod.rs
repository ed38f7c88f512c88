//! ACL authorization in the request pipeline (Kafka's `AuthHelper` + the per-API checks of
//! `KafkaApis`). [`Authz`] answers "may this request's principal do OPERATION on RESOURCE" from
//! the ACLs of the current metadata image (the decision itself is `weir_meta::authorizer`);
//! [`gate`] applies the checks Kafka makes for each API before the request reaches its handler:
//! a request refused as a whole is answered here, and a request refused for some of its
//! resources (topics, groups, transactional ids) reaches its handler without them and gets
//! their `*_AUTHORIZATION_FAILED` entries merged into the handler's response.
//!
//! With `authorizer.class.name` unset every check passes and no request is touched.

mod admin_apis;
pub mod gate;
mod group_apis;
mod merge;
mod share_apis;
mod topic_apis;
mod txn_apis;

use std::net::IpAddr;
use std::sync::Arc;

use weir_meta::acl::{AclOperation, ResourceType, CLUSTER_NAME};
use weir_meta::authorizer::{authorize, authorize_any, AuthorizerSettings, Request};
use weir_meta::image::MetadataImage;

use crate::config::AuthorizerConfig;
use crate::metadata::view::MetadataView;

pub use gate::gate;
pub use merge::{Gate, Post};

/// The authorization of one request: its principal and host, the settings, and the ACLs of the
/// image current when the request arrived (None when the authorizer is off: everything passes).
#[derive(Clone)]
pub struct Authz {
    settings: Arc<AuthorizerSettings>,
    image: Option<Arc<MetadataImage>>,
    principal: String,
    host: String,
}

impl Authz {
    /// The authorization of requests from the principal `kind:name` (`User:alice`) at `host`
    /// under `config`, with the ACLs of `view`'s current image. Free when the authorizer is off
    /// (nothing is copied or formatted).
    pub fn new(
        config: &AuthorizerConfig,
        view: &MetadataView,
        (kind, name): (&str, &str),
        host: IpAddr,
    ) -> Self {
        if !config.enabled {
            return Authz {
                settings: config.settings.clone(),
                image: None,
                principal: String::new(),
                host: String::new(),
            };
        }
        Authz {
            settings: config.settings.clone(),
            image: Some(view.image()),
            principal: format!("{kind}:{name}"),
            host: host.to_string(),
        }
    }

    /// True when the authorizer is on (checks can fail).
    pub fn enabled(&self) -> bool {
        self.image.is_some()
    }

    /// True when the requester is a super user (or the authorizer is off).
    pub fn is_super_user(&self) -> bool {
        self.image.is_none() || self.settings.is_super_user(&self.principal)
    }

    /// `Type:name` of the requester.
    pub fn principal(&self) -> &str {
        &self.principal
    }

    /// True when the requester may do `op` on the resource `(kind, name)`.
    pub fn allows(&self, op: AclOperation, kind: ResourceType, name: &str) -> bool {
        let Some(image) = &self.image else {
            return true;
        };
        let ok = authorize(
            image.acls.values(),
            &self.settings,
            &Request {
                principal: &self.principal,
                host: &self.host,
                operation: op,
                resource_type: kind,
                resource_name: name,
            },
        );
        if !ok {
            tracing::debug!(principal = %self.principal, host = %self.host, %op, %kind, name, "authorization denied");
        }
        ok
    }

    /// True when the requester may do `op` on some resource of type `kind`.
    pub fn allows_any(&self, op: AclOperation, kind: ResourceType) -> bool {
        let Some(image) = &self.image else {
            return true;
        };
        authorize_any(
            image.acls.values(),
            &self.settings,
            &self.principal,
            &self.host,
            op,
            kind,
        )
    }

    /// `op` on topic `name`.
    pub fn topic(&self, op: AclOperation, name: &str) -> bool {
        self.allows(op, ResourceType::Topic, name)
    }

    /// `op` on group `name`.
    pub fn group(&self, op: AclOperation, name: &str) -> bool {
        self.allows(op, ResourceType::Group, name)
    }

    /// `op` on transactional id `name`.
    pub fn txn_id(&self, op: AclOperation, name: &str) -> bool {
        self.allows(op, ResourceType::TransactionalId, name)
    }

    /// `op` on the cluster.
    pub fn cluster(&self, op: AclOperation) -> bool {
        self.allows(op, ResourceType::Cluster, CLUSTER_NAME)
    }

    /// Kafka's authorized-operations bit field of a resource (bit `1 << code` per operation of
    /// the resource type the requester may do), as Metadata, DescribeCluster and the group
    /// descriptions report when asked.
    pub fn authorized_operations(&self, kind: ResourceType, name: &str) -> i32 {
        use AclOperation as O;
        let ops: &[AclOperation] = match kind {
            ResourceType::Topic => &[
                O::Read,
                O::Write,
                O::Create,
                O::Delete,
                O::Alter,
                O::Describe,
                O::DescribeConfigs,
                O::AlterConfigs,
            ],
            ResourceType::Group => &[
                O::Read,
                O::Describe,
                O::Delete,
                O::DescribeConfigs,
                O::AlterConfigs,
            ],
            ResourceType::Cluster => &[
                O::Create,
                O::ClusterAction,
                O::DescribeConfigs,
                O::AlterConfigs,
                O::IdempotentWrite,
                O::Alter,
                O::Describe,
            ],
            ResourceType::TransactionalId => &[O::Describe, O::Write],
            _ => &[],
        };
        ops.iter()
            .filter(|op| self.allows(**op, kind, name))
            .fold(0, |bits, op| bits | (1 << op.code()))
    }

    /// Creating topic `name`: CREATE on the cluster or on the topic (as Kafka).
    pub fn create_topic(&self, name: &str) -> bool {
        self.cluster(AclOperation::Create) || self.topic(AclOperation::Create, name)
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_more;
