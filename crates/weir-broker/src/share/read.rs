//! Reading a partition's log for share fetches: whole batches and their offset ranges.

use bytes::Bytes;
use weir_log::batch::check_integrity;
use weir_log::txn_marker::is_control;
use weir_log::PartitionLog;

use crate::error::BrokerError;

/// One batch of a read: its offsets, whether it is a control batch (transaction marker, never
/// delivered: its offsets become gaps) and where it lies in the bytes read.
#[derive(Debug, Clone, Copy)]
pub struct ReadBatch {
    /// First offset.
    pub first: i64,
    /// Last offset.
    pub last: i64,
    /// A control batch.
    pub control: bool,
    /// Position in the bytes.
    pub pos: usize,
    /// Length in bytes.
    pub len: usize,
}

/// Whole batches from the one holding `from`, at most `max_bytes` (at least one batch), none
/// starting at or past `max_offset`.
pub fn read_batches(
    log: &PartitionLog,
    from: i64,
    max_bytes: usize,
    max_offset: i64,
) -> Result<(Bytes, Vec<ReadBatch>), BrokerError> {
    let read = log.read(from, max_bytes, max_offset)?;
    let bytes = read.records.to_bytes()?;
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos < bytes.len() {
        let h = check_integrity(&bytes[pos..])?;
        out.push(ReadBatch {
            first: h.base_offset,
            last: h.last_offset(),
            control: is_control(&h),
            pos,
            len: h.total_len,
        });
        pos += h.total_len;
    }
    Ok((bytes, out))
}
