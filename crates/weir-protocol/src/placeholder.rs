//! Stand-ins for record sets that the connection sends straight from a file (zero-copy fetch).
//!
//! A Fetch response's record sets must be `Bytes` inside the `kafka-protocol` message structs, but
//! a plaintext connection can send them from the segment file with `sendfile` without ever
//! reading them into memory. A placeholder is a `Bytes` of the record set's exact length whose
//! memory is a slice of one shared, never-written zero region (untouched pages: no memory is
//! used); its position in that region names a slot in a registry that holds the caller's
//! payload (the file region). The encoder ([`crate::segmented::SegmentedBuf`]) recognises a
//! placeholder by its address, turns it into a [`crate::segmented::FramePart::Opaque`] part
//! carrying the payload, and the connection writes that part from the file. The slot is freed
//! when the last clone of the placeholder is dropped.
//!
//! A placeholder's bytes read as zeros: only code that encodes with
//! [`crate::response::encode_response_frame`] and writes the opaque parts itself may receive
//! one (the Fetch handler makes them only when the connection says it can send files).

use std::any::Any;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;

/// Shared buffers shorter than this are copied into the frame (a separate piece costs more
/// than the copy), so only record sets at least this long can be placeholders.
pub const MIN_SHARED_BYTES: usize = 16 * 1024;

/// The largest record set a placeholder stands for; larger ones are read into memory.
pub const MAX_PLACEHOLDER_BYTES: usize = 64 * 1024 * 1024;

/// Placeholders alive at once at most; when all are in use, record sets are read into memory.
pub const MAX_PLACEHOLDERS: usize = 8192;

/// What a placeholder carries for the writer (e.g. a file, position and length).
pub type Payload = Arc<dyn Any + Send + Sync>;

struct Registry {
    slots: Vec<Option<(Payload, usize)>>,
    free: Vec<usize>,
}

fn registry() -> &'static Mutex<Registry> {
    static REGISTRY: OnceLock<Mutex<Registry>> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        Mutex::new(Registry {
            slots: Vec::new(),
            free: Vec::new(),
        })
    })
}

fn lock() -> std::sync::MutexGuard<'static, Registry> {
    // The registry stays consistent across a panic (every update is a single assignment).
    registry().lock().unwrap_or_else(|e| e.into_inner())
}

/// The shared zero region: allocated zeroed (the allocator maps fresh pages for a block this
/// large, so untouched pages cost no memory) and never written.
fn zeros() -> &'static [u8] {
    static ZEROS: OnceLock<&'static [u8]> = OnceLock::new();
    ZEROS.get_or_init(|| {
        let region = vec![0u8; MAX_PLACEHOLDER_BYTES + MAX_PLACEHOLDERS];
        Box::leak(region.into_boxed_slice())
    })
}

/// Owns one slot; frees it when the placeholder's last clone is dropped.
struct Slot {
    index: usize,
    len: usize,
}

impl AsRef<[u8]> for Slot {
    fn as_ref(&self) -> &[u8] {
        &zeros()[self.index..self.index + self.len]
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut reg = lock();
        if let Some(slot) = reg.slots.get_mut(self.index) {
            *slot = None;
            reg.free.push(self.index);
        }
    }
}

/// A placeholder `Bytes` of length `len` standing for `payload`, or `None` when `len` is below
/// [`MIN_SHARED_BYTES`] (such record sets are copied into the frame, so they must be real
/// bytes) or above [`MAX_PLACEHOLDER_BYTES`], or when every slot is in use: then the caller
/// reads the bytes itself.
pub fn placeholder(len: usize, payload: Payload) -> Option<Bytes> {
    if !(MIN_SHARED_BYTES..=MAX_PLACEHOLDER_BYTES).contains(&len) {
        return None;
    }
    zeros();
    let index = {
        let mut reg = lock();
        let index = match reg.free.pop() {
            Some(i) => i,
            None if reg.slots.len() < MAX_PLACEHOLDERS => {
                reg.slots.push(None);
                reg.slots.len() - 1
            }
            None => return None,
        };
        reg.slots[index] = Some((payload, len));
        index
    };
    CREATED.fetch_add(1, Ordering::Relaxed);
    Some(Bytes::from_owner(Slot { index, len }))
}

/// The payload `bytes` stands for, if it is a whole placeholder (a sub-slice of one is not, and
/// is never produced by the encoder).
pub fn lookup(bytes: &Bytes) -> Option<Payload> {
    let base = zeros().as_ptr() as usize;
    let index = (bytes.as_ptr() as usize).checked_sub(base)?;
    if index >= MAX_PLACEHOLDERS {
        return None;
    }
    let reg = lock();
    match reg.slots.get(index) {
        Some(Some((payload, len))) if *len == bytes.len() => Some(payload.clone()),
        _ => None,
    }
}

static CREATED: AtomicU64 = AtomicU64::new(0);

/// Placeholders made since the process started (for tests: proof the zero-copy path ran).
pub fn created() -> u64 {
    CREATED.load(Ordering::Relaxed)
}

/// Placeholders alive now (for tests and metrics).
pub fn live() -> usize {
    let reg = lock();
    reg.slots.len() - reg.free.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_placeholder_names_its_payload_until_dropped() {
        let payload: Payload = Arc::new(42u32);
        let p = placeholder(MIN_SHARED_BYTES + 3, payload).expect("a slot");
        assert_eq!(p.len(), MIN_SHARED_BYTES + 3);
        assert!(p.iter().all(|b| *b == 0));
        let found = lookup(&p).expect("recognised");
        assert_eq!(found.downcast_ref::<u32>(), Some(&42));
        let clone = p.clone();
        drop(p);
        assert!(lookup(&clone).is_some(), "a clone keeps the slot");
        let sub = clone.slice(1..);
        assert!(lookup(&sub).is_none(), "a sub-slice is not a placeholder");
        let before = live();
        drop(sub);
        drop(clone);
        assert_eq!(live(), before - 1);
    }

    #[test]
    fn small_large_and_ordinary_buffers_are_not_placeholders() {
        assert!(placeholder(MIN_SHARED_BYTES - 1, Arc::new(())).is_none());
        assert!(placeholder(MAX_PLACEHOLDER_BYTES + 1, Arc::new(())).is_none());
        assert!(lookup(&Bytes::from(vec![0u8; MIN_SHARED_BYTES])).is_none());
    }
}
