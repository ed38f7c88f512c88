//! Fetch from follower (KIP-392): the leader points a consumer that names its rack
//! (`client.rack`) at an in-sync replica in that rack, and followers serve consumer fetches up
//! to their own high watermark.

use kafka_protocol::error::ResponseError;

use crate::broker::Broker;
use crate::error::BrokerError;

impl Broker {
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
        if !self.config.replication.rack_aware_selector || client_rack.is_empty() {
            return None;
        }
        let image = self.meta.image();
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
            .filter(|&r| r != self.config.node_id)
    }

    /// May this broker serve a consumer's fetch of `topic`-`partition` as a follower (Fetch
    /// v11+)? Yes when it is a replica and the consumer's `current_leader_epoch` (-1 =
    /// unchecked) is the partition's leader epoch; otherwise NOT_LEADER_OR_FOLLOWER,
    /// FENCED_LEADER_EPOCH or UNKNOWN_LEADER_EPOCH as for the leader.
    pub fn check_follower_read(
        &self,
        topic: &str,
        partition: i32,
        current_leader_epoch: i32,
    ) -> Result<(), BrokerError> {
        let p = self.partition_info(topic, partition).ok_or_else(|| {
            BrokerError::kafka(
                ResponseError::UnknownTopicOrPartition,
                format!("{topic}-{partition} does not exist"),
            )
        })?;
        if !p.replicas.contains(&self.config.node_id) {
            return Err(BrokerError::kafka(
                ResponseError::NotLeaderOrFollower,
                format!(
                    "broker {} is not a replica of {topic}-{partition}",
                    self.config.node_id
                ),
            ));
        }
        if current_leader_epoch > p.leader_epoch {
            return Err(BrokerError::kafka(
                ResponseError::UnknownLeaderEpoch,
                format!(
                    "leader epoch {current_leader_epoch} is newer than {}",
                    p.leader_epoch
                ),
            ));
        }
        if current_leader_epoch >= 0 && current_leader_epoch < p.leader_epoch {
            return Err(BrokerError::kafka(
                ResponseError::FencedLeaderEpoch,
                format!(
                    "leader epoch {current_leader_epoch} is older than {}",
                    p.leader_epoch
                ),
            ));
        }
        Ok(())
    }
}
