//! A group as the coordinator holds it: its membership (classic or KIP-848) and its committed
//! offsets. Private to the crate: callers get descriptions ([`crate::describe`]).

use std::collections::BTreeMap;

use weir_coordinator::Record;

use crate::classic::{ClassicGroup, ClassicState, Ms};
use crate::consumer::ConsumerGroup;
use crate::records::{self, OffsetValue, RecordKey};

/// Which protocol a group speaks.
#[derive(Debug)]
pub(crate) enum Membership {
    /// Classic (JoinGroup/SyncGroup) group.
    Classic(ClassicGroup),
    /// KIP-848 consumer group.
    Consumer(ConsumerGroup),
}

/// A group: its membership and its committed offsets.
#[derive(Debug)]
pub(crate) struct Group {
    /// Membership state.
    pub membership: Membership,
    /// Committed offsets by (topic, partition).
    pub offsets: BTreeMap<(String, i32), OffsetValue>,
    /// Where each committed offset stands in the partition's record order (the shard's
    /// [`crate::shard::GroupShard::next_order`] when it was applied): a committed transactional
    /// offset replaces the current one only if its record came later (Kafka compares the
    /// records' log offsets).
    pub offset_order: BTreeMap<(String, i32), u64>,
    /// Since when the group has had no members (for offset expiry).
    pub empty_since: Ms,
}

impl Group {
    pub fn new_classic(id: &str, now: Ms) -> Self {
        Group {
            membership: Membership::Classic(ClassicGroup::new(id, now)),
            offsets: BTreeMap::new(),
            offset_order: BTreeMap::new(),
            empty_since: now,
        }
    }

    pub fn new_consumer(id: &str, now: Ms) -> Self {
        Group {
            membership: Membership::Consumer(ConsumerGroup::new(id)),
            offsets: BTreeMap::new(),
            offset_order: BTreeMap::new(),
            empty_since: now,
        }
    }

    /// True when the group has no members.
    pub fn is_empty(&self) -> bool {
        match &self.membership {
            Membership::Classic(c) => c.members.is_empty(),
            Membership::Consumer(c) => c.members.is_empty(),
        }
    }

    /// Kafka's state name.
    pub fn state_name(&self) -> &'static str {
        match &self.membership {
            Membership::Classic(c) => c.state.name(),
            Membership::Consumer(c) => c.state_name(),
        }
    }

    /// "classic" or "consumer" (ListGroups v5 group type).
    pub fn group_type(&self) -> &'static str {
        match &self.membership {
            Membership::Classic(_) => "classic",
            Membership::Consumer(_) => "consumer",
        }
    }

    /// The protocol type ("consumer" for both kinds; "" for a classic group never joined).
    pub fn protocol_type(&self) -> String {
        match &self.membership {
            Membership::Classic(c) => c.protocol_type.clone().unwrap_or_default(),
            Membership::Consumer(_) => "consumer".into(),
        }
    }

    pub fn is_dead(&self) -> bool {
        matches!(&self.membership, Membership::Classic(c) if c.state == ClassicState::Dead)
    }

    /// A classic group that never completed a join phase (only tombstones or offsets made it).
    pub fn membership_is_blank(&self) -> bool {
        matches!(&self.membership, Membership::Classic(c) if c.generation == 0)
    }
}

/// A record of `__consumer_offsets` from a decoded key and an encoded value.
pub(crate) fn record(key: &RecordKey, value: Option<Vec<u8>>) -> Record {
    Record {
        key: records::encode_key(key),
        value,
    }
}

/// The group metadata record of a classic group (GroupMetadataValue v3).
pub(crate) fn group_record(id: &str, c: &ClassicGroup, now: Ms) -> Record {
    record(
        &RecordKey::Group {
            group: id.to_string(),
        },
        Some(records::encode_group(&c.to_stored(now))),
    )
}
