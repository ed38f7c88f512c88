//! The names both brokers are given by the setup and the shapes rely on (no logic; shared by
//! `setup` and `shapes`).

use uuid::Uuid;

/// The topic every data-path shape reads and writes (1 partition).
pub const DATA_TOPIC: &str = "conf-a";
/// The topic DeleteRecords deletes from (1 partition, 10 records).
pub const DELETE_RECORDS_TOPIC: &str = "conf-dr";
/// The topic CreatePartitions grows (1 partition at first).
pub const PARTITIONS_TOPIC: &str = "conf-cp";
/// A topic that exists on neither broker.
pub const MISSING_TOPIC: &str = "conf-missing";
/// The id used for [`MISSING_TOPIC`] where a request names topics by id.
pub const MISSING_TOPIC_ID: Uuid = Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
/// The group OffsetCommit / OffsetFetch / OffsetDelete use (offsets only, no members).
pub const OFFSETS_GROUP: &str = "conf-g";
