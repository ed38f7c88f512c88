//! One client connection: framing, decoding, pipelining, in-order responses, idle timeout.
//!
//! The reader reads a 4-byte size, checks it against `socket.request.max.bytes` BEFORE
//! allocating anything, reads the frame, decodes it and runs it through
//! [`api::dispatch_ordered`] in arrival order. The returned future (for a produce: the
//! wait for fsync) runs on its own task, and its oneshot receiver goes into a bounded queue
//! ([`MAX_IN_FLIGHT`]) that the writer task drains strictly in request order. So several
//! requests are in flight per connection and responses leave in request order.
//!
//! Decode errors follow Kafka: an unsupported ApiVersions version is answered with an
//! ApiVersions v0 response carrying UNSUPPORTED_VERSION (35) and the supported ranges; any other
//! malformed, unknown or unsupported request closes the connection with a `warn!` naming the
//! peer and the reason. A produce with `acks=0` gets no response; if it failed, the connection
//! is closed instead (as Kafka does, so the producer notices).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::messages::{ApiKey, RequestKind, ResponseKind};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{debug, warn};
use weir_protocol::request::{decode_request, RequestError};
use weir_protocol::segmented::ResponseFrame;

use super::frame_sink::{write_frame, FrameSink};
use super::stop::stopped;
use crate::api::{self, Principal, RequestContext};
use crate::broker::Broker;
use crate::metrics::stages::ResponseClock;
use crate::security::{tls, ConnectionSecurity, Gate, ListenerSecurityRuntime};

/// Requests whose responses may be outstanding at once on one connection.
pub const MAX_IN_FLIGHT: usize = 16;

/// What the writer does for one request, in request order.
#[derive(Debug)]
pub enum Outgoing {
    /// Write this complete frame (size prefix included; record sets may be separate pieces,
    /// written with one vectored write).
    Frame(ResponseFrame),
    /// A dispatched request's response frame, with its clock: the writer records its response
    /// queue, send and total times (`crate::metrics::stages`).
    Response(ResponseFrame, ResponseClock),
    /// Nothing to send (produce with acks=0).
    Nothing,
    /// Write nothing more and close the connection, logging the reason.
    Close(String),
}

/// Limits applied to one connection, and the listener it arrived on.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// The listener's name (`PLAINTEXT`), for the request context.
    pub listener: String,
    /// The listener's TLS and SASL (see [`crate::security`]).
    pub security: Arc<ListenerSecurityRuntime>,
    /// `socket.request.max.bytes`: larger frames close the connection before allocation.
    pub max_request_bytes: usize,
    /// `connections.max.idle.ms`: no new request for this long closes the connection.
    pub idle_timeout: Duration,
}

/// Serve one accepted socket until the peer closes it, it idles out, a request is malformed,
/// or `shutdown` becomes true (then in-flight requests still finish and are answered). On TLS
/// listeners the handshake comes first; a failed one is logged with the peer and closes.
pub async fn serve(
    broker: Arc<Broker>,
    stream: TcpStream,
    peer: SocketAddr,
    limits: ConnectionLimits,
    shutdown: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let sasl = limits.security.sasl.clone();
    match limits.security.tls.clone() {
        None => {
            let (r, w) = stream.into_split();
            let security = ConnectionSecurity::new(peer, sasl, Principal::anonymous());
            serve_stream(broker, r, w, peer, security, limits, shutdown).await
        }
        Some(acceptor) => {
            let tls = match tls::handshake(&acceptor, stream, limits.idle_timeout).await {
                Ok(tls) => tls,
                Err(reason) => {
                    warn!(%peer, listener = %limits.listener, %reason, "closing connection");
                    return;
                }
            };
            let principal = match tls::peer_principal(
                &tls,
                &limits.security.principal_mapping_rules,
            ) {
                Ok(p) => {
                    debug!(%peer, principal = %format!("{}:{}", p.kind, p.name), "TLS connection authenticated");
                    p
                }
                Err(reason) => {
                    warn!(%peer, listener = %limits.listener, %reason, "closing connection");
                    return;
                }
            };
            let (r, w) = tokio::io::split(tls);
            let security = ConnectionSecurity::new(peer, sasl, principal);
            serve_stream(broker, r, w, peer, security, limits, shutdown).await
        }
    }
}

async fn serve_stream<R, W>(
    broker: Arc<Broker>,
    read_half: R,
    write_half: W,
    peer: SocketAddr,
    mut security: ConnectionSecurity,
    limits: ConnectionLimits,
    mut shutdown: watch::Receiver<bool>,
) where
    R: AsyncRead + Unpin + Send + 'static,
    W: FrameSink + 'static,
{
    let send_files = write_half.tcp().is_some();
    let _counted = crate::metrics::ConnectionGuard::open();
    let connection_id = NEXT_CONNECTION_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut reader = BufReader::with_capacity(64 * 1024, read_half);
    let (queue_tx, queue_rx) = mpsc::channel::<oneshot::Receiver<Outgoing>>(MAX_IN_FLIGHT);
    let (closed_tx, mut closed_rx) = watch::channel(false);
    let writer = tokio::spawn(async move {
        write_in_order(queue_rx, write_half, peer).await;
        let _ = closed_tx.send(true);
    });

    loop {
        // A throttled client (quota exceeded): read nothing more until its throttle time ends.
        tokio::select! {
            biased;
            _ = stopped(&mut shutdown) => break,
            _ = broker.quotas.wait_unmuted(connection_id) => {}
        }
        let frame = tokio::select! {
            biased;
            _ = stopped(&mut shutdown) => {
                debug!(%peer, "broker shutting down: no more requests read");
                break;
            }
            _ = stopped(&mut closed_rx) => break,
            r = tokio::time::timeout(limits.idle_timeout, read_frame(&mut reader, limits.max_request_bytes)) => r,
        };
        let frame = match frame {
            Err(_) => {
                debug!(%peer, idle_ms = limits.idle_timeout.as_millis() as u64, "closing idle connection (connections.max.idle.ms)");
                break;
            }
            Ok(Ok(Some(f))) => f,
            Ok(Ok(None)) => {
                debug!(%peer, "peer closed the connection");
                break;
            }
            Ok(Err(reason)) => {
                warn!(%peer, %reason, "closing connection");
                break;
            }
        };
        let received = Instant::now();
        let outgoing = match decode_request(frame) {
            Ok(req) => {
                let correlation_id = req.header.correlation_id;
                let api_key = req.api_key;
                let version = req.api_version;
                let acks0 = matches!(&req.body, RequestKind::Produce(p) if p.acks == 0);
                let (body, principal) = match security.gate(api_key, version, req.body) {
                    Gate::Serve(body, principal) => (body, principal),
                    Gate::Answer(resp, close) => {
                        let out = encode(correlation_id, api_key, version, &resp);
                        if queue_tx.send(ready(out)).await.is_err() {
                            break;
                        }
                        match close {
                            None => continue,
                            Some(reason) => {
                                let _ = queue_tx.send(ready(Outgoing::Close(reason))).await;
                                break;
                            }
                        }
                    }
                    Gate::Close(reason) => {
                        let _ = queue_tx.send(ready(Outgoing::Close(reason))).await;
                        break;
                    }
                };
                let ctx = RequestContext {
                    header: req.header,
                    api_version: version,
                    client_addr: peer,
                    listener: limits.listener.clone(),
                    principal,
                    connection_id,
                    send_files,
                    received,
                };
                let pending = api::dispatch_ordered(&broker, ctx, body).await;
                let (tx, rx) = oneshot::channel();
                if queue_tx.send(rx).await.is_err() {
                    break;
                }
                tokio::spawn(async move {
                    let answer = pending.await;
                    let clock = ResponseClock::ready(api_key as i16, received);
                    let out = match answer {
                        Ok(resp) if acks0 => acks0_outcome(&resp),
                        Ok(resp) => match encode(correlation_id, api_key, version, &resp) {
                            Outgoing::Frame(frame) => Outgoing::Response(frame, clock),
                            other => other,
                        },
                        Err(e) => {
                            Outgoing::Close(format!("request {api_key:?} v{version} failed: {e}"))
                        }
                    };
                    if !matches!(out, Outgoing::Response(..)) {
                        clock.unsent();
                    }
                    let _ = tx.send(out);
                });
                continue;
            }
            Err(RequestError::UnsupportedVersion {
                api_key: ApiKey::ApiVersions,
                api_version,
                correlation_id,
            }) => {
                debug!(%peer, api_version, "unsupported ApiVersions version: answering v0 with UNSUPPORTED_VERSION");
                let resp =
                    ResponseKind::ApiVersions(weir_protocol::versions::api_versions_response(
                        kafka_protocol::error::ResponseError::UnsupportedVersion.code(),
                    ));
                encode(correlation_id, ApiKey::ApiVersions, 0, &resp)
            }
            Err(e) => Outgoing::Close(format!("bad request: {e}")),
        };
        let close = matches!(outgoing, Outgoing::Close(_));
        if queue_tx.send(ready(outgoing)).await.is_err() || close {
            break;
        }
    }
    drop(queue_tx);
    let _ = writer.await;
    broker.quotas.connection_closed(connection_id);
    // As Kafka's share session cache: a share session dies with the connection that opened it,
    // and its member's acquired records are released for others at once (not at lock expiry).
    // Not while the broker stops: acquisitions are not persisted, so a restart frees them anyway.
    if !*shutdown.borrow() {
        broker.share.connection_closed(connection_id).await;
    }
}

/// Ids of connections, unique within the process.
static NEXT_CONNECTION_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// A receiver that already holds `out`.
fn ready(out: Outgoing) -> oneshot::Receiver<Outgoing> {
    let (tx, rx) = oneshot::channel();
    let _ = tx.send(out);
    rx
}

fn encode(correlation_id: i32, api_key: ApiKey, version: i16, resp: &ResponseKind) -> Outgoing {
    match weir_protocol::response::encode_response_frame(correlation_id, api_key, version, resp) {
        Ok(frame) => Outgoing::Frame(frame),
        Err(e) => Outgoing::Close(format!(
            "encoding {api_key:?} v{version} response failed: {e}"
        )),
    }
}

/// acks=0: nothing is sent; a failed partition closes the connection, as Kafka does.
fn acks0_outcome(resp: &ResponseKind) -> Outgoing {
    let failed = match resp {
        ResponseKind::Produce(p) => p
            .responses
            .iter()
            .flat_map(|t| t.partition_responses.iter())
            .find(|p| p.error_code != 0)
            .map(|p| p.error_code),
        _ => None,
    };
    match failed {
        Some(code) => Outgoing::Close(format!("acks=0 produce failed with error code {code}")),
        None => Outgoing::Nothing,
    }
}

/// Drain the queue in order: await each request's outcome and write it. Stops at the first
/// `Close`, write error, or when the queue is closed and empty; then shuts the socket down.
pub async fn write_in_order<W: FrameSink>(
    mut queue: mpsc::Receiver<oneshot::Receiver<Outgoing>>,
    mut out: W,
    peer: SocketAddr,
) {
    while let Some(rx) = queue.recv().await {
        match rx.await {
            Ok(Outgoing::Frame(frame)) => {
                if let Err(e) = write_frame(&mut out, frame).await {
                    debug!(%peer, error = %e, "write failed; closing connection");
                    break;
                }
            }
            Ok(Outgoing::Response(frame, clock)) => {
                let started = Instant::now();
                if let Err(e) = write_frame(&mut out, frame).await {
                    debug!(%peer, error = %e, "write failed; closing connection");
                    break;
                }
                clock.sent(started);
            }
            Ok(Outgoing::Nothing) => {}
            Ok(Outgoing::Close(reason)) => {
                warn!(%peer, %reason, "closing connection");
                break;
            }
            Err(_) => {
                warn!(%peer, "request handler failed without a response; closing connection");
                break;
            }
        }
    }
    let _ = out.flush().await;
    let _ = out.shutdown().await;
}

/// Read one frame: `Ok(None)` on a clean end of stream between frames, `Err(reason)` on a bad
/// size prefix (checked before any allocation) or a truncated frame. The body buffer grows as
/// bytes arrive, so a peer that announces 100 MiB and sends nothing costs no memory.
pub async fn read_frame<R: AsyncRead + Unpin>(
    r: &mut R,
    max_bytes: usize,
) -> Result<Option<Bytes>, String> {
    let mut prefix = [0u8; 4];
    match r.read(&mut prefix[..1]).await {
        Ok(0) => return Ok(None),
        Ok(_) => {}
        Err(e) => return Err(format!("read error: {e}")),
    }
    r.read_exact(&mut prefix[1..])
        .await
        .map_err(|e| format!("truncated size prefix: {e}"))?;
    let len = weir_protocol::frame::frame_length(prefix, max_bytes)
        .map_err(|e| format!("bad frame size: {e}"))?;
    // Reserving whole frames up front (up to 1 MiB) removed the regrowth copies from the profile
    // but did not change throughput measurably, so the stricter memory bound stays.
    let mut buf = Vec::with_capacity(len.min(64 * 1024));
    let n = (&mut *r)
        .take(len as u64)
        .read_to_end(&mut buf)
        .await
        .map_err(|e| format!("read error: {e}"))?;
    if n < len {
        return Err(format!("truncated frame: {n} of {len} bytes"));
    }
    Ok(Some(Bytes::from(buf)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer() -> SocketAddr {
        "127.0.0.1:1".parse().unwrap()
    }

    #[tokio::test]
    async fn responses_leave_in_request_order_even_if_finished_out_of_order() {
        let (client, server) = tokio::io::duplex(1024);
        let (qtx, qrx) = mpsc::channel(MAX_IN_FLIGHT);
        let writer = tokio::spawn(write_in_order(qrx, server, peer()));
        let mut senders = Vec::new();
        for _ in 0..3 {
            let (tx, rx) = oneshot::channel();
            qtx.send(rx).await.unwrap();
            senders.push(tx);
        }
        // Complete in reverse order; the middle one sends nothing (acks=0).
        let s2 = senders.pop().unwrap();
        let s1 = senders.pop().unwrap();
        let s0 = senders.pop().unwrap();
        s2.send(Outgoing::Frame(Bytes::from_static(b"third").into()))
            .unwrap();
        s1.send(Outgoing::Nothing).unwrap();
        s0.send(Outgoing::Frame(Bytes::from_static(b"first").into()))
            .unwrap();
        drop(qtx);
        writer.await.unwrap();
        let mut got = Vec::new();
        let mut client = client;
        client.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"firstthird");
    }

    #[tokio::test]
    async fn close_stops_the_writer_before_later_responses() {
        let (mut client, server) = tokio::io::duplex(1024);
        let (qtx, qrx) = mpsc::channel(MAX_IN_FLIGHT);
        let writer = tokio::spawn(write_in_order(qrx, server, peer()));
        qtx.send(ready(Outgoing::Frame(Bytes::from_static(b"a").into())))
            .await
            .unwrap();
        qtx.send(ready(Outgoing::Close("test".into())))
            .await
            .unwrap();
        qtx.send(ready(Outgoing::Frame(Bytes::from_static(b"b").into())))
            .await
            .unwrap();
        writer.await.unwrap();
        let mut got = Vec::new();
        client.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"a");
    }

    #[tokio::test]
    async fn frames_are_read_and_bad_prefixes_rejected() {
        let mut ok: &[u8] = &[0, 0, 0, 3, b'x', b'y', b'z'];
        assert_eq!(
            read_frame(&mut ok, 100).await.unwrap().unwrap(),
            Bytes::from_static(b"xyz")
        );
        assert_eq!(read_frame(&mut ok, 100).await.unwrap(), None);
        let mut huge: &[u8] = &[0x7f, 0xff, 0xff, 0xff];
        assert!(read_frame(&mut huge, 100).await.is_err());
        let mut negative: &[u8] = &[0xff, 0xff, 0xff, 0xff];
        assert!(read_frame(&mut negative, 100).await.is_err());
        let mut truncated: &[u8] = &[0, 0, 0, 10, 1, 2];
        assert!(read_frame(&mut truncated, 100)
            .await
            .unwrap_err()
            .contains("truncated"));
        let mut short_prefix: &[u8] = &[0, 0];
        assert!(read_frame(&mut short_prefix, 100).await.is_err());
    }
}
