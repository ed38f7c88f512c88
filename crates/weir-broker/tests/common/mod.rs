//! Shared helpers for the in-process wire tests: an in-process server on 127.0.0.1:0 and a
//! minimal kafka-protocol client over real TCP.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use weir_broker::replica::ReplicaManager;
use weir_broker::{Broker, BrokerConfig, BrokerError};

pub struct Server {
    pub addr: SocketAddr,
    pub broker: std::sync::Arc<Broker>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), BrokerError>>,
}

impl Server {
    pub async fn start(dir: &std::path::Path) -> Server {
        Self::start_with(dir, |_| {}).await
    }

    /// Start with the default single-node config adjusted by `tweak`.
    pub async fn start_with(
        dir: &std::path::Path,
        tweak: impl FnOnce(&mut BrokerConfig),
    ) -> Server {
        let mut cfg = BrokerConfig::default_single_node();
        tweak(&mut cfg);
        cfg.log_dirs = vec![dir.to_path_buf()];
        // Port 0 everywhere: the broker must advertise the port it actually bound.
        for l in cfg
            .listeners
            .iter_mut()
            .chain(cfg.advertised_listeners.iter_mut())
        {
            l.port = 0;
        }
        let broker = Broker::open(cfg).await.expect("broker opens");
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(weir_broker::server::run_with_listeners(
            broker.clone(),
            vec![listener],
            async move {
                let _ = rx.await;
            },
        ));
        Server {
            addr,
            broker,
            stop: Some(tx),
            task,
        }
    }

    /// Poll `cond` on the replica manager until it holds (panics after 10 s).
    pub async fn wait_until(&self, what: &str, cond: impl Fn(&ReplicaManager) -> bool) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !cond(&self.broker.replicas) {
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for {what}"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    pub async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(20), self.task)
            .await
            .expect("shutdown finishes")
            .unwrap()
            .expect("clean shutdown");
    }
}

pub struct Client {
    pub stream: TcpStream,
    next_corr: i32,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Client {
        Client {
            stream: TcpStream::connect(addr).await.unwrap(),
            next_corr: 1,
        }
    }

    pub fn frame<R: Encodable>(&mut self, key: ApiKey, version: i16, req: &R) -> (i32, Bytes) {
        let corr = self.next_corr;
        self.next_corr += 1;
        let mut header = RequestHeader::default();
        header.request_api_key = key as i16;
        header.request_api_version = version;
        header.correlation_id = corr;
        header.client_id = Some(StrBytes::from_static_str("wire-test"));
        let mut body = BytesMut::new();
        header
            .encode(&mut body, key.request_header_version(version))
            .unwrap();
        req.encode(&mut body, version).unwrap();
        let mut out = BytesMut::new();
        out.put_i32(body.len() as i32);
        out.extend_from_slice(&body);
        (corr, out.freeze())
    }

    pub async fn send<R: Encodable>(&mut self, key: ApiKey, version: i16, req: &R) -> i32 {
        let (corr, bytes) = self.frame(key, version, req);
        self.stream.write_all(&bytes).await.unwrap();
        corr
    }

    /// Read one response frame; returns (correlation id, body after the header).
    pub async fn recv(&mut self, key: ApiKey, version: i16) -> (i32, Bytes) {
        let size = self.stream.read_i32().await.unwrap();
        let mut buf = vec![0u8; size as usize];
        self.stream.read_exact(&mut buf).await.unwrap();
        let mut bytes = Bytes::from(buf);
        let hv = if key == ApiKey::ApiVersions {
            0
        } else {
            key.response_header_version(version)
        };
        let header = ResponseHeader::decode(&mut bytes, hv).unwrap();
        (header.correlation_id, bytes)
    }

    pub async fn call<R: Encodable, S: Decodable>(
        &mut self,
        key: ApiKey,
        version: i16,
        req: &R,
    ) -> S {
        let corr = self.send(key, version, req).await;
        let (got, mut body) = self.recv(key, version).await;
        assert_eq!(got, corr);
        S::decode(&mut body, version).unwrap()
    }

    /// True if the server closed the connection (EOF) within 5 s.
    pub async fn closed_by_server(&mut self) -> bool {
        let mut b = [0u8; 1];
        matches!(
            tokio::time::timeout(Duration::from_secs(5), self.stream.read(&mut b)).await,
            Ok(Ok(0)) | Ok(Err(_))
        )
    }
}

pub fn batch(values: &[&str]) -> Bytes {
    let records: Vec<Record> = values
        .iter()
        .enumerate()
        .map(|(i, v)| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // The encoder starts a new batch when offset - sequence changes; base sequence -1.
            sequence: i as i32 - 1,
            timestamp: 1_700_000_000_000 + i as i64,
            key: Some(Bytes::from(format!("k{i}"))),
            value: Some(Bytes::copy_from_slice(v.as_bytes())),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &records,
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .unwrap();
    buf.freeze()
}

pub fn values(records: &Bytes) -> Vec<(i64, String)> {
    let mut buf = records.clone();
    let mut out = Vec::new();
    while buf.has_remaining() {
        let set = RecordBatchDecoder::decode(&mut buf).unwrap();
        for r in set.records {
            let v = r.value.map(|v| String::from_utf8(v.to_vec()).unwrap());
            out.push((r.offset, v.unwrap_or_default()));
        }
    }
    out
}

pub fn topic_name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_string()))
}

pub async fn metadata(c: &mut Client, topic: &str) -> MetadataResponse {
    let mut t = MetadataRequestTopic::default();
    t.name = Some(topic_name(topic));
    let mut req = MetadataRequest::default();
    req.topics = Some(vec![t]);
    req.allow_auto_topic_creation = true;
    c.call(ApiKey::Metadata, 12, &req).await
}

pub fn produce_req(topic: &str, partition: i32, acks: i16, records: Bytes) -> ProduceRequest {
    let mut p = PartitionProduceData::default();
    p.index = partition;
    p.records = Some(records);
    let mut t = TopicProduceData::default();
    t.name = topic_name(topic);
    t.partition_data = vec![p];
    let mut req = ProduceRequest::default();
    req.acks = acks;
    req.timeout_ms = 30_000;
    req.topic_data = vec![t];
    req
}

pub async fn produce(c: &mut Client, topic: &str, acks: i16, records: Bytes) -> (i16, i64) {
    let resp: ProduceResponse = c
        .call(ApiKey::Produce, 9, &produce_req(topic, 0, acks, records))
        .await;
    let p = &resp.responses[0].partition_responses[0];
    if p.error_code != 0 {
        eprintln!("produce error {}: {:?}", p.error_code, p.error_message);
    }
    (p.error_code, p.base_offset)
}

pub fn fetch_req(topic: &str, offset: i64, max_wait_ms: i32, session: (i32, i32)) -> FetchRequest {
    let mut p = FetchPartition::default();
    p.partition = 0;
    p.fetch_offset = offset;
    p.partition_max_bytes = 1 << 20;
    p.current_leader_epoch = -1;
    let mut t = FetchTopic::default();
    t.topic = topic_name(topic);
    t.partitions = vec![p];
    let mut req = FetchRequest::default();
    req.replica_id = (-1).into();
    req.max_wait_ms = max_wait_ms;
    req.min_bytes = 1;
    req.max_bytes = 50 << 20;
    req.session_id = session.0;
    req.session_epoch = session.1;
    req.topics = vec![t];
    req
}
