//! The read-only metadata view: what every service and handler asks of the cluster metadata
//! (topics, partition assignments, leadership and epoch checks, the follower-read choice,
//! broker endpoints, the controller to show clients). Every answer is a pure function of the
//! metadata image (plus this node's identity), so it is testable with a hand-built image.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use tokio::sync::watch;
use uuid::Uuid;
use weir_meta::image::MetadataImage;
use weir_meta::raft::MetaNode;
use weir_meta::records::PartitionInfo;

use super::topic_meta::{to_meta, TopicMeta};
use crate::config::listeners::Listener;
use crate::error::BrokerError;

/// Where metadata images come from: the Raft member in a broker, a hand-fed channel in tests.
pub trait ImageSource: Send + Sync + 'static {
    /// The latest applied image.
    fn image(&self) -> Arc<MetadataImage>;
    /// A receiver that sees every later applied image.
    fn subscribe(&self) -> watch::Receiver<Arc<MetadataImage>>;
    /// The current Raft leader (the active controller), if known.
    fn quorum_leader(&self) -> Option<u64>;
    /// The voters and their CONTROLLER `host:port` as this node's metadata log records them
    /// (empty when unknown: the caller falls back to `controller.quorum.voters`).
    fn quorum_voters(&self) -> std::collections::BTreeMap<u64, String> {
        std::collections::BTreeMap::new()
    }
}

impl ImageSource for MetaNode {
    fn image(&self) -> Arc<MetadataImage> {
        MetaNode::image(self)
    }
    fn subscribe(&self) -> watch::Receiver<Arc<MetadataImage>> {
        MetaNode::subscribe(self)
    }
    fn quorum_leader(&self) -> Option<u64> {
        self.leader()
    }
    fn quorum_voters(&self) -> std::collections::BTreeMap<u64, String> {
        self.voter_endpoints()
    }
}

/// A hand-fed image source (tests and simulations): images change only through [`StaticImages::set`].
#[derive(Debug)]
pub struct StaticImages {
    tx: watch::Sender<Arc<MetadataImage>>,
    leader: Option<u64>,
}

impl StaticImages {
    /// A source holding `image`, reporting `leader` as the active controller.
    pub fn new(image: MetadataImage, leader: Option<u64>) -> Self {
        StaticImages {
            tx: watch::channel(Arc::new(image)).0,
            leader,
        }
    }
    /// Replace the image (subscribers see the change).
    pub fn set(&self, image: MetadataImage) {
        self.tx.send_replace(Arc::new(image));
    }
}

impl ImageSource for StaticImages {
    fn image(&self) -> Arc<MetadataImage> {
        self.tx.borrow().clone()
    }
    fn subscribe(&self) -> watch::Receiver<Arc<MetadataImage>> {
        self.tx.subscribe()
    }
    fn quorum_leader(&self) -> Option<u64> {
        self.leader
    }
}

/// This node's identity as the view needs it.
#[derive(Debug, Clone)]
pub struct NodeIdentity {
    /// `node.id`.
    pub node_id: i32,
    /// This process's broker incarnation (registered with the controller).
    pub incarnation: Uuid,
    /// True when `process.roles` includes `broker`.
    pub is_broker: bool,
    /// `broker.rack`.
    pub rack: Option<String>,
    /// The advertised client listener (the first non-CONTROLLER one of `advertised.listeners`,
    /// else of `listeners`).
    pub advertised: Option<Listener>,
    /// Every advertised client listener (`advertised.listeners`, else `listeners`, without
    /// CONTROLLER), so a client is answered with the endpoint of the listener it came in on.
    pub advertised_listeners: Vec<Listener>,
    /// `replica.selector.class` names the rack-aware selector (KIP-392).
    pub rack_aware_selector: bool,
}

/// Read-only answers from the metadata image. Cheap to share (`Arc`); never changes metadata.
pub struct MetadataView {
    source: Arc<dyn ImageSource>,
    me: NodeIdentity,
    /// Port actually bound by the first client listener (0 = not serving yet).
    bound_port: AtomicU16,
}

impl std::fmt::Debug for MetadataView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetadataView")
            .field("node_id", &self.me.node_id)
            .finish_non_exhaustive()
    }
}

fn epoch_check(current: i32, leader_epoch: i32) -> Result<(), BrokerError> {
    if current > leader_epoch {
        return Err(BrokerError::kafka(
            ResponseError::UnknownLeaderEpoch,
            format!("leader epoch {current} is newer than {leader_epoch}"),
        ));
    }
    if current >= 0 && current < leader_epoch {
        return Err(BrokerError::kafka(
            ResponseError::FencedLeaderEpoch,
            format!("leader epoch {current} is older than {leader_epoch}"),
        ));
    }
    Ok(())
}

impl MetadataView {
    /// A view over `source` for the node `me`.
    pub fn new(source: Arc<dyn ImageSource>, me: NodeIdentity) -> Self {
        MetadataView {
            source,
            me,
            bound_port: AtomicU16::new(0),
        }
    }

    /// This node's id.
    pub fn node_id(&self) -> i32 {
        self.me.node_id
    }

    /// This node's identity.
    pub fn identity(&self) -> &NodeIdentity {
        &self.me
    }

    /// True when this node is a broker (a dedicated controller hosts no partitions).
    pub fn is_broker(&self) -> bool {
        self.me.is_broker
    }

    /// The latest applied image.
    pub fn image(&self) -> Arc<MetadataImage> {
        self.source.image()
    }

    /// A receiver of every later image (for waits that end when metadata changes).
    pub fn subscribe(&self) -> watch::Receiver<Arc<MetadataImage>> {
        self.source.subscribe()
    }

    /// The topic called `name`.
    pub fn topic(&self, name: &str) -> Option<TopicMeta> {
        self.image().topics.get(name).map(|t| to_meta(name, t))
    }

    /// The topic with id `id`.
    pub fn topic_by_id(&self, id: Uuid) -> Option<TopicMeta> {
        self.image().topic_by_id(id).map(|(n, t)| to_meta(n, t))
    }

    /// Every topic, by name.
    pub fn topics(&self) -> Vec<TopicMeta> {
        let img = self.image();
        img.topics.iter().map(|(n, t)| to_meta(n, t)).collect()
    }

    /// One partition's assignment and leadership.
    pub fn partition(&self, topic: &str, partition: i32) -> Option<PartitionInfo> {
        self.image().partition(topic, partition).cloned()
    }

    /// A topic's `min.insync.replicas` override, if it has one that parses.
    pub fn min_insync_override(&self, topic: &str) -> Option<i32> {
        self.image()
            .topics
            .get(topic)?
            .configs
            .get("min.insync.replicas")?
            .parse()
            .ok()
    }

    /// Check that this broker (this incarnation, registered) leads `topic`-`partition` and that
    /// the client's `current_leader_epoch` (-1 = unchecked) is the leader epoch, as Kafka does:
    /// UNKNOWN_TOPIC_OR_PARTITION (3), NOT_LEADER_OR_FOLLOWER (6), UNKNOWN_LEADER_EPOCH (75,
    /// newer) / FENCED_LEADER_EPOCH (74, older). Returns the leader epoch.
    pub fn check_leader(
        &self,
        topic: &str,
        partition: i32,
        current_leader_epoch: i32,
    ) -> Result<i32, BrokerError> {
        // One image for every check (this runs on the produce and fetch paths).
        let image = self.image();
        let p = image.partition(topic, partition).ok_or_else(|| {
            BrokerError::kafka(
                ResponseError::UnknownTopicOrPartition,
                format!("{topic}-{partition} does not exist"),
            )
        })?;
        if p.leader != self.me.node_id {
            return Err(BrokerError::kafka(
                ResponseError::NotLeaderOrFollower,
                format!(
                    "broker {} does not lead {topic}-{partition} (leader {})",
                    self.me.node_id, p.leader
                ),
            ));
        }
        // A restarted broker leads only once its own incarnation is registered: until then the
        // leadership in the image is its previous incarnation's, whose unsynced tail may be
        // gone (found by weir-sim; registration then fences the old incarnation).
        if !self.registered_in(&image) {
            return Err(BrokerError::kafka(
                ResponseError::NotLeaderOrFollower,
                format!(
                    "broker {} is not registered yet: {topic}-{partition} is led by its previous \
                     incarnation",
                    self.me.node_id
                ),
            ));
        }
        epoch_check(current_leader_epoch, p.leader_epoch)?;
        Ok(p.leader_epoch)
    }

    /// May this broker serve a consumer's fetch of `topic`-`partition` as a follower (Fetch
    /// v11+, KIP-392)? Yes when it is a replica and the consumer's `current_leader_epoch` (-1 =
    /// unchecked) is the partition's leader epoch; otherwise NOT_LEADER_OR_FOLLOWER,
    /// FENCED_LEADER_EPOCH or UNKNOWN_LEADER_EPOCH as for the leader.
    pub fn check_follower_read(
        &self,
        topic: &str,
        partition: i32,
        current_leader_epoch: i32,
    ) -> Result<(), BrokerError> {
        let p = self.partition(topic, partition).ok_or_else(|| {
            BrokerError::kafka(
                ResponseError::UnknownTopicOrPartition,
                format!("{topic}-{partition} does not exist"),
            )
        })?;
        if !p.replicas.contains(&self.me.node_id) {
            return Err(BrokerError::kafka(
                ResponseError::NotLeaderOrFollower,
                format!(
                    "broker {} is not a replica of {topic}-{partition}",
                    self.me.node_id
                ),
            ));
        }
        epoch_check(current_leader_epoch, p.leader_epoch)
    }

    /// With `replica.selector.class` set to the rack-aware selector: the replica a consumer in
    /// `client_rack` should read `topic`-`partition` from, when that is not this broker — an
    /// unfenced ISR member whose `broker.rack` matches (the leader itself when its rack matches,
    /// i.e. None). None without a selector, a rack, or a matching replica.
    pub fn preferred_read_replica(
        &self,
        topic: &str,
        partition: i32,
        client_rack: &str,
    ) -> Option<i32> {
        if !self.me.rack_aware_selector || client_rack.is_empty() {
            return None;
        }
        let image = self.image();
        let p = image.partition(topic, partition)?;
        let rack_of = |id: i32| {
            image
                .brokers
                .get(&id)
                .filter(|b| !b.fenced)
                .and_then(|b| b.rack.clone())
        };
        if rack_of(p.leader).as_deref() == Some(client_rack) {
            return None;
        }
        p.isr
            .iter()
            .copied()
            .find(|&r| r != p.leader && rack_of(r).as_deref() == Some(client_rack))
            .filter(|&r| r != self.me.node_id)
    }

    /// The controller id clients should see (Metadata, DescribeCluster): the active controller
    /// when it is also a live broker (combined nodes), otherwise this broker — like KRaft, which
    /// shows clients a broker and forwards controller requests, because dedicated controllers
    /// are not reachable on a client listener (this broker only while it is unfenced, else another
    /// live broker). Always one the broker list of the same answer names; -1 when none is live.
    pub fn client_visible_controller(&self) -> i32 {
        let image = self.image();
        let leader = self
            .source
            .quorum_leader()
            .and_then(|l| i32::try_from(l).ok());
        match leader {
            Some(l) if image.brokers.get(&l).is_some_and(|b| !b.fenced) => l,
            _ if self.me.is_broker && !self.self_fenced() => self.me.node_id,
            // Never a broker the same answer leaves out of its broker list (a client would
            // wait for it in vain): another live broker, or none.
            _ => image
                .brokers
                .values()
                .find(|b| !b.fenced && b.id != self.me.node_id)
                .map_or(-1, |b| b.id),
        }
    }

    /// The active controller (Raft leader), if known.
    pub fn active_controller(&self) -> Option<u64> {
        self.source.quorum_leader()
    }

    /// The metadata quorum's voters with their CONTROLLER `host:port`, from the log (KIP-853:
    /// changed by AddRaftVoter / RemoveRaftVoter); empty when the log has no addresses (a sole
    /// voter).
    pub fn quorum_voters(&self) -> std::collections::BTreeMap<u64, String> {
        self.source.quorum_voters()
    }

    /// Record the port the first client listener actually bound (matters for port 0).
    pub fn set_bound_port(&self, port: u16) {
        self.bound_port.store(port, Ordering::Relaxed);
    }

    /// The advertised endpoint clients should use, as `(host, port)`. An advertised port of 0 is
    /// replaced by the port actually bound, as Kafka does for `listeners=PLAINTEXT://127.0.0.1:0`.
    /// This is the first client listener's (what other brokers use); clients are answered with
    /// the listener their request arrived on (`advertised_endpoint_on`).
    pub fn advertised_endpoint(&self) -> (String, i32) {
        let (host, port) = self
            .me
            .advertised
            .as_ref()
            .map(|l| (l.host.clone(), l.port))
            .unwrap_or_else(|| ("127.0.0.1".to_string(), 9092));
        let port = if port == 0 {
            self.bound_port.load(Ordering::Relaxed)
        } else {
            port
        };
        (host, i32::from(port))
    }

    /// This broker's advertised endpoint on `listener` (the listener a request arrived on), as
    /// Kafka answers; the first client listener's when `listener` is not advertised.
    pub fn advertised_endpoint_on(&self, listener: &str) -> (String, i32) {
        let first = self.me.advertised.as_ref().map(|l| l.name.as_str());
        match self
            .me
            .advertised_listeners
            .iter()
            .find(|l| l.name.eq_ignore_ascii_case(listener))
        {
            Some(l) if Some(l.name.as_str()) != first && l.port != 0 => {
                (l.host.clone(), i32::from(l.port))
            }
            _ => self.advertised_endpoint(),
        }
    }

    /// The endpoint of broker `id` on `listener`: this broker's (see
    /// [`Self::advertised_endpoint_on`]) or an unfenced broker's registered endpoint of that
    /// name (its first one when it has none of that name).
    pub fn broker_endpoint_on(&self, id: i32, listener: &str) -> Option<(String, i32)> {
        if id == self.me.node_id {
            return Some(self.advertised_endpoint_on(listener));
        }
        let image = self.image();
        let b = image.brokers.get(&id).filter(|b| !b.fenced)?;
        let ep = b
            .listeners
            .iter()
            .find(|e| e.name.eq_ignore_ascii_case(listener))
            .or_else(|| b.listeners.first())?;
        Some((ep.host.clone(), i32::from(ep.port)))
    }

    /// The client endpoint of broker `id`: this broker's live endpoint, or an unfenced broker's
    /// registered one.
    pub fn broker_endpoint(&self, id: i32) -> Option<(String, i32)> {
        if id == self.me.node_id {
            return Some(self.advertised_endpoint());
        }
        let image = self.image();
        let b = image.brokers.get(&id).filter(|b| !b.fenced)?;
        let ep = b.listeners.first()?;
        Some((ep.host.clone(), i32::from(ep.port)))
    }

    /// True when the controller has fenced this very incarnation (a fresh incarnation is fenced
    /// until its first heartbeat, as in KRaft).
    pub fn self_fenced(&self) -> bool {
        self.image()
            .brokers
            .get(&self.me.node_id)
            .is_some_and(|b| b.fenced && b.incarnation == self.me.incarnation)
    }

    /// True when this process's incarnation is registered and the controller has unfenced it.
    pub fn self_unfenced(&self) -> bool {
        self.image()
            .brokers
            .get(&self.me.node_id)
            .is_some_and(|b| !b.fenced && b.incarnation == self.me.incarnation)
    }

    /// True when the image has this node registered with this process's incarnation.
    pub fn registered(&self) -> bool {
        self.registered_in(&self.image())
    }

    fn registered_in(&self, image: &MetadataImage) -> bool {
        image
            .brokers
            .get(&self.me.node_id)
            .is_some_and(|b| b.incarnation == self.me.incarnation)
    }

    /// Partition counts of every topic except `except` (the input of KIP-848 assignors).
    pub fn partition_counts(&self, except: &str) -> std::collections::BTreeMap<String, i32> {
        self.image()
            .topics
            .iter()
            .filter(|(n, _)| n.as_str() != except)
            .map(|(n, t)| (n.clone(), t.partitions.len() as i32))
            .collect()
    }
}

#[cfg(test)]
#[path = "view_tests.rs"]
mod tests;
