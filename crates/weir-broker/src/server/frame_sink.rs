//! Writing response frames: in-memory parts with vectored writes, and record sets that stand in
//! the frame as placeholders (zero-copy fetch) straight from their segment file with
//! `sendfile` on a plaintext TCP socket — the bytes go from the page cache to the socket without
//! passing through user space. Where files cannot be sent (TLS), they are read and written.

use std::io;
use std::os::fd::AsRawFd;

use tokio::io::{AsyncWrite, AsyncWriteExt, Interest};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use weir_log::FileSlice;
use weir_protocol::segmented::{FramePart, OpaquePart, ResponseFrame};

/// Where a connection writes its responses.
pub trait FrameSink: AsyncWrite + Unpin + Send {
    /// The plaintext TCP socket under this writer, if there is one: then record sets are sent
    /// from their files with `sendfile`.
    fn tcp(&self) -> Option<&TcpStream> {
        None
    }
}

impl FrameSink for OwnedWriteHalf {
    fn tcp(&self) -> Option<&TcpStream> {
        Some(self.as_ref())
    }
}

impl<T: AsyncWrite + Send> FrameSink for tokio::io::WriteHalf<T> {}

impl FrameSink for tokio::io::DuplexStream {}

/// Write `frame` whole. An opaque part must carry the [`FileSlice`] the Fetch handler gave its
/// placeholder; a file shorter than its slice (truncated meanwhile) is an error, after which
/// the connection must close (the frame cannot be completed).
pub async fn write_frame<W: FrameSink>(out: &mut W, frame: ResponseFrame) -> io::Result<()> {
    for part in frame.into_parts() {
        match part {
            FramePart::Memory(mut m) => out.write_all_buf(&mut m).await?,
            FramePart::Opaque(o) => {
                let slice = file_slice(&o)?;
                match out.tcp() {
                    Some(tcp) => send_file(tcp, slice).await?,
                    None => {
                        let mut bytes = slice.to_bytes().map_err(io::Error::other)?;
                        out.write_all_buf(&mut bytes).await?;
                    }
                }
            }
        }
    }
    Ok(())
}

fn file_slice(part: &OpaquePart) -> io::Result<&FileSlice> {
    match part.payload.downcast_ref::<FileSlice>() {
        Some(slice) if slice.len == part.len => Ok(slice),
        Some(slice) => Err(io::Error::other(format!(
            "a record set of {} bytes stands for {} bytes of its file",
            part.len, slice.len
        ))),
        None => Err(io::Error::other(
            "an opaque frame part without a file region",
        )),
    }
}

/// Send `slice` from its file to `tcp` with `sendfile`, waiting for the socket whenever it is
/// full.
async fn send_file(tcp: &TcpStream, slice: &FileSlice) -> io::Result<()> {
    let mut offset = libc::off_t::try_from(slice.position)
        .map_err(|_| io::Error::other("file position beyond off_t"))?;
    let mut left = slice.len;
    let (out_fd, in_fd) = (tcp.as_raw_fd(), slice.file.as_raw_fd());
    while left > 0 {
        tcp.writable().await?;
        let sent = tcp.try_io(Interest::WRITABLE, || {
            // SAFETY: both descriptors stay open for the call (the socket is borrowed, the file
            // is held by the slice's Arc); `offset` is a valid local the kernel updates.
            let n = unsafe { libc::sendfile(out_fd, in_fd, &mut offset, left) };
            usize::try_from(n).map_err(|_| io::Error::last_os_error())
        });
        match sent {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the segment file ends before the record set (truncated meanwhile)",
                ))
            }
            Ok(n) => left -= n.min(left),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::Arc;

    use bytes::{BufMut, Bytes};
    use kafka_protocol::protocol::buf::ByteBufMut;
    use tokio::io::AsyncReadExt;
    use tokio::net::{TcpListener, TcpStream};
    use weir_protocol::placeholder::placeholder;
    use weir_protocol::segmented::{SegmentedBuf, MIN_SHARED_BYTES};

    use super::*;

    /// A file of `len` patterned bytes and a frame "head" + [file bytes 10..len] + "tail".
    fn file_and_frame(len: usize) -> (tempfile::NamedTempFile, Vec<u8>, ResponseFrame) {
        let content: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(&content).unwrap();
        f.flush().unwrap();
        let slice = FileSlice {
            file: Arc::new(f.reopen().unwrap()),
            position: 10,
            len: len - 10,
        };
        let mut buf = SegmentedBuf::with_capacity(16);
        buf.put_slice(b"head");
        buf.put_shared_bytes(&placeholder(len - 10, Arc::new(slice)).expect("a slot"));
        buf.put_slice(b"tail");
        let frame = buf.into_frame(Bytes::new()).expect("no seek back");
        let mut expected = b"head".to_vec();
        expected.extend_from_slice(&content[10..]);
        expected.extend_from_slice(b"tail");
        (f, expected, frame)
    }

    async fn tcp_pair() -> (TcpStream, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (server, _) = l.accept().await.unwrap();
        (client, server)
    }

    #[tokio::test]
    async fn a_file_part_is_sent_byte_for_byte_over_tcp() {
        let len = MIN_SHARED_BYTES * 40 + 5; // larger than a socket buffer: sendfile blocks
        let (_file, expected, frame) = file_and_frame(len);
        let (mut client, server) = tcp_pair().await;
        let (_r, mut w) = server.into_split();
        assert!(w.tcp().is_some());
        let reader = tokio::spawn(async move {
            let mut got = vec![0u8; expected.len()];
            client.read_exact(&mut got).await.unwrap();
            (got, expected)
        });
        write_frame(&mut w, frame).await.unwrap();
        let (got, expected) = reader.await.unwrap();
        assert!(got == expected, "the bytes sent differ from the file's");
    }

    #[tokio::test]
    async fn without_a_socket_the_file_part_is_read_and_written() {
        let (_file, expected, frame) = file_and_frame(MIN_SHARED_BYTES + 100);
        let (mut client, mut server) = tokio::io::duplex(1 << 20);
        assert!(server.tcp().is_none());
        write_frame(&mut server, frame).await.unwrap();
        drop(server);
        let mut got = Vec::new();
        client.read_to_end(&mut got).await.unwrap();
        assert!(got == expected);
    }

    #[tokio::test]
    async fn a_file_truncated_before_sending_is_an_error_not_a_short_frame() {
        let (file, _expected, frame) = file_and_frame(MIN_SHARED_BYTES * 2);
        file.as_file().set_len(100).unwrap();
        let (_client, server) = tcp_pair().await;
        let (_r, mut w) = server.into_split();
        let err = write_frame(&mut w, frame).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof, "{err}");
    }
}
