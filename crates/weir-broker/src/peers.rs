//! Requests from this broker to other brokers as a Kafka client (transaction markers to partition
//! leaders, KIP-890 verification at transaction coordinators): one connection per peer on its
//! `inter.broker.listener.name` endpoint (TLS / SASL through `BrokerConnector`), reused, one request at a time per peer, with a deadline. A failed
//! exchange drops the connection (the next request reconnects).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kafka_protocol::messages::ApiKey;
use kafka_protocol::protocol::{Decodable, Encodable};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use weir_meta::image::BrokerInfo;
use weir_meta::records::Endpoint;

use crate::inter_broker::{BrokerConnector, BrokerStream};
use crate::metadata::view::MetadataView;

/// A broker's endpoint on the inter-broker `listener`: the registered endpoint of that name,
/// else its first (brokers registered before endpoints were named per listener).
pub fn inter_broker_endpoint<'a>(b: &'a BrokerInfo, listener: &str) -> Option<&'a Endpoint> {
    b.listeners
        .iter()
        .find(|e| e.name.eq_ignore_ascii_case(listener))
        .or_else(|| b.listeners.first())
}

/// Largest response accepted from a peer.
const MAX_RESPONSE: usize = 64 << 20;

/// Why a request to a peer failed (nothing is known about whether it took effect).
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// The peer has no registered endpoint in the metadata image.
    #[error("broker {0} has no registered endpoint")]
    NoEndpoint(i32),
    /// Connecting, writing or reading failed.
    #[error("i/o with broker {node}: {source}")]
    Io {
        /// The peer.
        node: i32,
        /// The i/o error.
        source: std::io::Error,
    },
    /// No answer within the deadline.
    #[error("broker {0} did not answer in time")]
    Timeout(i32),
    /// The request could not be encoded or the answer decoded.
    #[error("protocol with broker {node}: {message}")]
    Protocol {
        /// The peer.
        node: i32,
        /// What went wrong.
        message: String,
    },
}

struct Conn {
    addr: String,
    stream: BrokerStream,
    correlation: i32,
}

type Slot = Arc<tokio::sync::Mutex<Option<Conn>>>;

/// Connections to the other brokers of the cluster.
pub struct PeerClient {
    view: Arc<MetadataView>,
    connector: Arc<BrokerConnector>,
    client_id: String,
    slots: Mutex<HashMap<i32, Slot>>,
}

impl std::fmt::Debug for PeerClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerClient")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl PeerClient {
    /// A client that finds peers' endpoints in `view`'s image, connects through `connector`
    /// and names itself `client_id`.
    pub fn new(
        view: Arc<MetadataView>,
        connector: Arc<BrokerConnector>,
        client_id: impl Into<String>,
    ) -> Self {
        PeerClient {
            view,
            connector,
            client_id: client_id.into(),
            slots: Mutex::default(),
        }
    }

    fn addr_of(&self, node: i32) -> Option<String> {
        let image = self.view.image();
        let b = image.brokers.get(&node)?;
        let ep = inter_broker_endpoint(b, &self.connector.listener)?;
        Some(format!("{}:{}", ep.host, ep.port))
    }

    /// Send `req` as `key` at `version` to broker `node` and decode its answer; the whole exchange
    /// (connect included) is bounded by `timeout`. Requests to one peer are serialised.
    pub async fn send<Q: Encodable, R: Decodable>(
        &self,
        node: i32,
        key: ApiKey,
        version: i16,
        req: &Q,
        timeout: Duration,
    ) -> Result<R, PeerError> {
        let addr = self.addr_of(node).ok_or(PeerError::NoEndpoint(node))?;
        let slot = self
            .slots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(node)
            .or_default()
            .clone();
        let mut guard = slot.lock().await;
        let out = tokio::time::timeout(timeout, async {
            self.exchange(node, &addr, &mut guard, key, version, req)
                .await
        })
        .await
        .unwrap_or(Err(PeerError::Timeout(node)));
        if out.is_err() {
            *guard = None;
        }
        out
    }

    async fn exchange<Q: Encodable, R: Decodable>(
        &self,
        node: i32,
        addr: &str,
        conn: &mut Option<Conn>,
        key: ApiKey,
        version: i16,
        req: &Q,
    ) -> Result<R, PeerError> {
        let io = |source| PeerError::Io { node, source };
        let protocol = |message: String| PeerError::Protocol { node, message };
        if conn.as_ref().is_none_or(|c| c.addr != addr) {
            let stream = self.connector.connect(addr).await.map_err(io)?;
            *conn = Some(Conn {
                addr: addr.to_string(),
                stream,
                correlation: 0,
            });
        }
        let Some(c) = conn.as_mut() else {
            return Err(PeerError::Timeout(node));
        };
        c.correlation = c.correlation.wrapping_add(1);
        let frame = weir_protocol::client::encode_request(
            key,
            version,
            c.correlation,
            &self.client_id,
            req,
        )
        .map_err(|e| protocol(e.to_string()))?;
        c.stream.write_all(&frame).await.map_err(io)?;
        let mut prefix = [0u8; 4];
        c.stream.read_exact(&mut prefix).await.map_err(io)?;
        let len = i32::from_be_bytes(prefix);
        let len = usize::try_from(len)
            .ok()
            .filter(|&l| l <= MAX_RESPONSE)
            .ok_or_else(|| protocol(format!("response size {len} out of bounds")))?;
        let mut buf = vec![0u8; len];
        c.stream.read_exact(&mut buf).await.map_err(io)?;
        weir_protocol::client::decode_response(key, version, c.correlation, buf.into())
            .map_err(|e| protocol(e.to_string()))
    }
}
