//! Response frames in pieces: record sets read from a segment file stay their own buffers
//! instead of being copied into the encoded frame (the copy was ~11 % of the broker's CPU on
//! the fetch path); the connection writes the pieces with one vectored write.

use std::collections::VecDeque;
use std::io::IoSlice;
use std::ops::Range;

use bytes::buf::UninitSlice;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::protocol::buf::ByteBufMut;

use crate::placeholder::{self, Payload};

pub use crate::placeholder::MIN_SHARED_BYTES;

/// A piece of a frame being encoded.
#[derive(Debug)]
enum Part {
    Bytes(Bytes),
    Opaque(OpaquePart),
}

impl Part {
    fn len(&self) -> usize {
        match self {
            Part::Bytes(b) => b.len(),
            Part::Opaque(o) => o.len,
        }
    }
}

/// An encode target that keeps large shared buffers (`put_shared_bytes`) as separate pieces,
/// placeholders ([`crate::placeholder`]) as opaque parts, and everything else in an owned
/// buffer. Byte for byte it holds what a `BytesMut` would, placeholders standing for their
/// payload's bytes.
#[derive(Debug, Default)]
pub struct SegmentedBuf {
    done: Vec<Part>,
    done_len: usize,
    cur: BytesMut,
    /// An encoder sought back across an opaque part, whose bytes cannot be merged.
    broken: bool,
}

impl SegmentedBuf {
    /// An empty buffer whose owned part starts with `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            done: Vec::new(),
            done_len: 0,
            cur: BytesMut::with_capacity(capacity),
            broken: false,
        }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.done_len + self.cur.len()
    }

    /// True when nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The frame's parts after `prefix`, or `None` if an encoder sought back across an opaque
    /// part (no Kafka message encoder does; the frame would be wrong, so it is refused).
    pub fn into_frame(mut self, prefix: Bytes) -> Option<ResponseFrame> {
        if self.broken {
            return None;
        }
        if !self.cur.is_empty() {
            self.done.push(Part::Bytes(self.cur.freeze()));
        }
        Some(ResponseFrame::from_parts(
            std::iter::once(Part::Bytes(prefix)).chain(self.done),
        ))
    }

    /// Merge every piece into the owned buffer (only needed if an encoder seeks backwards
    /// across a piece, which no Kafka message encoder does).
    fn flatten(&mut self) {
        if self.done.is_empty() {
            return;
        }
        let mut all = BytesMut::with_capacity(self.len());
        for piece in self.done.drain(..) {
            match piece {
                Part::Bytes(b) => all.extend_from_slice(&b),
                Part::Opaque(o) => {
                    self.broken = true;
                    all.resize(all.len() + o.len, 0);
                }
            }
        }
        all.extend_from_slice(&self.cur);
        self.cur = all;
        self.done_len = 0;
    }
}

// SAFETY: every method delegates to the owned `BytesMut`, which upholds BufMut's contract.
unsafe impl BufMut for SegmentedBuf {
    fn remaining_mut(&self) -> usize {
        self.cur.remaining_mut()
    }

    unsafe fn advance_mut(&mut self, cnt: usize) {
        // SAFETY: the caller's guarantee for `cnt` is about `chunk_mut`, which is `cur`'s.
        unsafe { self.cur.advance_mut(cnt) }
    }

    fn chunk_mut(&mut self) -> &mut UninitSlice {
        self.cur.chunk_mut()
    }

    fn put_slice(&mut self, src: &[u8]) {
        self.cur.put_slice(src);
    }
}

impl ByteBufMut for SegmentedBuf {
    fn offset(&self) -> usize {
        self.len()
    }

    fn seek(&mut self, offset: usize) {
        if offset < self.done_len {
            self.flatten();
        }
        self.cur.resize(offset - self.done_len, 0);
    }

    fn range(&mut self, r: Range<usize>) -> &mut [u8] {
        if r.start < self.done_len {
            self.flatten();
        }
        let base = self.done_len;
        &mut self.cur[r.start - base..r.end - base]
    }

    fn put_shared_bytes(&mut self, bytes: &Bytes) {
        if bytes.len() < MIN_SHARED_BYTES {
            self.cur.put_slice(bytes);
            return;
        }
        if !self.cur.is_empty() {
            let owned = self.cur.split().freeze();
            self.done_len += owned.len();
            self.done.push(Part::Bytes(owned));
        }
        let part = match placeholder::lookup(bytes) {
            Some(payload) => Part::Opaque(OpaquePart {
                payload,
                len: bytes.len(),
                _hold: bytes.clone(),
            }),
            None => Part::Bytes(bytes.clone()),
        };
        self.done_len += part.len();
        self.done.push(part);
    }
}

/// In-memory pieces of a frame to write in order; a [`bytes::Buf`] whose `chunks_vectored`
/// hands every piece to one vectored write.
#[derive(Debug, Clone, Default)]
pub struct Pieces {
    pieces: VecDeque<Bytes>,
    remaining: usize,
}

impl Pieces {
    /// Pieces made of `pieces` (empty ones are dropped).
    pub fn new(pieces: impl IntoIterator<Item = Bytes>) -> Self {
        let pieces: VecDeque<Bytes> = pieces.into_iter().filter(|p| !p.is_empty()).collect();
        let remaining = pieces.iter().map(Bytes::len).sum();
        Self { pieces, remaining }
    }

    /// Number of pieces left.
    pub fn pieces(&self) -> usize {
        self.pieces.len()
    }

    fn copy_into(&self, all: &mut BytesMut) {
        for p in &self.pieces {
            all.extend_from_slice(p);
        }
    }
}

impl Buf for Pieces {
    fn remaining(&self) -> usize {
        self.remaining
    }

    fn chunk(&self) -> &[u8] {
        self.pieces.front().map_or(&[], |p| p.as_ref())
    }

    fn advance(&mut self, mut cnt: usize) {
        assert!(
            cnt <= self.remaining,
            "advance past the end of frame pieces"
        );
        self.remaining -= cnt;
        while cnt > 0 {
            let Some(front) = self.pieces.front_mut() else {
                break;
            };
            if cnt < front.len() {
                front.advance(cnt);
                break;
            }
            cnt -= front.len();
            self.pieces.pop_front();
        }
    }

    fn chunks_vectored<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        let mut n = 0;
        for (slot, piece) in dst.iter_mut().zip(&self.pieces) {
            *slot = IoSlice::new(piece);
            n += 1;
        }
        n
    }
}

/// A record set the writer sends from where its payload says (a file region: zero-copy fetch),
/// standing in the frame for exactly `len` bytes.
#[derive(Clone)]
pub struct OpaquePart {
    /// What the placeholder carried (see [`crate::placeholder`]).
    pub payload: Payload,
    /// Bytes this part stands for in the frame.
    pub len: usize,
    /// Keeps the placeholder's slot (and so the payload) registered until the part is written.
    _hold: Bytes,
}

impl std::fmt::Debug for OpaquePart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpaquePart")
            .field("len", &self.len)
            .finish()
    }
}

/// One run of a frame: bytes in memory, or a record set to send from elsewhere.
#[derive(Debug, Clone)]
pub enum FramePart {
    /// Bytes in memory, written with one vectored write.
    Memory(Pieces),
    /// A record set sent from its file (or read and written where files cannot be sent).
    Opaque(OpaquePart),
}

/// A complete response frame (size prefix included) as parts to write in order. Frames of
/// every API but Fetch are one memory part; a Fetch frame whose record sets are placeholders
/// has opaque parts between memory parts.
#[derive(Debug, Clone, Default)]
pub struct ResponseFrame {
    parts: Vec<FramePart>,
}

impl ResponseFrame {
    /// A frame made of in-memory `pieces` (empty pieces are dropped).
    pub fn new(pieces: impl IntoIterator<Item = Bytes>) -> Self {
        Self::from_parts(pieces.into_iter().map(Part::Bytes))
    }

    fn from_parts(parts: impl IntoIterator<Item = Part>) -> Self {
        let mut out = Vec::new();
        let mut run: Vec<Bytes> = Vec::new();
        for part in parts {
            match part {
                Part::Bytes(b) => run.push(b),
                Part::Opaque(o) => {
                    if !run.is_empty() {
                        out.push(FramePart::Memory(Pieces::new(run.drain(..))));
                    }
                    out.push(FramePart::Opaque(o));
                }
            }
        }
        if !run.is_empty() {
            out.push(FramePart::Memory(Pieces::new(run)));
        }
        Self { parts: out }
    }

    /// Total length in bytes (size prefix included).
    pub fn len(&self) -> usize {
        self.parts
            .iter()
            .map(|p| match p {
                FramePart::Memory(m) => m.remaining(),
                FramePart::Opaque(o) => o.len,
            })
            .sum()
    }

    /// True for a frame of no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of memory pieces plus opaque parts.
    pub fn pieces(&self) -> usize {
        self.parts
            .iter()
            .map(|p| match p {
                FramePart::Memory(m) => m.pieces(),
                FramePart::Opaque(_) => 1,
            })
            .sum()
    }

    /// The parts, in the order they are written.
    pub fn into_parts(self) -> Vec<FramePart> {
        self.parts
    }

    /// The whole frame in one buffer (copies; for tests and small frames), or `None` when it
    /// has opaque parts (their bytes are not in memory).
    pub fn to_bytes(&self) -> Option<Bytes> {
        let mut all = BytesMut::with_capacity(self.len());
        for part in &self.parts {
            match part {
                FramePart::Memory(m) if self.parts.len() == 1 && m.pieces() == 1 => {
                    return Some(m.pieces[0].clone());
                }
                FramePart::Memory(m) => m.copy_into(&mut all),
                FramePart::Opaque(_) => return None,
            }
        }
        Some(all.freeze())
    }
}

impl From<Bytes> for ResponseFrame {
    fn from(frame: Bytes) -> Self {
        Self::new([frame])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::protocol::buf::ByteBufMut;
    use std::sync::Arc;

    fn big(n: usize, fill: u8) -> Bytes {
        Bytes::from(vec![fill; n])
    }

    fn memory(part: &FramePart) -> &Pieces {
        match part {
            FramePart::Memory(m) => m,
            FramePart::Opaque(o) => panic!("expected memory, found {o:?}"),
        }
    }

    #[test]
    fn large_shared_buffers_become_their_own_pieces_and_small_ones_are_copied() {
        let mut buf = SegmentedBuf::with_capacity(16);
        buf.put_slice(b"head");
        let large = big(MIN_SHARED_BYTES, 7);
        buf.put_shared_bytes(&large);
        buf.put_shared_bytes(&Bytes::from_static(b"small"));
        buf.put_slice(b"tail");
        assert_eq!(buf.len(), 4 + MIN_SHARED_BYTES + 5 + 4);
        let frame = buf.into_frame(Bytes::new()).expect("no seek back");
        assert_eq!(frame.pieces(), 3);
        let parts = frame.into_parts();
        assert_eq!(parts.len(), 1);
        let pieces = &memory(&parts[0]).pieces;
        assert_eq!(pieces[0].as_ref(), b"head");
        assert_eq!(
            pieces[1].as_ptr(),
            large.as_ptr(),
            "the large buffer is not copied"
        );
        assert_eq!(pieces[2].as_ref(), b"smalltail");
    }

    #[test]
    fn placeholders_become_opaque_parts_between_memory_parts() {
        let mut buf = SegmentedBuf::with_capacity(16);
        buf.put_slice(b"head");
        let p = placeholder::placeholder(MIN_SHARED_BYTES + 1, Arc::new(7u8)).expect("slot");
        buf.put_shared_bytes(&p);
        buf.put_slice(b"tail");
        let frame = buf
            .into_frame(Bytes::from_static(b"len:"))
            .expect("no seek back");
        assert_eq!(frame.len(), 4 + 4 + MIN_SHARED_BYTES + 1 + 4);
        assert_eq!(frame.to_bytes(), None, "opaque bytes are not in memory");
        let parts = frame.into_parts();
        assert_eq!(parts.len(), 3);
        assert_eq!(memory(&parts[0]).chunk(), b"len:");
        match &parts[1] {
            FramePart::Opaque(o) => {
                assert_eq!(o.len, MIN_SHARED_BYTES + 1);
                assert_eq!(o.payload.downcast_ref::<u8>(), Some(&7));
            }
            other => panic!("expected an opaque part, found {other:?}"),
        }
        assert_eq!(memory(&parts[2]).chunk(), b"tail");
    }

    #[test]
    fn seeking_back_across_an_opaque_part_refuses_the_frame() {
        let mut buf = SegmentedBuf::default();
        buf.put_slice(b"abcd");
        let p = placeholder::placeholder(MIN_SHARED_BYTES, Arc::new(())).expect("slot");
        buf.put_shared_bytes(&p);
        buf.range(1..3).copy_from_slice(b"XY");
        assert!(buf.into_frame(Bytes::new()).is_none());
    }

    #[test]
    fn seeking_back_across_a_piece_still_yields_the_same_bytes() {
        let mut buf = SegmentedBuf::default();
        buf.put_slice(b"abcd");
        buf.put_shared_bytes(&big(MIN_SHARED_BYTES, 1));
        buf.put_slice(b"zz");
        buf.range(1..3).copy_from_slice(b"XY");
        let end = buf.offset();
        buf.seek(end + 2);
        let all = buf
            .into_frame(Bytes::new())
            .and_then(|f| f.to_bytes())
            .expect("memory only");
        assert_eq!(&all[..4], b"aXYd");
        assert_eq!(all.len(), 4 + MIN_SHARED_BYTES + 2 + 2);
        assert_eq!(&all[all.len() - 4..], b"zz\0\0");
    }

    #[test]
    fn pieces_advance_across_buffers_and_list_them_for_a_vectored_write() {
        let mut f = Pieces::new([
            Bytes::from_static(b"ab"),
            Bytes::new(),
            Bytes::from_static(b"cde"),
            Bytes::from_static(b"f"),
        ]);
        assert_eq!((f.remaining(), f.pieces()), (6, 3));
        let mut slices = [IoSlice::new(&[]); 8];
        assert_eq!(f.chunks_vectored(&mut slices), 3);
        f.advance(3);
        assert_eq!(f.chunk(), b"de");
        assert_eq!(f.remaining(), 3);
        f.advance(3);
        assert_eq!((f.remaining(), f.pieces()), (0, 0));
        assert_eq!(f.chunk(), b"");
    }
}
