//! A bare Kafka connection for the load generators that bypass client libraries
//! (`perf fetch`, `perf produce-raw`): plain TCP to one broker, the versions both sides speak
//! (ApiVersions v0), requests sent back to back and answers read in order.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, ApiVersionsResponse};
use kafka_protocol::protocol::Encodable;
use rdkafka::consumer::{BaseConsumer, Consumer};

use super::common::{self, CommonArgs};
use crate::cli::admin::client_error;

/// One connection to a broker.
pub struct Session {
    stream: TcpStream,
    correlation: i32,
    /// The broker's (min, max) version of each API key it listed.
    versions: BTreeMap<i16, (i16, i16)>,
    addr: String,
}

impl Session {
    /// Connect to `addr` (`host:port`) and read the broker's API versions.
    pub fn connect(addr: &str) -> Result<Session, String> {
        let sock = addr
            .to_socket_addrs()
            .map_err(|e| format!("{addr}: {e}"))?
            .next()
            .ok_or_else(|| format!("{addr}: no address"))?;
        let stream = TcpStream::connect_timeout(&sock, Duration::from_secs(10))
            .map_err(|e| format!("connect {addr}: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .map_err(|e| e.to_string())?;
        let mut s = Session {
            stream,
            correlation: 0,
            versions: BTreeMap::new(),
            addr: addr.to_string(),
        };
        let (corr, frame) = s.exchange(ApiKey::ApiVersions, 0, &ApiVersionsRequest::default())?;
        let av: ApiVersionsResponse =
            weir_protocol::client::decode_response(ApiKey::ApiVersions, 0, corr, frame)
                .map_err(|e| format!("ApiVersions from {addr}: {e}"))?;
        s.versions = av
            .api_keys
            .iter()
            .map(|k| (k.api_key, (k.min_version, k.max_version)))
            .collect();
        Ok(s)
    }

    /// A second handle on the same connection (e.g. one thread sends, another reads the answers
    /// in order); each handle counts its own correlation ids.
    pub fn try_clone(&self) -> Result<Session, String> {
        Ok(Session {
            stream: self.stream.try_clone().map_err(|e| e.to_string())?,
            correlation: self.correlation,
            versions: self.versions.clone(),
            addr: self.addr.clone(),
        })
    }

    /// The highest version of `key` both sides speak, at most `max` and at least `min`.
    pub fn version(&self, key: ApiKey, min: i16, max: i16) -> Result<i16, String> {
        let (lo, hi) = *self
            .versions
            .get(&(key as i16))
            .ok_or_else(|| format!("{} does not list {key:?}", self.addr))?;
        let v = hi.min(max);
        if v < min || v < lo {
            return Err(format!(
                "{} speaks {key:?} v{lo}–v{hi}; need v{min}–v{max}",
                self.addr
            ));
        }
        Ok(v)
    }

    /// Send one request; returns its correlation id (answers come back in order).
    pub fn send<Q: Encodable>(
        &mut self,
        key: ApiKey,
        version: i16,
        req: &Q,
    ) -> Result<i32, String> {
        self.correlation += 1;
        let frame =
            weir_protocol::client::encode_request(key, version, self.correlation, "weir-perf", req)
                .map_err(|e| e.to_string())?;
        self.stream
            .write_all(&frame)
            .map_err(|e| format!("send {key:?} to {}: {e}", self.addr))?;
        Ok(self.correlation)
    }

    /// Read the next answer's frame (without the size prefix).
    pub fn receive(&mut self) -> Result<Bytes, String> {
        let mut prefix = [0u8; 4];
        self.stream
            .read_exact(&mut prefix)
            .map_err(|e| format!("read from {}: {e}", self.addr))?;
        let len = weir_protocol::frame::frame_length(prefix, 1 << 30).map_err(|e| e.to_string())?;
        let mut buf = vec![0u8; len];
        self.stream
            .read_exact(&mut buf)
            .map_err(|e| format!("read from {}: {e}", self.addr))?;
        Ok(Bytes::from(buf))
    }

    /// Send one request and read its answer: (correlation id, frame).
    pub fn exchange<Q: Encodable>(
        &mut self,
        key: ApiKey,
        version: i16,
        req: &Q,
    ) -> Result<(i32, Bytes), String> {
        let corr = self.send(key, version, req)?;
        Ok((corr, self.receive()?))
    }
}

/// Partitions of `c.topic` grouped by their leader's `host:port`.
pub fn leaders(c: &CommonArgs) -> Result<BTreeMap<String, Vec<i32>>, String> {
    let client: BaseConsumer = common::client_config(&c.bootstrap, &[], &[])?
        .create()
        .map_err(|e| client_error("create client", e))?;
    common::check_reachable(client.client(), c)?;
    let md = client
        .fetch_metadata(Some(&c.topic), Duration::from_secs(c.connect_timeout_secs))
        .map_err(|e| client_error("metadata", e))?;
    let brokers: BTreeMap<i32, String> = md
        .brokers()
        .iter()
        .map(|b| (b.id(), format!("{}:{}", b.host(), b.port())))
        .collect();
    let topic = md
        .topics()
        .iter()
        .find(|t| t.name() == c.topic)
        .filter(|t| !t.partitions().is_empty())
        .ok_or_else(|| format!("topic {} is not in the broker's metadata", c.topic))?;
    let mut by_leader: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    for p in topic.partitions() {
        let addr = brokers
            .get(&p.leader())
            .ok_or_else(|| format!("partition {} has no live leader", p.id()))?;
        by_leader.entry(addr.clone()).or_default().push(p.id());
    }
    Ok(by_leader)
}
