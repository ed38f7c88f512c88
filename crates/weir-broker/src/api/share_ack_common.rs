//! What ShareFetch and ShareAcknowledge share: acknowledgement batches from the wire, and the
//! leader hint of a partition error.

use kafka_protocol::error::ResponseError;
use weir_share_coordinator::{AckBatch, AckType};

use crate::error::BrokerError;
use crate::metadata::view::MetadataView;

/// The first ShareFetch / ShareAcknowledge version with the Renew acknowledge type (KIP-1222).
pub const RENEW_VERSION: i16 = 2;

/// Wire acknowledgement batches (first, last, types) of a request of `version` as the crate's;
/// INVALID_REQUEST for an unknown acknowledge type (Renew, 4, is unknown before v2) or an
/// empty list of types.
pub fn ack_batches(
    version: i16,
    wire: impl IntoIterator<Item = (i64, i64, Vec<i8>)>,
) -> Result<Vec<AckBatch>, BrokerError> {
    wire.into_iter()
        .map(|(first, last, types)| {
            if types.is_empty() {
                return Err(BrokerError::kafka(
                    ResponseError::InvalidRequest,
                    "an acknowledgement batch without acknowledge types",
                ));
            }
            let types = types
                .into_iter()
                .map(|t| {
                    AckType::from_id(t)
                        .filter(|&a| a != AckType::Renew || version >= RENEW_VERSION)
                        .ok_or_else(|| {
                            BrokerError::kafka(
                                ResponseError::InvalidRequest,
                                format!("unknown acknowledge type {t} in version {version}"),
                            )
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(AckBatch {
                first_offset: first,
                last_offset: last,
                types,
            })
        })
        .collect()
}

/// (leader id, leader epoch) of a partition of topic `topic_id`, or (-1, -1).
pub fn leader_of(view: &MetadataView, topic_id: uuid::Uuid, partition: i32) -> (i32, i32) {
    view.topic_by_id(topic_id)
        .and_then(|t| view.partition(&t.name, partition))
        .map_or((-1, -1), |p| (p.leader, p.leader_epoch))
}
