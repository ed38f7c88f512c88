//! The shape type and the small builders every per-API shape file uses.

use std::collections::HashMap;

use kafka_protocol::messages::{GroupId, RequestKind, TopicName};
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;

/// What a shape may need to know about the broker it is sent to.
#[derive(Debug, Default, Clone)]
pub struct Ctx {
    /// The broker's node id.
    pub node_id: i32,
    /// Topic ids by topic name, learned after setup.
    pub topic_ids: HashMap<String, Uuid>,
    /// The broker's cluster id (from Metadata).
    pub cluster_id: String,
    /// The broker's log dirs as DescribeLogDirs names them.
    pub log_dirs: Vec<String>,
}

impl Ctx {
    /// The id of `topic` on this broker (nil when unknown).
    pub fn topic_id(&self, topic: &str) -> Uuid {
        self.topic_ids.get(topic).copied().unwrap_or_default()
    }
}

/// Builds one request for one broker.
pub type Build = Box<dyn Fn(&Ctx) -> RequestKind>;

/// One request shape of one (API, version).
pub struct Shape {
    /// Short name for the report (`default`, `existing-topic`, ...).
    pub name: &'static str,
    /// The request, per broker.
    pub build: Build,
    /// Field names masked for this shape only, on top of [`crate::normalize::MASKED`].
    pub mask: Vec<&'static str>,
}

impl Shape {
    /// A shape compared field by field.
    pub fn new(name: &'static str, build: impl Fn(&Ctx) -> RequestKind + 'static) -> Shape {
        Shape {
            name,
            build: Box::new(build),
            mask: Vec::new(),
        }
    }

    /// The same request sent to both brokers.
    pub fn fixed(name: &'static str, req: RequestKind) -> Shape {
        Shape::new(name, move |_| req.clone())
    }

    /// Mask more fields for this shape.
    pub fn masking(mut self, fields: &[&'static str]) -> Shape {
        self.mask.extend_from_slice(fields);
        self
    }
}

/// `s` as the codec's string type.
pub fn st(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

/// A topic name.
pub fn topic(s: &str) -> TopicName {
    TopicName(st(s))
}

/// A group id.
pub fn group(s: &str) -> GroupId {
    GroupId(st(s))
}
