//! What carries the controller listener's bytes: plain TCP, or a wrapper the broker supplies
//! (TLS, and/or a Kafka SASL exchange before the first Raft frame, as the CONTROLLER listener's
//! security protocol says). The Raft RPCs that follow are Weir's own frames.

use std::future::Future;
use std::pin::Pin;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// A controller connection's byte stream.
pub trait RaftIo: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> RaftIo for T {}

/// A boxed controller connection.
pub type RaftStream = Box<dyn RaftIo>;

/// A future of a secured stream.
pub type Secured<'a> = Pin<Box<dyn Future<Output = std::io::Result<RaftStream>> + Send + 'a>>;

/// Secures controller connections: the server side of accepted ones, the client side of
/// outgoing ones (to `addr`, `host:port`). An `Err` drops that connection only.
pub trait RaftTransport: std::fmt::Debug + Send + Sync {
    /// Server side of an accepted connection.
    fn accept(&self, tcp: TcpStream) -> Secured<'_>;
    /// Client side of a connection to `addr`.
    fn connect<'a>(&'a self, tcp: TcpStream, addr: &'a str) -> Secured<'a>;
}

/// Plain TCP.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlainTransport;

impl RaftTransport for PlainTransport {
    fn accept(&self, tcp: TcpStream) -> Secured<'_> {
        Box::pin(async move { Ok(Box::new(tcp) as RaftStream) })
    }
    fn connect<'a>(&'a self, tcp: TcpStream, _addr: &'a str) -> Secured<'a> {
        Box::pin(async move { Ok(Box::new(tcp) as RaftStream) })
    }
}
